"""A settlement service reading `certx.settlements` on the real broker while the projector is killed -9 mid-stream
(red team): deduplicated by `origin`, what it reads is the ledger's settlement stream exactly, each market's in
order of `seq` (so keeping each market's last `seq` drops the same records), and every record, duplicates too, is
dated by the command time of the event it settles (U3)."""
from __future__ import annotations

import asyncio
import random
import time

import pytest
from aiokafka import AIOKafkaConsumer

from certx.ledger import Ledger
from certx.wire.codec import decode_settlement, encode
from certx.wire.routing import PARTITION
from loadtest.flows import trading_day
from tests.kafka.conftest import feeding
from tests.kafka.test_projector import engine_events, wait_settled

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def test_u3_a4_a_reader_deduplicating_by_origin_reads_each_settlement_once_in_order_and_dated_through_kill_9(
        as_, topics, pg_dsn, projectors):
    rng = random.Random(11)
    events = engine_events(trading_day(8_000, seed=5))
    at = {(PARTITION[ev.market], ev.seq): 1_710_200_000_000 + 1_000 * n for n, ev in enumerate(events)}
    records = [(PARTITION[ev.market], ev.market.encode(), encode(ev), at[PARTITION[ev.market], ev.seq])
               for ev in events]
    ledger = Ledger()
    want: dict[int, list[bytes]] = {p: [] for p in PARTITION.values()}
    for ev in events:
        for x in ledger.apply(ev):
            want[x.origin.partition].append(encode(x))
    assert sum(map(len, want.values())) > 1_000

    feeder = feeding(as_("matcher"), topics.events, records, 400, 0.1)
    for _ in range(4):
        p = projectors(pg_dsn)
        p.wait_started()
        time.sleep(rng.uniform(0.2, 0.8))
        p.kill9()
    feeder.join()
    projectors(pg_dsn).wait_started()
    ends = {p: sum(r[0] == p for r in records) for p in PARTITION.values()}
    assert wait_settled(pg_dsn, ends) == ends

    async def read_all() -> dict[int, list[tuple[bytes, int]]]:
        consumer = AIOKafkaConsumer(topics.settlements, auto_offset_reset="earliest", enable_auto_commit=False,
                                    isolation_level="read_committed", **as_("settlement").aiokafka())
        await consumer.start()
        got: dict[int, list[tuple[bytes, int]]] = {p: [] for p in PARTITION.values()}
        seen: set[tuple] = set()
        deadline = time.monotonic() + 60
        try:
            while len(seen) < sum(map(len, want.values())) and time.monotonic() < deadline:
                for tp, rs in (await consumer.getmany(timeout_ms=500)).items():
                    for r in rs:
                        got[tp.partition].append((r.value, r.timestamp))
                        x = decode_settlement(r.value)
                        seen.add((x.origin.partition, x.origin.offset, x.origin.index))
        finally:
            await consumer.stop()
        return got

    got = asyncio.run(read_all())
    duplicates = 0
    for partition, stream in got.items():
        by_origin, by_seq, last = [], [], -1
        origins: set[tuple] = set()
        for body, stamp in stream:
            x = decode_settlement(body)
            assert x.origin.partition == partition == PARTITION[x.market]
            assert stamp == at[partition, x.origin.offset], "dated by its event's command time, duplicates too"
            key = (x.origin.offset, x.origin.index)
            if key not in origins:
                origins.add(key)
                by_origin.append(body)
            if x.seq > last:
                last = x.seq
                by_seq.append(body)
        duplicates += len(stream) - len(by_origin)
        assert by_origin == want[partition], "deduplicated by origin: the ledger's settlements, each once, in order"
        assert by_seq == by_origin, "each market in order of seq: its last seq drops the same records"
    print(f"settlements {sum(map(len, want.values()))}, duplicates read {duplicates}")
