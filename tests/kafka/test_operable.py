"""DESIGN 8 on the real broker: each service's /metrics counts what was sent, its /ready flips once it is restored
and caught up, the projector's lag shows in its consumer group, `certx status` and `tail` tell an operator how the
markets stand, and each mistake only a broker can show is one line and its exit code."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from certx import logs, mistakes
from certx.replay import Replay
from certx.store import open_store
from certx.wire import events as e
from certx.wire.routing import MARKET_OF, PARTITION
from loadtest.flows import trading_day
from tests.kafka.conftest import committed_events, counts, expected_events, replay

pytestmark = pytest.mark.kafka


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def samples(port: int) -> dict[tuple, float]:
    """/metrics as {(name, sorted labels): value}."""
    _, text = get(port, "/metrics")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(found: dict[tuple, float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= set(ls))


def certx(kafka, topics, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CERTX_KAFKA_USER": kafka.username or "", "CERTX_KAFKA_PASSWORD": kafka.password or ""}
    env.pop("CERTX_KAFKA_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "certx.cli", *args, "--bootstrap", kafka.bootstrap, "--prefix",
                           topics.prefix], capture_output=True, text=True, env=env, timeout=120)


def test_metrics_count_what_was_sent_and_the_logs_are_json_lines(as_, topics, services):
    """A day through the gateway and the matcher, both serving /metrics: the counters equal what the embedded replay
    of the same lines gives (commands per market, events per market, rejections by reason), the lag ends at 0, and
    every line either service logged is a JSON object."""
    gateway = services("gateway", "--metrics-port", "0")
    gateway.wait_ready()
    matcher = services("matcher", "--snapshot-every", "500", "--metrics-port", "0")
    matcher.wait_ready()
    lines = trading_day(2_000, seed=31)
    replay(as_("operator"), topics, lines)
    want = expected_events(lines)
    assert asyncio.run(committed_events(as_("operator"), topics, counts(want))) == want
    refusals = Counter((ev.market, ev.reason) for ev in Replay().run(lines)
                       if isinstance(ev, (e.OrderRejected, e.CommandRejected)))
    commands = asyncio.run(command_counts(as_("operator"), topics))

    m, g = matcher.http_port(), gateway.http_port()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = samples(m)
        if total(found, "certx_events_total") == sum(map(len, want.values())) and \
                total(found, "certx_consumer_lag", service="matcher") == 0:
            break
        time.sleep(0.5)
    for p, market in MARKET_OF.items():
        assert total(found, "certx_events_total", market=market) == len(want[p]), market
        assert total(found, "certx_commands_total", service="matcher", market=market) == commands[p], market
    for (market, reason), n in refusals.items():
        assert total(found, "certx_rejections_total", market=market, reason=reason) == n, (market, reason)
    assert total(found, "certx_rejections_total") == sum(refusals.values())
    assert total(found, "certx_transaction_seconds_count", service="matcher") > 0
    assert total(found, "certx_transaction_commit_seconds_count", service="matcher") > 0
    assert total(found, "certx_batch_records_sum", service="matcher") == sum(commands.values())
    assert total(found, "certx_snapshot_bytes") > 0 and ("certx_snapshot_age_seconds", (("market", "CEA"),)) in found
    gateway_found = samples(g)
    for p, market in MARKET_OF.items():
        assert total(gateway_found, "certx_commands_total", service="gateway", market=market) == commands[p]
    assert total(gateway_found, "certx_dead_letters_total") == 0
    assert get(m, "/ready")[0] == 200 and get(m, "/live")[0] == 200 and get(g, "/ready")[0] == 200
    for service in (gateway, matcher):
        for line in service.text().splitlines():
            assert line.startswith("{") and "\x1b" not in line, line
            json.loads(line)


async def command_counts(kafka, topics) -> dict[int, int]:
    """Commands in each partition of certx.commands (transaction markers take offsets too: count records)."""
    reader = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False, **kafka.aiokafka())
    await reader.start()
    got = {p: 0 for p in MARKET_OF}
    try:
        tps = [TopicPartition(topics.commands, p) for p in MARKET_OF]
        ends = await reader.end_offsets(tps)
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        while any([await reader.position(tp) < ends[tp] for tp in tps]):
            for tp, records in (await reader.getmany(timeout_ms=500)).items():
                got[tp.partition] += len(records)
    finally:
        await reader.stop()
    return got


def test_readiness_flips_once_the_matcher_is_restored(as_, topics, gateway, services, matchers):
    """A matcher that must replay the log on assignment (no snapshot) answers /ready 503 until it is restored and
    caught up, then 200; /live is 200 all along."""
    lines = trading_day(6_000, seed=37)
    first = matchers(snapshot_every=10**9)
    replay(as_("operator"), topics, lines)
    want = expected_events(lines)
    asyncio.run(committed_events(as_("operator"), topics, counts(want)))
    first.stop()
    second = services("matcher", "--snapshot-every", str(10**9), "--metrics-port", "0")
    port = second.http_port()
    answers = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, _ = get(port, "/ready")
        restored = second.last("matcher.assigned") is not None
        answers.append((status, restored))
        assert get(port, "/live")[0] == 200
        if status == 200:
            break
        time.sleep(0.02)
    assert answers[0][0] == 503, "not ready before it is restored"
    assert answers[-1] == (200, True), "ready once restored"
    assert all(restored for status, restored in answers if status == 200)
    replayed = [entry["replayed"] for entry in logs.read(second.text()) if entry.get("event") == "matcher.restored"]
    assert sum(replayed) > 0, "the restore replayed the log"


def test_the_projector_commits_its_offsets_to_its_group_too(as_, topics, gateway, matchers, projectors, pg_dsn):
    """The database holds the truth; the group `certx-projector` gets the same offsets, so Kafka's tools show the
    projector's lag."""
    lines = trading_day(1_500, seed=41)
    matchers()
    projector = projectors(pg_dsn)
    projector.wait_ready()
    replay(as_("operator"), topics, lines)
    want = counts(expected_events(lines))

    async def group_offsets() -> dict[int, int | None]:
        reader = AIOKafkaConsumer(group_id=topics.group("projector"), enable_auto_commit=False,
                                  **as_("operator").aiokafka())
        await reader.start()
        try:
            return {p: await reader.committed(TopicPartition(topics.events, p)) for p in MARKET_OF}
        finally:
            await reader.stop()

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        store = open_store(pg_dsn)
        held = store.topic_offsets()
        store.close()
        committed = asyncio.run(group_offsets())
        if all(held.get(p, 0) >= 1 for p in want if want[p]) and committed == {p: held.get(p) for p in MARKET_OF}:
            break
        time.sleep(0.5)
    assert committed == {p: held.get(p) for p in MARKET_OF}


def test_status_and_tail_as_the_operator(as_, topics, gateway, matchers):
    lines = trading_day(1_000, seed=43)
    matchers(snapshot_every=300)
    operator = as_("operator")
    replay(operator, topics, lines)
    want = expected_events(lines)
    asyncio.run(committed_events(operator, topics, counts(want)))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = certx(operator, topics, "status", "--json")
        assert run.returncode == 0, run.stderr
        rows = {row["market"]: row for row in json.loads(run.stdout)}
        if all(row["lag"] == 0 for row in rows.values()):
            break
        time.sleep(0.5)
    cea = rows["CEA"]
    # the gateway's last commit marker is an offset the matcher has no batch to commit past: not a command
    assert cea["lag"] == 0 and 0 < cea["input_end"] - 1 <= cea["input_offset"] <= cea["input_end"]
    assert cea["session"] is not None and cea["session"].split()[0] in ("open", "closed")
    assert cea["last_event_seq"] == len(want[PARTITION["CEA"]]) - 1
    assert cea["snapshot_position"] is not None and cea["snapshot_age_s"] is not None
    table = certx(operator, topics, "status")
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:3] == ["market", "session", "input_offset"]

    for stream in ("events", "dlq"):
        run = certx(operator, topics, "tail", stream, "--limit", "8", "--json")
        assert run.returncode == 0, run.stderr
        printed = run.stdout.splitlines()
        assert len(printed) == (8 if stream == "events" else 0), printed
        assert all(json.loads(line) for line in printed)
    readable = certx(operator, topics, "tail", "events", "--limit", "3")
    assert readable.returncode == 0 and len(readable.stdout.splitlines()) == 3

    # A record on certx.events the matcher did not write (the admin's here) leaves `status` telling the rest.
    asyncio.run(forge(as_("admin"), topics.events, PARTITION["CEA"], b'{"type":"session.opened"}'))
    run = certx(operator, topics, "status", "--json")
    assert run.returncode == 0, run.stderr
    assert {row["market"]: row for row in json.loads(run.stdout)}["CEA"]["last_event_seq"] == cea["last_event_seq"]


async def forge(kafka, topic: str, partition: int, value: bytes) -> None:
    producer = AIOKafkaProducer(**kafka.aiokafka())
    await producer.start()
    try:
        await (await producer.send(topic, value, partition=partition))
    finally:
        await producer.stop()


def test_mistakes_only_a_broker_can_show(as_, topics, tmp_path):
    operator = as_("operator")
    wrong = operator.as_user("operator", "not-the-password")
    run = certx(wrong, topics, "tail", "events")
    assert run.returncode == mistakes.NotAllowed.code and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "Traceback" not in run.stderr
    for command in (["tail", "events"], ["status"]):
        run = certx(operator, topics.__class__("nope."), *command)
        assert run.returncode == mistakes.NoTopics.code, run.stderr
        assert run.stderr.strip().splitlines() == [run.stderr.strip()] and "--prefix" in run.stderr
    serve = certx(as_("matcher"), topics.__class__("nope."), "serve", "matcher")
    assert serve.returncode == mistakes.NoTopics.code, serve.stderr
    assert len(serve.stderr.strip().splitlines()) == 1 and "nope.certx.commands" in serve.stderr
    # `certx status` as a broker: Kafka hides the command log from it, which is no prefix's fault. The line said
    # only "a wrong --prefix, or the deployment not set up", neither of which the operator could mend.
    run = certx(as_("broker-a"), topics, "status")
    assert run.returncode == mistakes.NoTopics.code and "'broker-a' has no right" in run.stderr, run.stderr


def test_the_set_up_run_again_aligns_the_configs_of_topics_an_earlier_release_made(broker, principals, as_, topics):
    """An upgrade may change how a topic must be kept; the topics of a running deployment were made by the release
    before. The set-up, run again, sets certx's configs on the topics that exist (here an inbound topic that dates
    its records by the sender's clock and deletes them after a second, as an earlier release or a hand might have
    made it) and leaves the operator's own settings alone."""
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

    from certx.kafka import access

    admin = AdminClient(as_("admin").librdkafka())
    inbound = topics.inbound("B1")

    def configs() -> dict[str, str]:
        ((_, future),) = admin.describe_configs([ConfigResource("topic", inbound)]).items()
        return {k: entry.value for k, entry in future.result(timeout=30).items()}

    earlier = {"message.timestamp.type": "CreateTime", "retention.ms": "1000", "min.cleanable.dirty.ratio": "0.3"}
    ((_, future),) = admin.incremental_alter_configs([ConfigResource("topic", inbound, incremental_configs=[
        ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in earlier.items()])]).items()
    future.result(timeout=30)
    assert {k: configs()[k] for k in earlier} == earlier
    access.set_up(broker, principals, topics)
    now = configs()
    assert (now["message.timestamp.type"], now["retention.ms"], now["min.cleanable.dirty.ratio"]) == \
        ("LogAppendTime", "-1", "0.3")


def test_submit_draws_its_progress_bar_on_a_terminal_only(as_, topics, tmp_path):
    """README: `replay` and `submit` show a progress bar on a terminal. `submit` drew it wherever stderr went: a
    log file or a pipe got carriage returns and block characters, where replay's went to a terminal only."""
    path = tmp_path / "day.jsonl"
    path.write_bytes(b'{"type":"session.open","id":"op-1","market":"CEA","date":"2021-12-16",'
                     b'"at":"2021-12-16T09:00:00+08:00","actor":"operator"}\n')
    run = certx(as_("operator"), topics, "submit", str(path), "--replay")
    assert run.returncode == 0, run.stderr
    assert "\r" not in run.stderr and "cmd/s" not in run.stderr, run.stderr
