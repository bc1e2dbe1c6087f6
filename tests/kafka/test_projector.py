"""The settlement projector on the real broker and the real PostgreSQL (issue 4): exactly once through
kill -9 and through a PostgreSQL restart, duplicated and forged fills refused with nothing moved (DOMAIN A4, G1)."""
from __future__ import annotations

import asyncio
import os
import random
import subprocess
import threading
import time
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer
from psycopg.conninfo import conninfo_to_dict

from certx.ledger import Ledger
from certx.money import Fen
from certx.replay import Replay
from certx.store import open_store
from certx.wire import events as e
from certx.wire import settlements as st
from certx.wire.codec import decode_settlement, encode
from certx.wire.routing import PARTITION
from loadtest.flows import trading_day
from tests.kafka.conftest import feeding, produce_raw

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]


def engine_events(lines: list[bytes]) -> list[e.Event]:
    return list(Replay().run(lines))


def as_records(events: list[e.Event]) -> list[tuple]:
    return [(PARTITION[ev.market], ev.market.encode(), encode(ev), 1_710_200_000_000) for ev in events]


def expected_ledger(events: list[e.Event]) -> Ledger:
    ledger = Ledger()
    for ev in events:
        ledger.apply(ev)
    return ledger


def wait_settled(dsn: str, want: dict[int, int], timeout: float = 120.0) -> dict[int, int]:
    """Poll the read model until it has consumed `want[p]` records of each events partition."""
    deadline = time.monotonic() + timeout
    marks: dict[int, int] = {}
    while time.monotonic() < deadline:
        store = open_store(dsn)
        marks = store.topic_offsets()
        store.close()
        if all(marks.get(p, 0) >= n for p, n in want.items()):
            return marks
        time.sleep(0.2)
    return marks


def assert_read_model_is(dsn: str, ledger: Ledger, trades: int) -> None:
    store = open_store(dsn)
    try:
        assert store.query("SELECT count(*) FROM trades")[0][0] == trades, "every trade settled once, none skipped"
        got = store.load_ledger()
    finally:
        store.close()
    assert {k: v for k, v in got.cash.items()} == ledger.cash
    assert {k: v for k, v in got.units.items()} == ledger.units
    assert {a: list(r) for a, r in got.gec.items() if len(r)} == {a: list(r) for a, r in ledger.gec.items() if len(r)}
    assert list(got.cancelled) == list(ledger.cancelled)
    assert got.settled == ledger.settled


def test_kill_9_the_projector_mid_stream_settles_each_trade_exactly_once(as_, topics, pg_dsn, projectors):
    rng = random.Random(4)
    day = engine_events(trading_day(40_000, seed=21))
    # fed until the sixth kill, however long the restarts take (a fixed 6 s of events can run out on a loaded host)
    killed = threading.Event()
    feeder = feeding(as_("matcher"), topics.events, as_records(day), 500, 0.15, until=killed)
    kills_mid_stream = 0
    for _ in range(6):
        p = projectors(pg_dsn)
        p.wait_started()
        time.sleep(rng.uniform(0.2, 1.0))
        kills_mid_stream += feeder.is_alive()
        p.kill9()
    killed.set()
    feeder.join()
    assert kills_mid_stream == 6, "the kills came while events were arriving"
    events = day[:feeder.sent]
    records = as_records(events)
    trades = sum(isinstance(ev, e.Trade) for ev in events)
    want = {p: sum(r[0] == p for r in records) for p in PARTITION.values()}
    projectors(pg_dsn).wait_started()
    marks = wait_settled(pg_dsn, want)
    assert marks == want, "the stored offsets reached the end of every partition"
    store = open_store(pg_dsn)
    have = {t for (t,) in store.query("SELECT trade_id FROM trades")}
    missing = [(ev.trade_id, ev.market, ev.origin.offset) for ev in events if isinstance(ev, e.Trade) and ev.trade_id not in have]
    marks_row = store.query("SELECT * FROM marks ORDER BY partition")
    store.close()
    assert not missing, f"{len(missing)} trades not settled, first {missing[:8]}; marks {marks_row}"
    assert_read_model_is(pg_dsn, expected_ledger(events), trades)


def test_a_postgresql_restart_under_load_the_projector_rides_it_out_and_settles_each_trade_exactly_once(
        as_, topics, pg_dsn, projectors):
    """`deploy/postgres.sh restart` (fast shutdown: every session ends with AdminShutdown) while events keep
    arriving. The projector is not restarted by anyone: it waits for the database, resumes from what it
    committed, and catches up by itself."""
    rng = random.Random(7)
    events = engine_events(trading_day(12_000, seed=33))
    records = as_records(events)
    want = {p: sum(r[0] == p for r in records) for p in PARTITION.values()}
    port = conninfo_to_dict(pg_dsn)["port"]

    projector = projectors(pg_dsn)
    projector.wait_started()
    feeder = feeding(as_("matcher"), topics.events, records, 500, 0.15)     # about 6 s, while PostgreSQL restarts
    restarts_mid_stream = 0
    for _ in range(2):
        time.sleep(rng.uniform(0.5, 1.5))
        restarts_mid_stream += feeder.is_alive()
        restart = subprocess.run(["bash", str(ROOT / "deploy" / "postgres.sh"), "restart"], capture_output=True,
                                 text=True, timeout=120, env=dict(os.environ, CERTX_PG_PORT=port))
        assert restart.returncode == 0, restart.stderr
    feeder.join()
    assert restarts_mid_stream >= 1, "a restart came while events were arriving"
    marks = wait_settled(pg_dsn, want)
    log = projector.log.read_text(errors="replace")
    assert projector.proc.poll() is None, f"the projector died:\n{log[-3000:]}"
    assert "projector.db_lost" in log and "projector.db_back" in log, "the restart cut the projector's connection"
    assert marks == want, "the stored offsets reached the end of every partition"
    assert_read_model_is(pg_dsn, expected_ledger(events), sum(isinstance(ev, e.Trade) for ev in events))


def test_duplicated_and_forged_fills_are_refused_and_move_nothing(as_, topics, pg_dsn, projectors):
    events = engine_events(trading_day(2_000, seed=8))
    gec_trades = [ev for ev in events if isinstance(ev, e.Trade) and ev.serials]
    cea_trades = [ev for ev in events if isinstance(ev, e.Trade) and ev.market == "CEA"]
    assert gec_trades and cea_trades
    last = {m: max((ev.origin.offset for ev in events if ev.market == m)) for m in PARTITION}
    seqs = {m: max((ev.seq for ev in events if ev.market == m)) for m in PARTITION}

    def forged(ev: e.Trade, n: int, **change) -> e.Trade:
        """A fill published again under a new origin, as a faulty matcher might."""
        origin = e.Origin(ev.origin.partition, last[ev.market] + n, 0)
        return msgspec.structs.replace(ev, origin=origin, seq=seqs[ev.market] + n, **change)

    g, c = gec_trades[0], cea_trades[0]
    bad = [
        forged(g, 1),                                                  # a GEC fill arrives twice
        forged(c, 2),                                                  # a CEA fill arrives twice
        forged(g, 3, trade_id="GEC-forged-1", serials=[(g.serials[0][0], g.serials[0][0])], quantity=1),
        forged(g, 4, trade_id="GEC-forged-2", seller="A0", serials=[(9_999_999_990, 9_999_999_999)], quantity=10),
    ]
    redelivered = events[:50]                                          # same origins: already applied
    stream = events + redelivered + bad
    asyncio.run(produce_raw(as_("matcher"), topics.events, as_records(stream)))
    projectors(pg_dsn).wait_started()
    want = {p: sum(PARTITION[ev.market] == p for ev in stream) for p in PARTITION.values()}
    assert wait_settled(pg_dsn, want) == want
    assert_read_model_is(pg_dsn, expected_ledger(events), sum(isinstance(ev, e.Trade) for ev in events))

    async def rejections() -> list[st.SettlementRejected]:
        consumer = AIOKafkaConsumer(topics.settlements, auto_offset_reset="earliest", **as_("settlement").aiokafka(),
                                    enable_auto_commit=False)
        await consumer.start()
        out, deadline = [], time.monotonic() + 30
        try:
            while len(out) < len(bad) and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for r in records:
                        x = decode_settlement(r.value)
                        if isinstance(x, st.SettlementRejected):
                            out.append(x)
        finally:
            await consumer.stop()
        return out

    got = {(x.trade_id, x.reason) for x in asyncio.run(rejections())}
    assert got == {(g.trade_id, "already_cancelled"), (c.trade_id, "duplicate_trade"),
                   ("GEC-forged-1", "already_cancelled"), ("GEC-forged-2", "not_held")}



def test_A4_two_projectors_on_one_read_model_settle_each_deposit_exactly_once(as_, topics, pg_dsn, projectors):
    """A second projector started beside the first (nothing in Kafka keeps it out: the projector reads by
    assignment) while deposits to many accounts arrive in small batches, so that the two read them in different
    batches; each killed -9 at random moments and started again. The read model ends as one projector would have
    written it: every deposit settled once (A4), none taken back by the one that was behind."""
    rng = random.Random(5)
    events = [e.FundsDeposited(market="CEA", seq=i, origin=e.Origin(0, i, 0), ref=f"d{i}",
                               account=f"acct-{rng.randrange(1_500)}", amount=Fen(rng.randrange(1, 10_000)))
              for i in range(4_000)]
    records = as_records(events)

    pair = [projectors(pg_dsn), projectors(pg_dsn)]
    for p in pair:
        p.wait_started()
    feeder = feeding(as_("matcher"), topics.events, records, 40, 0.02)
    while feeder.is_alive():
        time.sleep(rng.uniform(0.3, 0.8))
        killed = rng.randrange(2)
        pair[killed].kill9()
        pair[killed] = projectors(pg_dsn)
        pair[killed].wait_started()
    assert wait_settled(pg_dsn, {0: len(records)}) == {0: len(records)}, "the stored offsets reached the end"
    for p in pair:
        p.stop()
    assert_read_model_is(pg_dsn, expected_ledger(events), 0)


def test_A4_a_second_projector_stands_by_and_takes_over_when_the_first_is_killed(as_, topics, pg_dsn, projectors):
    """An operator runs two projectors on one read model, for a hot standby. The second waits (`projector.standby`)
    instead of settling beside the first and reloading the ledger each time one supersedes the other; once the
    first is killed -9 it takes the lead and settles the rest, each deposit once (A4)."""
    events = [e.FundsDeposited(market="CEA", seq=i, origin=e.Origin(0, i, 0), ref=f"d{i}", account=f"acct-{i % 97}",
                               amount=Fen(1 + i % 1_000)) for i in range(2_000)]
    records = as_records(events)
    first = projectors(pg_dsn)
    first.wait_started()
    second = projectors(pg_dsn)
    second.wait_started()
    assert second.last("projector.standby") is not None and second.last("projector.started") is None
    asyncio.run(produce_raw(as_("matcher"), topics.events, records[:1_000]))
    assert wait_settled(pg_dsn, {0: 1_000}) == {0: 1_000}
    first.kill9()
    asyncio.run(produce_raw(as_("matcher"), topics.events, records[1_000:]))
    assert wait_settled(pg_dsn, {0: len(records)}) == {0: len(records)}, "the second took over"
    assert second.last("projector.leads") is not None and second.last("projector.started") is not None
    assert second.last("projector.superseded") is None and first.last("projector.superseded") is None
    second.stop()
    assert_read_model_is(pg_dsn, expected_ledger(events), 0)
