"""The matcher on the real broker (issue 3): events equal the embedded replay, bad records go to the DLQ,
instances share partitions, and kill -9 loses and duplicates nothing (DESIGN 2–4, 7)."""
from __future__ import annotations

import asyncio
import base64
import random
import subprocess
import sys
import time

import msgspec
import pytest

from aiokafka import AIOKafkaConsumer

from certx.kafka.submit import submit
from certx.wire.codec import decode_command, decode_event
from certx.wire.dead_letter import DeadLetter
from certx.wire.routing import PARTITION, route
from loadtest.flows import trading_day
from tests.kafka.conftest import committed_events, expected_events, produce_raw

pytestmark = pytest.mark.kafka


def counts(expected: dict[int, list[bytes]]) -> dict[int, int]:
    return {p: len(v) for p, v in expected.items()}


def test_commands_in_events_out_equal_the_embedded_replay(bootstrap, topics, matchers):
    lines = trading_day(3_000, seed=11)
    asyncio.run(submit(lines, bootstrap, topics))
    matchers().wait_assigned()
    want = expected_events(lines)
    got = asyncio.run(committed_events(bootstrap, topics, counts(want)))
    for p in want:
        assert got[p] == want[p], f"partition {p}: events differ from certx replay"


def test_undecodable_records_go_to_the_dlq_and_the_good_ones_around_them_are_processed(bootstrap, topics, matchers):
    good = trading_day(0, seed=3, accounts=2, close=False)   # set-up only: accounts, funds, issuance, sessions
    garbage = [b"\xff\xfe not json", b'{"type":"order.new","order_id":"x1","actor":"B0","account":"A0",'
               b'"product":"CEA24","side":"buy","quantity":1,"price":54.2200000001}', b'{"type":"nope"}']
    records, ts, cea = [], 1_710_200_000_000, 0
    for line in good:
        for market in route(decode_command(line)):
            records.append((PARTITION[market], market.encode(), line, ts))
            if market == "CEA" and cea < len(garbage):      # garbage after each of the first CEA records
                records.append((0, b"CEA", garbage[cea], ts))
                cea += 1
    asyncio.run(produce_raw(bootstrap, topics.commands, records))
    matchers().wait_assigned()

    async def dead_letters() -> list[DeadLetter]:
        c = AIOKafkaConsumer(topics.dlq, bootstrap_servers=bootstrap, isolation_level="read_committed",
                             auto_offset_reset="earliest", enable_auto_commit=False)
        await c.start()
        out: list[DeadLetter] = []
        deadline = time.monotonic() + 60
        try:
            while len(out) < len(garbage) and time.monotonic() < deadline:
                for recs in (await c.getmany(timeout_ms=500)).values():
                    out += [msgspec.json.decode(r.value, type=DeadLetter) for r in recs]
        finally:
            await c.stop()
        return out

    dead = asyncio.run(dead_letters())
    assert [d.original for d in dead] == garbage, "every bad record is kept, byte for byte"
    assert all(d.reason == "malformed" and d.detail for d in dead)
    assert [(d.partition, d.offset) for d in dead] == [(0, 1), (0, 3), (0, 5)], "each says where it was"
    assert "float" in dead[1].detail and dead[1].ref == "x1"
    wire = msgspec.json.decode(msgspec.json.encode(dead[0]))
    assert base64.b64decode(wire["original"]) == garbage[0], "the original bytes travel as base64"

    # The good CEA records around the garbage were applied as the replay applies them, at their own offsets.
    want = [decode_event(v) for v in expected_events(good)[0]]
    got = [decode_event(v) for v in asyncio.run(committed_events(bootstrap, topics, {0: len(want)}))[0]]
    assert [(e.seq, e.__struct_config__.tag) for e in got] == [(e.seq, e.__struct_config__.tag) for e in want]
    assert not [e for e in got if e.__struct_config__.tag.endswith("rejected")]
    assert {1, 3, 5}.isdisjoint(e.origin.offset for e in got)


def test_two_matcher_instances_split_the_partitions(bootstrap, topics, matchers):
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
    asyncio.run(submit(lines, bootstrap, topics))
    want = expected_events(lines)
    got = asyncio.run(committed_events(bootstrap, topics, counts(want)))
    assert got == want


def test_kill_9_at_random_points_loses_and_duplicates_nothing(bootstrap, topics, matchers, tmp_path):
    """Commands keep arriving while the matcher is killed with SIGKILL ten times at random moments; after a
    final restart the committed events equal, byte for byte, those of one uninterrupted embedded replay."""
    rng = random.Random(20261121)
    lines = trading_day(20_000, seed=13, spacing_ms=10)   # fed at 500/s: about 40 s of arriving commands
    path = tmp_path / "commands.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    feeder = subprocess.Popen([sys.executable, "-m", "certx.cli", "submit", str(path), "--rate", "500", "--quiet",
                               "--bootstrap", bootstrap, "--prefix", topics.prefix])
    kills_mid_stream = 0
    try:
        for _ in range(10):
            m = matchers(snapshot_every=rng.choice([500, 2_000, 5_000]))
            m.wait_assigned()
            time.sleep(rng.uniform(0.2, 1.2))
            kills_mid_stream += feeder.poll() is None
            m.kill9()
    finally:
        assert feeder.wait(300) == 0
    assert kills_mid_stream == 10, "every kill came while commands were still arriving"
    matchers().wait_assigned()
    want = expected_events(lines)
    got = asyncio.run(committed_events(bootstrap, topics, counts(want), timeout=180))
    for p in want:
        if got[p] != want[p]:  # say where the streams part, and keep the matchers' logs
            i = next((k for k, (a, b) in enumerate(zip(got[p], want[p])) if a != b), min(len(got[p]), len(want[p])))
            brief = lambda v: (lambda e: (e.__struct_config__.tag, e.seq, e.origin.offset))(decode_event(v))  # noqa: E731
            print(f"partition {p} parts at {i}: got {[brief(v) for v in got[p][max(i - 2, 0):i + 4]]}"
                  f" want {[brief(v) for v in want[p][max(i - 2, 0):i + 4]]}")
            if i < min(len(got[p]), len(want[p])):
                print(f"first difference:\n got  {got[p][i]}\n want {want[p][i]}")
            for log in sorted(tmp_path.glob("matcher-*.log")):
                print(log.name, log.read_text()[-4000:])
        assert len(got[p]) == len(want[p]), f"partition {p}: {len(got[p])} events, want {len(want[p])}"
        assert got[p] == want[p], f"partition {p}: a gap, a duplicate or a difference"
