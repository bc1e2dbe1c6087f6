"""The matcher on the real broker, behind the gateway (DESIGN 2–4): the events equal the embedded replay byte for
byte, instances share the partitions, kill -9 loses and duplicates nothing, transaction markers never stall a
market, and a real gap in the command log stops it rather than skip commands."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import threading
import time
import urllib.error
import urllib.request

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from certx.kafka.submit import submit
from certx.replay import Replay
from certx.rules import Rules
from certx.wire.codec import decode_event
from certx.wire.routing import PARTITION
from loadtest.flows import trading_day
from tests.kafka.conftest import committed_events, counts, expected_events, replay

pytestmark = pytest.mark.kafka


def test_commands_in_events_out_equal_the_embedded_replay(as_, topics, gateway, matchers):
    """U3 on the real stack: the same commands give the same events, origins and all, although the gateway's
    transaction markers take offsets between the commands in `certx.commands`."""
    lines = trading_day(3_000, seed=11)
    replay(as_("operator"), topics, lines)
    matchers().wait_assigned()
    want = expected_events(lines)
    got = asyncio.run(committed_events(as_("operator"), topics, counts(want)))
    for p in want:
        assert got[p] == want[p], f"partition {p}: events differ from certx replay"


def test_two_matcher_instances_split_the_partitions(as_, topics, gateway, matchers):
    first = matchers()
    first.wait_assigned()
    second = matchers()
    second.wait_assigned()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        a, b = first.assigned() or [], second.assigned() or []
        if a and b and sorted(a + b) == [0, 1, 2]:
            break
        time.sleep(0.2)
    assert a and b and sorted(a + b) == [0, 1, 2], f"first {a}, second {b}"

    lines = trading_day(2_000, seed=5)
    replay(as_("operator"), topics, lines)
    want = expected_events(lines)
    got = asyncio.run(committed_events(as_("operator"), topics, counts(want)))
    assert got == want


def test_kill_9_at_random_points_loses_and_duplicates_nothing(as_, topics, gateway, matchers, tmp_path):
    """Commands keep arriving while the matcher is killed with SIGKILL ten times at random moments; after a
    final restart the committed events equal, byte for byte, those of one uninterrupted embedded replay of the
    commands sent."""
    rng = random.Random(20261121)
    # Fed at 300/s until the tenth kill, then a second more: the feed lasts as long as the restarts take, however
    # slow the host (a fixed 67 s of commands ran out before the tenth kill on a loaded one). The day holds 333 s.
    day = trading_day(100_000, seed=13, spacing_ms=10)
    send = [len(day)]           # how many of the day's commands go: all, unless the tenth kill comes first
    given, failed = [0], []

    def arriving():
        while given[0] < send[0]:
            given[0] += 1
            yield day[given[0] - 1]

    def feed():
        try:
            asyncio.run(submit(arriving(), operator, topics, replay=True, rate=300))
        except BaseException as error:      # asserted below: a feed that failed proves nothing
            failed.append(error)

    operator = as_("operator")
    feeder = threading.Thread(target=feed)
    feeder.start()
    kills_mid_stream = 0
    try:
        for _ in range(10):
            m = matchers(snapshot_every=rng.choice([500, 2_000, 5_000]))
            m.wait_assigned()
            time.sleep(rng.uniform(0.2, 1.2))
            kills_mid_stream += feeder.is_alive()
            m.kill9()
    finally:
        send[0] = min(send[0], given[0] + 300)        # a second more of arrivals, then the feed ends
        feeder.join(300)
    assert not failed and not feeder.is_alive(), failed
    assert kills_mid_stream == 10, "every kill came while commands were still arriving"
    lines = day[:given[0]]
    matchers().wait_assigned()
    want = expected_events(lines)
    got = asyncio.run(committed_events(operator, topics, counts(want), timeout=180))
    for p in want:
        if got[p] != want[p]:  # say where the streams part, and keep the matchers' logs
            i = next((k for k, (a, b) in enumerate(zip(got[p], want[p])) if a != b), min(len(got[p]), len(want[p])))
            brief = lambda v: (lambda e: (e.__struct_config__.tag, e.seq, e.origin.offset))(decode_event(v))  # noqa: E731
            print(f"partition {p} parts at {i}: got {[brief(v) for v in got[p][max(i - 2, 0):i + 4]]}"
                  f" want {[brief(v) for v in want[p][max(i - 2, 0):i + 4]]}")
            for log in sorted(tmp_path.glob("matcher-*.log")):
                print(log.name, log.read_text()[-4000:])
        assert len(got[p]) == len(want[p]), f"partition {p}: {len(got[p])} events, want {len(want[p])}"
        assert got[p] == want[p], f"partition {p}: a gap, a duplicate or a difference"


def test_a_real_gap_in_the_command_log_stops_the_market_instead_of_skipping_commands(as_, topics, gateway,
                                                                                    matchers):
    """DESIGN 2: never apply across a gap. Commands deleted from the log before the matcher read them (here by
    the admin's DeleteRecords) are a real gap, unlike transaction markers: the matcher refuses to serve."""
    lines = trading_day(300, seed=2)
    replay(as_("operator"), topics, lines)
    tp = TopicPartition(topics.commands, 0)

    async def delete_head() -> int:
        admin = AIOKafkaAdminClient(**as_("admin").aiokafka())
        await admin.start()
        try:
            deadline = time.monotonic() + 60
            end = 0
            while end < 50 and time.monotonic() < deadline:   # wait for the gateway to write the CEA commands
                c = AIOKafkaConsumer(**as_("admin").aiokafka())
                await c.start()
                end = (await c.end_offsets([tp]))[tp]
                await c.stop()
                await asyncio.sleep(0.2)
            await admin.delete_records({tp: RecordsToDelete(before_offset=10)})
            return end
        finally:
            await admin.close()

    assert asyncio.run(delete_head()) >= 50
    m = matchers()
    deadline = time.monotonic() + 60
    while m.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert m.proc.poll() is not None, "the matcher must not serve a market whose log lost commands"
    assert "OffsetOutOfRange" in m.text(), m.text()[-2000:]


def _trades_in(market: str, line: bytes) -> bool:
    cmd = msgspec.json.decode(line)
    return cmd["type"] in ("order.new", "order.cancel") and market in (cmd.get("market"), cmd.get("product"))


def _cea_only(line: bytes) -> bool:
    cmd = msgspec.json.decode(line)
    return cmd.get("market") == "CEA" or str(cmd.get("product")).startswith("CEA")


def _published_all_day(operator, topics, matchers, all_day_rules, lines) -> tuple[dict, dict]:
    """A day whose orders start at 07:00, published by a matcher under all-day sessions, which then stops: the
    events each partition holds and their counts (a matcher under DOMAIN's sessions rebuilds them otherwise)."""
    first = matchers(snapshot_every=10**9, rules=all_day_rules)
    first.wait_assigned()
    replay(operator, topics, lines)
    rules = msgspec.json.decode(all_day_rules.read_bytes(), type=Rules)
    want = {p: 0 for p in PARTITION.values()}
    for event in Replay(rules).run(lines):
        want[PARTITION[event.market]] += 1
    before = asyncio.run(committed_events(operator, topics, want))
    assert {p: len(v) for p, v in before.items()} == want
    first.stop()
    return before, want


def test_a_market_whose_replay_answers_the_log_otherwise_halts_and_the_others_go_on(
        as_, topics, gateway, matchers, services, all_day_rules):
    """DESIGN 2, 3: the events of a market are one stream, each seq once. A matcher under all-day sessions
    publishes a day whose orders start at 07:00 (they trade); a matcher under DOMAIN's sessions (an upgrade that
    answers old commands otherwise, or another rules file) rebuilds CEA from the log alone, without the 07:00
    trades, and would answer the next command with a seq already published. It halts CEA instead, saying why, and
    publishes nothing there; GEC, whose log (set-up only) it follows, goes on answering: one market's divergence
    does not stop the others' trading. The CEA command waits in the log."""
    operator = as_("operator")
    lines = [line for line in trading_day(200, seed=5, close=False, start=dt.time(7, 0))
             if not _trades_in("GEC", line)]
    before, want = _published_all_day(operator, topics, matchers, all_day_rules, lines)
    # the next commands, after the restart: a deposit in CEA and one in GEC
    deposit = {"type": "funds.deposit", "actor": "bank", "account": "A1", "amount": "100",
               "at": "2024-03-12T11:00:00+08:00"}
    replay(operator, topics, [msgspec.json.encode({**deposit, "id": f"dep-after-{m}", "market": m})
                              for m in ("CEA", "GEC")])
    second = services("matcher", "--snapshot-every", str(10**9), "--session-timeout-ms", "2000",
                      "--metrics-port", "0")
    cea, gec = PARTITION["CEA"], PARTITION["GEC"]
    after = asyncio.run(committed_events(operator, topics, {cea: want[cea] + 1, gec: want[gec] + 1}, timeout=60,
                                         settle=3))
    assert [type(decode_event(v)).__name__ for v in after[gec][want[gec]:]] == ["FundsDeposited"], "GEC must go on"
    assert after[gec][:want[gec]] == before[gec]
    assert after[cea] == before[cea], "nothing published past the events it does not follow"
    seqs = [decode_event(v).seq for v in after[cea]]
    assert len(seqs) == len(set(seqs)), "a seq published twice in CEA"
    assert second.proc.poll() is None, "the matcher serves the markets it follows"
    assert "matcher.diverged" in second.text() and "matcher.market_halted" in second.text(), second.text()[-2000:]
    halted = {json.loads(line)["market"] for line in second.text().splitlines() if "matcher.market_halted" in line}
    assert "CEA" in halted and "GEC" not in halted, halted        # (CCER's 07:00 orders may halt it too)
    port = second.http_port()
    assert urllib.request.urlopen(f"http://127.0.0.1:{port}/live").status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/ready")
    assert refused.value.code == 503, "not ready while it holds a market it does not serve"
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    assert 'certx_market_halted{market="CEA"} 1.0' in metrics


def test_a_halted_market_killed_then_restarted_with_the_rules_that_published_it_answers_what_waited_once(
        as_, topics, gateway, matchers, services, all_day_rules):
    """The operator's way out of a halt (README "Upgrading"): the matcher that halted CEA is killed (-9, while
    halted), and one under the rules that published CEA's events takes the group's partitions. CEA resumes where its
    committed position stands and answers the commands that waited, each once and in their order; GEC, served
    throughout, publishes nothing twice."""
    operator = as_("operator")
    lines = [line for line in trading_day(200, seed=5, close=False, start=dt.time(7, 0))
             if not _trades_in("GEC", line)]
    before, want = _published_all_day(operator, topics, matchers, all_day_rules, lines)
    deposit = {"type": "funds.deposit", "actor": "bank", "account": "A1", "at": "2024-03-12T11:00:00+08:00"}
    waiting = [{**deposit, "id": f"dep-{i}", "market": "CEA", "amount": str(100 + i)} for i in range(3)]
    replay(operator, topics, [msgspec.json.encode(c) for c in waiting]
           + [msgspec.json.encode({**deposit, "id": "dep-gec", "market": "GEC", "amount": "7"})])
    cea, gec = PARTITION["CEA"], PARTITION["GEC"]
    halting = matchers(snapshot_every=10**9)                        # DOMAIN's sessions: CEA diverges, halts
    asyncio.run(committed_events(operator, topics, {gec: want[gec] + 1}, timeout=60))
    deadline = time.monotonic() + 60
    while "matcher.market_halted" not in halting.text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "matcher.market_halted" in halting.text(), halting.text()[-2000:]
    halting.kill9()
    fixed = matchers(snapshot_every=10**9, rules=all_day_rules)
    after = asyncio.run(committed_events(operator, topics, {cea: want[cea] + 3, gec: want[gec] + 1}, timeout=90,
                                         settle=3))
    assert after[cea][:want[cea]] == before[cea]
    answered = [decode_event(v) for v in after[cea][want[cea]:]]
    assert [type(e).__name__ for e in answered] == ["FundsDeposited"] * 3, answered
    amounts = [e.amount for e in answered]
    assert amounts == sorted(set(amounts)), "each waiting command once, in order (their amounts rise)"
    seqs = [decode_event(v).seq for v in after[cea]]
    assert seqs == sorted(set(seqs)), "CEA's seqs are one stream, each once"
    assert len(after[gec]) == want[gec] + 1, "GEC published nothing twice"
    assert "matcher.market_halted" not in fixed.text(), fixed.text()[-2000:]
    assert fixed.proc.poll() is None


def test_a_halted_market_without_a_committed_position_does_not_starve_the_others(
        as_, topics, gateway, matchers, all_day_rules):
    """The matcher group's committed offsets gone (deleted by hand, or expired on a broker keeping them 7 days):
    CEA restores from offset 0 against all its published events, diverges and halts with no position at all. A
    partition with no position and auto_offset_reset none made every fetch raise NoOffsetForPartitionError, which
    the loop takes for a partition still restoring and retries: GEC, served, must still answer."""
    from confluent_kafka.admin import AdminClient

    operator = as_("operator")
    lines = [line for line in trading_day(200, seed=5, close=False, start=dt.time(7, 0)) if _cea_only(line)]
    _, want = _published_all_day(operator, topics, matchers, all_day_rules, lines)
    cea, gec = PARTITION["CEA"], PARTITION["GEC"]
    assert want[cea] > 0 and want[gec] == 0, want
    admin = AdminClient(as_("admin").librdkafka())
    for future in admin.delete_consumer_groups([topics.group("matcher")], request_timeout=30).values():
        future.result(timeout=60)
    second = matchers(snapshot_every=10**9, rules=all_day_rules)
    deposit = {"type": "funds.deposit", "actor": "bank", "account": "A1", "amount": "100",
               "at": "2024-03-12T11:00:00+08:00", "id": "dep-gec", "market": "GEC"}
    replay(operator, topics, [msgspec.json.encode(deposit)])
    after = asyncio.run(committed_events(operator, topics, {gec: 1}, timeout=60))
    assert "matcher.market_halted" in second.text(), second.text()[-2000:]
    assert len(after[gec]) == 1, second.text()[-3000:]          # answered (whatever the answer), once


def test_a_halted_market_across_a_rebalance_and_a_rolling_fix_with_two_instances(
        as_, topics, gateway, matchers, services, all_day_rules):
    """Two instances in the group: one that halts CEA (DOMAIN's sessions), then one under the rules that published
    it. The rebalance revokes and hands out every partition again: the first instance's gauge says 1 exactly for
    the markets it halts after it, nothing is served half-way; once the halting instance stops, the other takes CEA
    and answers the command that waited, once."""
    operator = as_("operator")
    lines = [line for line in trading_day(200, seed=5, close=False, start=dt.time(7, 0)) if _cea_only(line)]
    before, want = _published_all_day(operator, topics, matchers, all_day_rules, lines)
    cea = PARTITION["CEA"]
    replay(operator, topics, [msgspec.json.encode({"type": "funds.deposit", "actor": "bank", "account": "A1",
                                                   "amount": "100", "at": "2024-03-12T11:00:00+08:00",
                                                   "id": "dep-waiting", "market": "CEA"})])
    halting = services("matcher", "--snapshot-every", str(10**9), "--session-timeout-ms", "2000",
                       "--metrics-port", "0")
    deadline = time.monotonic() + 60
    while "matcher.market_halted" not in halting.text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "matcher.market_halted" in halting.text(), halting.text()[-2000:]
    port = halting.http_port()
    fixed = matchers(snapshot_every=10**9, rules=all_day_rules)
    fixed.wait_assigned()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        a, b = halting.assigned() or [], fixed.assigned() or []
        if b and sorted(a + b + halting.last("matcher.assigned")["halted"]) == [0, 1, 2]:
            break
        time.sleep(0.2)
    latest = halting.last("matcher.assigned")
    assert sorted(latest["partitions"] + latest["halted"] + fixed.assigned()) == [0, 1, 2], (latest, fixed.assigned())
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    for market, p in PARTITION.items():
        gauge = f'certx_market_halted{{market="{market}"}}'
        shown = 1.0 if p in latest["halted"] else 0.0
        assert f"{gauge} {shown}" in metrics or (shown == 0.0 and gauge not in metrics), (market, latest, metrics)
    halting.stop()
    after = asyncio.run(committed_events(operator, topics, {**want, cea: want[cea] + 1}, timeout=90, settle=3))
    assert after[cea][:want[cea]] == before[cea]
    assert len(after[cea]) == want[cea] + 1, "the waiting command answered once (A1 has no account in this log)"
