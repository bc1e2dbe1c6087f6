"""Faults survived, not fatal (DESIGN 2, 3, 7), on the real broker: a send that fails inside a transaction aborts
it and nothing is lost; a snapshot that does not decode or verify is skipped and the log replayed instead; a broker
restarted with deploy/kafka.sh keeps every topic and the services carry on."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from certx.engine import image
from certx.kafka import snapshots
from certx.store import open_store
from certx.wire.codec import decode_event
from certx.wire.routing import PARTITION
from loadtest.flows import trading_day
from tests.kafka.conftest import committed_events, counts, expected_events, produce_raw, replay

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]


async def set_topic_config(admin, topic: str, configs: dict[str, str]) -> None:
    client = AIOKafkaAdminClient(**admin.aiokafka())
    await client.start()
    try:
        await client.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=configs)])
    finally:
        await client.close()


def wait_for(condition, timeout: float = 60.0, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def test_a_send_that_fails_inside_a_transaction_aborts_it_and_nothing_is_lost(as_, topics, gateway, matchers):
    """certx.events refuses records over 300 bytes (an operator's mistake): the matcher's sends fail, every
    transaction aborts, nothing is committed past a lost send, and the matcher keeps trying from the log. Once the
    limit is mended, the events are exactly those of an uninterrupted replay."""
    admin = as_("admin")
    asyncio.run(set_topic_config(admin, topics.events, {"max.message.bytes": "300"}))
    lines = trading_day(1_000, seed=4)
    replay(as_("operator"), topics, lines)
    m = matchers()
    assert wait_for(lambda: m.text().count("service.restarting") >= 2), m.text()[-3000:]
    assert "MessageSizeTooLarge" in m.text()
    nothing = asyncio.run(committed_events(as_("operator"), topics, {0: 1, 1: 1, 2: 1}, timeout=3, settle=0))
    assert not any(nothing.values()), "nothing committed while a send fails"
    asyncio.run(set_topic_config(admin, topics.events, {"max.message.bytes": str(1024 * 1024)}))
    want = expected_events(lines)
    got = asyncio.run(committed_events(as_("operator"), topics, counts(want)))
    assert got == want
    assert m.proc.poll() is None, "the matcher rode it out"


@pytest.mark.parametrize("bad", ["garbage", "old version"])
def test_a_snapshot_that_does_not_decode_or_verify_is_skipped_and_the_log_replayed(as_, topics, gateway, matchers,
                                                                                    bad):
    first = trading_day(1_500, seed=9, close=False)
    rest = trading_day(1_500, seed=9)[len(first):]
    operator = as_("operator")
    replay(operator, topics, first)
    m = matchers(snapshot_every=500)
    m.wait_assigned()
    want_first = expected_events(first)
    asyncio.run(committed_events(operator, topics, counts(want_first)))
    m.stop()

    async def plant() -> None:
        """As the matcher principal: a snapshot covering every partition's committed position that is broken."""
        kafka = as_("matcher")
        reader = AIOKafkaConsumer(group_id=topics.group("matcher"), enable_auto_commit=False, **kafka.aiokafka())
        await reader.start()
        records = []
        try:
            for p in PARTITION.values():
                position = await reader.committed(TopicPartition(topics.commands, p))
                blob = (b"\x00not a snapshot\xff" * 100 if bad == "garbage" else
                        msgspec.msgpack.encode(image.Snapshot(1, "CEA", position, "0" * 64, b"old")))
                records += [(p, key, value, int(time.time() * 1000)) for key, value in snapshots.chunks(blob, p, position)]
        finally:
            await reader.stop()
        await produce_raw(kafka, topics.snapshots, records)

    asyncio.run(plant())
    replay(operator, topics, rest)
    again = matchers(snapshot_every=10_000)
    want = expected_events(first + rest)
    got = asyncio.run(committed_events(operator, topics, counts(want)))
    assert got == want, "the same events as if no snapshot had been broken"
    assert again.text().count("matcher.snapshot_skipped") == 3, again.text()[-3000:]


def test_a_broker_restart_keeps_every_topic_and_the_services_carry_on(as_, topics, gateway, matchers, projectors,
                                                                      pg_dsn, tmp_path):
    """`deploy/kafka.sh restart` while commands arrive: the broker comes back on the same log directory, every
    topic is still there with everything it held, and the gateway, the matcher and the projector, never
    restarted by anyone, carry on: the events equal an uninterrupted replay, and every trade settles once."""
    lines = trading_day(8_000, seed=23, spacing_ms=10)
    operator = as_("operator")
    m = matchers(snapshot_every=2_000)
    m.wait_assigned()
    projector = projectors(pg_dsn)
    projector.wait_started()
    path = tmp_path / "commands.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    feeder = subprocess.Popen([sys.executable, "-m", "certx.cli", "submit", str(path), "--replay", "--rate", "800",
                               "--quiet", "--bootstrap", operator.bootstrap, "--prefix", topics.prefix],
                              env={**os.environ, "CERTX_KAFKA_USER": operator.username,
                                   "CERTX_KAFKA_PASSWORD": operator.password})
    time.sleep(3)
    assert feeder.poll() is None, "the restart comes while commands arrive"
    restart = subprocess.run(["bash", str(ROOT / "deploy" / "kafka.sh"), "restart"], capture_output=True, text=True,
                             timeout=180)
    assert restart.returncode == 0, restart.stderr
    assert "formatted" not in restart.stderr, "the same log directory, never formatted again"
    assert feeder.wait(300) == 0
    want = expected_events(lines)
    got = asyncio.run(committed_events(operator, topics, counts(want), timeout=240))
    for p in want:
        if got[p] != want[p]:
            i = next((k for k, (a, b) in enumerate(zip(got[p], want[p])) if a != b), min(len(got[p]), len(want[p])))
            print(f"partition {p}: got {len(got[p])} want {len(want[p])}, parts at {i}")
            print(" got ", got[p][max(i - 1, 0):i + 2])
            print(" want", want[p][max(i - 1, 0):i + 2])
    assert got == want
    for service in (gateway, m, projector):
        assert service.proc.poll() is None, f"{service.service} stopped:\n{service.text()[-3000:]}"
    trades = sum(b'"type":"trade"' in ev for evs in want.values() for ev in evs)

    def settled() -> bool:
        store = open_store(pg_dsn)
        try:
            return store.query("SELECT count(*) FROM trades")[0][0] == trades
        finally:
            store.close()
    assert wait_for(settled, timeout=120), "every trade settled once"


@pytest.mark.parametrize("snapshot_every", [5, 100_000])
def test_a_resent_deposit_or_issuance_never_applies_twice_also_across_a_restart(as_, topics, gateway, matchers,
                                                                                snapshot_every):
    """PROTOCOL: a command id its sender has used is refused (`duplicate_command`); the ids are engine state, so
    a matcher restored from a snapshot (5) or from the log alone (100,000) still knows them."""
    setup = trading_day(0, seed=31, accounts=2, close=False)
    operator = as_("operator")
    replay(operator, topics, setup)
    m = matchers(snapshot_every=snapshot_every)
    want = expected_events(setup)
    asyncio.run(committed_events(operator, topics, counts(want)))
    m.kill9()
    resent = [x for x in setup if b'"funds.deposit"' in x or b'"issue.cea"' in x]
    assert len(resent) == 8
    replay(operator, topics, resent)
    matchers(snapshot_every=snapshot_every).wait_assigned()
    got = asyncio.run(committed_events(operator, topics, {0: counts(want)[0] + 4, 1: counts(want)[1] + 2,
                                                          2: counts(want)[2] + 2}))
    answers = [decode_event(v) for p in got for v in got[p][counts(want)[p]:]]
    assert len(answers) == 8 and {(x.__struct_config__.tag, x.reason) for x in answers} == \
        {("command.rejected", "duplicate_command")}
    assert sorted(x.ref for x in answers) == sorted(msgspec.json.decode(x)["id"] for x in resent)
