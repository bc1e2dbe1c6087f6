"""The settlement read model in a real database: SQLite always, PostgreSQL when CERTX_PG_DSN is set (each test in
a schema of its own). The database itself refuses a GEC cancelled twice (G1); a batch is one transaction; the
ledger loads back exactly as it was settled; the queries answer from the tables."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import msgspec
import psycopg
import pytest
from aiokafka import TopicPartition

from certx import money
from certx.kafka.connection import Connection
from certx.ledger import Ledger
from certx.ledger.journal import Batch, Journal
from certx.registry.serials import RangeSet
from certx.kafka.projector import Projector, ProjectorSettings
from certx.replay import Replay
from certx.store import Store, open_store
from certx.mistakes import WouldOverwrite, explain
from certx.store.sql import CancelledTwice, Outdated, RowsRefused
from certx.store.target import open_target
from certx.wire import events as e
from certx.wire import settlements as s
from certx.wire.codec import encode
from certx.wire.routing import PARTITION

from servers import schema_of_its_own
from ledger.settling import SettlingDesk

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "certx" / "sample" / "trade_day.jsonl"


# --- the databases ------------------------------------------------------------------------------------------

class Database:
    """One empty database (a SQLite file, or a PostgreSQL schema of its own); `open()` connects a new Store.
    `reader`: how the queries connect (in PostgreSQL, as the reader's role)."""

    def __init__(self, dsn: str, reader: str | None = None) -> None:
        self.dsn = dsn
        self.reader = reader or dsn
        self.stores: list[Store] = []

    def open(self) -> Store:
        store = open_store(self.dsn)
        self.stores.append(store)
        return store

    def close(self) -> None:
        for store in self.stores:
            try:
                store.close()
            except Exception:  # noqa: BLE001 - a connection a failed test left broken
                pass


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    if request.param == "sqlite":
        database = Database(str(tmp_path / "certx.db"))
        yield database
        database.close()
        return
    with schema_of_its_own() as schema:
        database = Database(schema.projector, schema.reader)
        try:
            yield database
        finally:
            database.close()


@pytest.fixture
def store(db: Database) -> Store:
    return db.open()


def test_a_postgres_store_works_in_its_own_schema(db: Database, store: Store):
    if store.dialect != "postgres":
        pytest.skip("PostgreSQL only")
    [(path,)] = store.query("SHOW search_path")
    assert path.startswith("t_")
    [(n,)] = store.query("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND "
                         "table_name = 'gec_cancellations'", (path,))
    assert n == 1


# --- settling events into a store ------------------------------------------------------------------------------

def sample_events() -> list[e.Event]:
    with open(SAMPLE, "rb") as lines:
        return list(Replay().run(lines))


def settle(store: Store, events: list[e.Event], every: int = 50) -> tuple[Ledger, list[s.Settlement]]:
    """As `certx replay` does: the events through a Journal, a batch written every `every` events."""
    journal = Journal(Ledger())
    out: list[s.Settlement] = []
    for n, ev in enumerate(events, 1):
        out += journal.add(ev)
        if n % every == 0:
            store.write(journal.take())
    store.write(journal.take())
    return journal.ledger, out


def gec_events() -> list[e.Event]:
    """S holds 1..100 (produced 2023-06: valid through 2025-12), T holds 101..200 (2025-03). On 2025-12-30 A buys
    11..30 for plant-1 and C lifts 101..110 (no beneficiary); on 2026-01-05 S's remaining serials are retired."""
    desk = SettlingDesk(date="2025-12-30")
    for account, broker in (("S", "B2"), ("T", "B2"), ("A", "B1"), ("C", "B3")):
        desk.open_account(account, broker)
    desk.deposit("A", "GEC", "1000")
    desk.deposit("C", "GEC", "1000")
    for account, first, month, project in (("S", 1, "2023-06", "P1"), ("T", 101, "2025-03", "P2")):
        desk.send("issue.gec", actor="registry", account=account, project=project, province="Gansu",
                  technology="wind", production_month=month, subsidised=False, first_serial=first,
                  last_serial=first + 99)
    desk.open_day("GEC")
    desk.order("L1", "S", "B2", "GEC", "sell", 50, "2.00", first_serial=11, last_serial=60)
    desk.order("b1", "A", "B1", "GEC", "buy", 20, "2.50", beneficiary="plant-1")
    desk.order("L2", "T", "B2", "GEC", "sell", 10, "3.00", first_serial=101, last_serial=110)
    desk.send("order.lift", order_id="k1", actor="B3", account="C", market="GEC", target="L2", quantity=10)
    desk.close_day("GEC")
    desk.open_day("GEC", date="2026-01-05")
    assert [type(x).__name__ for x in desk.settlements].count("GecCancelled") == 2
    assert [type(x).__name__ for x in desk.settlements].count("GecRetired") == 1
    return desk.events


def view(ledger: Ledger) -> dict:
    return {
        "cash": dict(ledger.cash), "units": dict(ledger.units),
        "gec": {a: list(r) for a, r in ledger.gec.items() if len(r)},
        "issued": list(ledger.issued), "cancelled": list(ledger.cancelled), "retired": list(ledger.retired),
        "settled": set(ledger.settled), "marks": dict(ledger.marks),
        "seq": {m: n for m, n in ledger.seq.items() if n},     # no entry and 0 both mean "next is 0"
    }


def rows(store: Store) -> dict:
    """Every table's content, to compare before and after a refused write."""
    tables = ("cash", "units", "gec_issued", "gec_listed", "trades", "marks")
    out = {t: sorted(store.query(f"SELECT * FROM {t}")) for t in tables}
    out["gec_cancellations"] = sorted(store.query("SELECT first, last, kind, owner, beneficiary, trade_id, seq "
                                                  "FROM gec_cancellations"))
    out["outbox"] = [(i, p, bytes(b)) for i, p, b in store.query("SELECT id, partition, body FROM outbox ORDER BY id")]
    return out


# --- G1 in the database: a cancellation never overlaps an earlier one --------------------------------------------

def forged_batch(*cancelled: tuple[int, int]) -> Batch:
    """A batch as a faulty projector would write it: a trade GEC-X of A, its cash, units and mark, and the
    cancellation of `cancelled` (after one of untouched serials 300..310)."""
    b = Batch()
    b.cash = [("A", "GEC", 1), ("Z", "GEC", 12_345)]
    b.units = [("Z", "CEA21", 7)]
    b.trades = [("GEC-X", "GEC", "GEC", "lot", 200, 10, "A", "S", 999, 999)]
    b.cancellations = [(300, 310, "trade", "A", "x", "GEC-X", 999)]
    b.cancellations += [(first, last, "trade", "A", "x", "GEC-X", 999) for first, last in cancelled]
    b.outbox = [(2, b'{"type":"settled"}', None)]
    b.marks = {2: (999_999, 999, 0, 999), 0: (777, 7, 0, 7)}
    return b


@pytest.mark.parametrize("cancelled", [
    [(11, 30)],                 # the same serials as GEC-1
    [(15, 20)],                 # inside them
    [(5, 40)],                  # around them
    [(1, 11)],                  # sharing the first
    [(30, 35)],                 # sharing the last
    [(25, 105)],                # over GEC-1 and into GEC-2's 101..110
    [(400, 410), (405, 420)],   # twice within the batch itself
], ids=["same", "inside", "around", "first", "last", "two", "within"])
def test_g1_the_database_refuses_a_cancellation_overlapping_an_earlier_one_and_writes_nothing_of_its_batch(
        store: Store, cancelled):
    settle(store, gec_events())
    assert store.query("SELECT first, last FROM gec_cancellations WHERE kind = 'trade' ORDER BY first") == \
        [(11, 30), (101, 110)]
    before = rows(store)
    with pytest.raises(CancelledTwice):
        store.write(forged_batch(*cancelled))
    after = rows(store)
    assert after == before, "part of a refused batch was written"
    assert not store.query("SELECT * FROM cash WHERE account = 'Z'")
    assert not store.query("SELECT * FROM trades WHERE trade_id = 'GEC-X'")
    assert not store.query("SELECT * FROM gec_cancellations WHERE first = 300")
    # the store is still usable: the next, sound batch is written
    store.write(forged_batch())
    assert store.query("SELECT amount FROM cash WHERE account = 'Z'") == [(12_345,)]
    assert store.query("SELECT topic_offset FROM marks WHERE partition = 2") == [(999_999,)]


def test_g1_the_database_accepts_cancellations_adjacent_to_earlier_ones(store: Store):
    settle(store, gec_events())       # cancelled or retired: 1..110
    store.write(forged_batch((111, 120), (290, 299), (311, 311)))
    store.write(Batch(cancellations=[(280, 289, "trade", "A", "y", "GEC-Y", 1000), (321, 330, "expired", "S",
                                                                                 None, None, 1000)]))
    assert store.query("SELECT first, last FROM gec_cancellations WHERE seq >= 999 ORDER BY first") == \
        [(111, 120), (280, 289), (290, 299), (300, 310), (311, 311), (321, 330)]


def test_g1_a_cancellation_written_by_an_earlier_connection_is_refused_to_a_later_one(db: Database):
    first = db.open()
    settle(first, gec_events())
    first.close()
    later = db.open()
    with pytest.raises(CancelledTwice):
        later.write(forged_batch((20, 20)))
    assert not later.query("SELECT * FROM trades WHERE trade_id = 'GEC-X'")


# --- restart: the ledger loads back as it was settled --------------------------------------------------------

@pytest.mark.parametrize("every", [1, 50], ids=["batch-of-1", "batch-of-50"])
@pytest.mark.parametrize("events", [sample_events, gec_events], ids=["sample-day", "gec-expiry"])
def test_write_then_load_ledger_gives_back_the_ledger_settled_in_memory(db: Database, store: Store, events, every):
    evs = events()
    ledger, out = settle(store, evs, every)
    loaded = db.open().load_ledger()
    assert view(loaded) == view(ledger)
    assert loaded.cash and loaded.settled and loaded.cancelled
    # the outbox holds every settlement event, in order
    assert [body for _, _, body, _ in store.pending()] == [encode(x) for x in out]
    # exactly once across a restart: the loaded ledger takes every event already settled as a duplicate
    assert [x for ev in evs for x in loaded.apply(ev)] == []
    assert view(loaded) == view(ledger)


# --- rows the database refuses: settled again one event at a time ------------------------------------------------

@pytest.mark.parametrize("batch", [
    Batch(cash=[("A", "GEC", 1), ("B\x00", "GEC", 2)]),                          # a NUL byte in a TEXT
    Batch(cancellations=[(900, 910, "trade", "A", "plant\x00", "GEC-Z", 1)]),    # ... written by COPY
    Batch(units=[("A", "CEA21", 7), ("B", "CEA21", 2**63)]),                     # past BIGINT
], ids=["nul", "nul-by-copy", "out-of-range"])
def test_rows_the_database_refuses_raise_rows_refused_and_nothing_of_their_batch_is_written(store: Store, batch):
    if store.dialect == "sqlite" and batch.units == []:
        pytest.skip("SQLite stores a NUL byte: nothing to refuse")
    settle(store, gec_events())
    before = rows(store)
    batch.marks = {2: (999_999, 999, 0, 999)}
    with pytest.raises(RowsRefused):
        store.write(batch)
    assert rows(store) == before
    store.write(forged_batch())                              # the store is still usable
    assert store.query("SELECT amount FROM cash WHERE account = 'Z'") == [(12_345,)]


def consumed(events: list, dead_letter_at: int | None = None) -> list[tuple]:
    """The events as the projector consumes them from `certx.events`: (partition, offset, event, time), offsets
    counted per partition; a record that was not an event (None) before event number `dead_letter_at`."""
    out, offsets = [], {}
    at = 1_639_620_000_000
    for n, ev in enumerate(events):
        p = PARTITION[ev.market]
        if n == dead_letter_at:
            out.append((p, offsets.get(p, 0), None, at))
            offsets[p] = offsets.get(p, 0) + 1
        out.append((p, offsets.get(p, 0), ev, at))
        offsets[p] = offsets.get(p, 0) + 1
    return out


def projector_on(db: Database) -> Projector:
    projector = Projector(ProjectorSettings(kafka=Connection("unused: no Kafka here"), db=db.dsn))
    projector.open()
    db.stores.append(projector.store)
    return projector


def test_the_projector_settles_a_sound_batch_in_one_transaction(db: Database):
    events = gec_events()
    records = consumed(events, dead_letter_at=5)
    batches = projector_on(db).settle(records)
    assert len(batches) == 1
    want = Ledger()
    for ev in events:
        want.apply(ev)
    assert view(db.open().load_ledger()) == view(want)
    ends = {p: o + 1 for p, o, _, _ in records}
    assert db.open().topic_offsets() == ends


@pytest.mark.parametrize("field", ["beneficiary", "product"])   # rows of gec_cancellations, of trades
def test_a_batch_the_database_refuses_is_settled_event_by_event_and_only_the_refused_event_is_answered_malformed(
        db: Database, field):
    """A NUL byte in a name: the engine takes it, PostgreSQL's TEXT does not. Crashing on it would crash again
    on every restart, and settlement would stop for good."""
    if not db.dsn.startswith("postgres"):
        pytest.skip("SQLite stores a NUL byte: nothing to refuse")
    events = gec_events()
    [good] = [ev for ev in events if isinstance(ev, e.Trade) and ev.beneficiary == "plant-1"]
    bad = msgspec.structs.replace(good, **{field: getattr(good, field) + "\x00"})
    events = [bad if ev is good else ev for ev in events]
    records = consumed(events, dead_letter_at=len(events) - 3)
    before = [ev for ev in events if ev.seq < bad.seq and ev.market == "GEC"]
    after = [ev for ev in events if ev.seq > bad.seq and ev.market == "GEC"]
    assert before and after, "events before and after it in the same batch"

    batches = projector_on(db).settle(records)

    out = [x for b in batches for x in b.settlements]
    [rejected] = [x for x in out if isinstance(x, s.SettlementRejected)]
    assert (rejected.trade_id, rejected.reason) == (bad.trade_id, "malformed")
    assert rejected.detail.startswith("DataError") and "NUL" in rejected.detail and len(rejected.detail) <= 200
    store = db.open()
    assert [body for _, _, body, _ in store.pending()] == [encode(x) for x in out], "answered through the outbox"
    # it moved nothing; every other event settled as if it had never come (its settlement seq aside)
    want = Ledger()
    for ev in events:
        if ev is not bad:
            want.apply(ev)
    want.seq["GEC"] += 1
    assert view(store.load_ledger()) == view(want)
    assert store.query("SELECT count(*) FROM trades") == [(len(want.settled),)]
    assert store.retirements("plant-1") == []
    # its offset is stored: it is never read again
    assert store.topic_offsets() == {p: o + 1 for p, o, _, _ in records}


class Record(msgspec.Struct):
    """The fields of a `certx.events` record the projector reads."""

    offset: int
    value: bytes | None
    timestamp: int = 1_639_620_000_000


def misplaced(ev: e.Event, **changes) -> bytes:
    """`ev`'s JSON with fields changed (None: left out)."""
    fields = msgspec.json.decode(encode(ev))
    fields.update(changes)
    return msgspec.json.encode({k: v for k, v in fields.items() if v is not None})


@pytest.mark.parametrize("partition,value", [
    (2, None),                                                  # a tombstone: TypeError out of the decoder
    (2, "origin"),                                              # no origin: AttributeError out of the ledger
    (2, "market"),                                              # no market: KeyError out of the journal
    (2, "XYZ"),                                                 # a market that is none
    (0, "GEC"),                                                 # a GEC event on CEA's partition
], ids=["null", "no-origin", "no-market", "unknown-market", "other-partition"])
def test_an_event_without_its_place_or_away_from_its_partition_is_a_dead_letter_and_settlement_goes_on(
        db: Database, partition, value):
    """The first four stopped the projector, at every restart on the same record. The fifth was settled under
    its market's partition: its CEA offset was stored as the GEC partition's, where a restart would have resumed
    (skipping GEC events, or reading them again), and CEA's own mark did not move."""
    events = gec_events()
    [trade] = [ev for ev in events if isinstance(ev, e.Trade) and ev.beneficiary == "plant-1"]
    records: dict[int, list[Record]] = {}
    for ev in events:
        on = records.setdefault(PARTITION[ev.market], [])
        on.append(Record(len(on), encode(ev)))
    bad = {None: None, "origin": misplaced(trade, origin=None), "market": misplaced(trade, market=None),
           "XYZ": misplaced(trade, market="XYZ"), "GEC": encode(trade)}[value]
    on = records.setdefault(partition, [])
    on.append(Record(len(on), bad))
    projector = projector_on(db)

    consumed, dead = projector._decode({TopicPartition("certx.events", p): r for p, r in records.items()})
    projector.settle(consumed)

    assert [(d.partition, d.offset, d.reason) for d in dead] == [(partition, len(records[partition]) - 1, "malformed")]
    want = Ledger()
    for ev in events:
        want.apply(ev)
    store = db.open()
    assert view(store.load_ledger()) == view(want)
    assert store.topic_offsets() == {p: len(r) for p, r in records.items()}


# --- queries -----------------------------------------------------------------------------------------------

@pytest.fixture
def sample(store: Store):
    evs = sample_events()
    ledger, out = settle(store, evs)
    return store, ledger, evs, out


def merged(ranges) -> list[tuple[int, int]]:
    r = RangeSet()
    for a, b in sorted(tuple(x) for x in ranges):
        r.add(a, b)
    return list(r)


def test_a_read_only_store_answers_the_queries_and_writes_nothing(db: Database, store: Store):
    """The queries open the store read only: as PostgreSQL's reader role, which may not create the tables."""
    settle(store, gec_events())
    reader = open_store(db.reader, read_only=True)
    db.stores.append(reader)
    assert reader.retirements("plant-1") == store.retirements("plant-1") != []
    assert reader.holdings("A") == store.holdings("A")
    before = rows(store)
    with pytest.raises((sqlite3.OperationalError, psycopg.errors.ReadOnlySqlTransaction)):
        reader.write(forged_batch())
    assert rows(store) == before


def test_c1_a_read_model_settled_by_a_release_without_surrenders_is_refused_not_answered_as_nothing_surrendered(
        db: Database, sample):
    """C1: `certx compliance` answers from the `surrenders` table, which the first read models (the release of
    2026-11-21) did not have, though their ledger settled surrenders all the same (the units cancelled). A projector
    of this release made the table, empty, and carried on from the stored offsets: gen-01, which surrendered
    200,000 units for 2020, was answered "nothing surrendered". A read model that has settled events and lacks a
    table of settled history is refused instead, saying how to go on; nothing in it is changed."""
    store = sample[0]
    assert store.compliance("gen-01", 2020)["total"] == 200_000
    store.conn.execute("DROP TABLE surrenders")           # as the release of 2026-11-21 made the read model
    store.conn.commit()
    before = rows(store)
    with pytest.raises(Outdated, match=r"surrenders.*new read model") as refused:
        db.open()
    assert rows(store) == before
    assert explain(refused.value).code == 65, "an operator's mistake: one line and its exit code, not a traceback"
    with pytest.raises((sqlite3.OperationalError, psycopg.errors.UndefinedTable)):
        store.query("SELECT 1 FROM surrenders")           # not made, empty, behind the refusal


def test_replay_fresh_replaces_a_read_model_of_an_earlier_release_and_only_when_told(db: Database, sample):
    """The way on from such a read model: `certx replay --fresh` replaces it (PostgreSQL: its tables), and without
    --fresh it is refused as any read model is, rather than failing on what it lacks."""
    store = sample[0]
    store.conn.execute("DROP TABLE surrenders")
    store.conn.commit()
    store.close()
    with pytest.raises(WouldOverwrite):
        open_target(db.dsn, fresh=False)
    target = open_target(db.dsn, fresh=True)
    db.stores.append(target.store)
    assert target.how == "replaced (--fresh)" and not target.store.holds_read_model()
    settle(target.store, sample_events())
    assert target.store.compliance("gen-01", 2020)["total"] == 200_000


def test_an_empty_read_model_of_an_earlier_release_gets_the_tables_it_lacks(db: Database, store: Store):
    """Nothing settled yet: nothing to answer wrongly; the projector makes the missing table and settles."""
    store.conn.execute("DROP TABLE surrenders")
    store.conn.commit()
    again = db.open()
    settle(again, sample_events())
    assert again.compliance("gen-01", 2020)["total"] == 200_000


def test_holdings_of_every_account_match_the_ledger(sample):
    store, ledger, _, _ = sample
    accounts = sorted({a for a, _ in ledger.cash} | {a for a, _ in ledger.units} | set(ledger.gec))
    assert len(accounts) > 10
    for account in accounts:
        h = store.holdings(account)
        assert h["account"] == account
        assert h["cash"] == {m: money.text(v) for (a, m), v in sorted(ledger.cash.items()) if a == account}
        assert h["units"] == {p: q for (a, p), q in sorted(ledger.units.items()) if a == account and q}
        serials = list(ledger.gec.get(account, RangeSet()))
        assert merged(h["gec"]["serials"]) == serials, account
        assert h["gec"]["certificates"] == sum(b - a + 1 for a, b in serials)


def test_holdings_of_an_unknown_account_are_empty(sample):
    store = sample[0]
    assert store.holdings("nobody") == {"account": "nobody", "cash": {}, "units": {},
                                        "gec": {"serials": [], "certificates": 0}}


def event_holding(evs: list[e.Event], kind: type, serial: int, **match) -> e.Event:
    [ev] = [x for x in evs if isinstance(x, kind) and x.serials and any(a <= serial <= b for a, b in x.serials)
            and all(getattr(x, k) == v for k, v in match.items())]
    return ev


def test_certificate_shows_a_traded_serial_issued_listed_traded_and_cancelled_with_positions(sample):
    store, _, evs, _ = sample
    serial = 1_000_000_001
    issued = event_holding(evs, e.Issued, serial)
    listed = event_holding(evs, e.OrderAccepted, serial)
    trade = event_holding(evs, e.Trade, serial)
    c = store.certificate(serial)
    assert (c["serial"], c["status"]) == (serial, "cancelled")
    assert (c["project"], c["province"], c["technology"], c["production_month"], c["subsidised"]) == \
        (issued.project, issued.province, issued.technology, issued.production_month, issued.subsidised)
    assert [h["step"] for h in c["history"]] == ["issued", "listed", "traded", "cancelled"]
    i, l, t, x = c["history"]
    assert (i["account"], i["batch"], i["seq"], i["origin_offset"]) == \
        (issued.account, list(issued.serials[0]), issued.seq, issued.origin.offset)
    assert (l["order_id"], l["account"], l["price"], l["lot"], l["seq"], l["origin_offset"]) == \
        (listed.order_id, listed.account, money.text(listed.price), list(listed.serials[0]), listed.seq,
         listed.origin.offset)
    assert (t["trade_id"], t["seller"], t["buyer"], t["price"], t["seq"], t["origin_offset"]) == \
        (trade.trade_id, trade.seller, trade.buyer, money.text(trade.price), trade.seq, trade.origin.offset)
    assert (x["owner"], x["beneficiary"], x["serials"], x["reason"], x["seq"]) == \
        (trade.buyer, trade.beneficiary, list(trade.serials[0]), "trade", trade.seq)
    assert issued.seq < listed.seq < trade.seq


def test_certificate_shows_an_untouched_serial_as_held(sample):
    store, _, evs, _ = sample
    serial = 1_000_060_000                    # last of re-01's first batch, never listed
    issued = event_holding(evs, e.Issued, serial)
    assert not [x for x in evs if isinstance(x, e.OrderAccepted) and x.serials
                and any(a <= serial <= b for a, b in x.serials)]
    c = store.certificate(serial)
    assert c["status"] == "held"
    assert c["history"] == [{"step": "issued", "account": "re-01", "batch": list(issued.serials[0]),
                             "seq": issued.seq, "origin_offset": issued.origin.offset}]


def test_certificate_shows_a_listed_but_unsold_serial_as_held(sample):
    store, _, evs, _ = sample
    serial = 1_000_015_000                    # in gec-lot-1 but past what was lifted from it
    assert not [x for x in evs if isinstance(x, e.Trade) and any(a <= serial <= b for a, b in x.serials or ())]
    c = store.certificate(serial)
    assert c["status"] == "held"
    assert [h["step"] for h in c["history"]] == ["issued", "listed"]
    assert c["history"][1]["order_id"] == "gec-lot-1"


@pytest.mark.parametrize("serial", [1, 999_999_999, 1_000_060_001, 4_000_000_000])
def test_certificate_of_a_serial_never_issued_is_none(sample, serial):
    assert sample[0].certificate(serial) is None


def test_certificate_shows_an_expired_serial_as_retired(store: Store):
    evs = gec_events()
    settle(store, evs)
    [expired] = [x for x in evs if isinstance(x, e.CertificatesExpired)]
    c = store.certificate(50)
    assert c["status"] == "retired"
    assert c["history"][-1] == {"step": "retired", "owner": "S", "beneficiary": None, "serials": [31, 100],
                                "reason": "expired", "seq": expired.seq}
    assert store.certificate(150)["status"] == "held"
    assert store.certificate(105)["status"] == "cancelled"


def test_retirements_list_exactly_the_cancellations_for_a_beneficiary(sample):
    store, _, evs, out = sample
    trades = {x.trade_id: x for x in evs if isinstance(x, e.Trade)}
    cancelled = [x for x in out if isinstance(x, s.GecCancelled)]
    beneficiaries = {x.beneficiary for x in cancelled}
    assert len(beneficiaries) > 3
    for beneficiary in beneficiaries:
        want = sorted(([a, b], b - a + 1, x.owner, x.trade_id, trades[x.trade_id].seq,
                       trades[x.trade_id].project, trades[x.trade_id].production_month)
                      for x in cancelled if x.beneficiary == beneficiary for a, b in x.serials)
        got = store.retirements(beneficiary)
        assert [(r["serials"], r["certificates"], r["owner"], r["trade_id"], r["seq"], r["project"],
                 r["production_month"]) for r in got] == want, beneficiary
    assert store.retirements("nobody") == []


def test_retirements_do_not_list_expired_certificates(store: Store):
    settle(store, gec_events())
    assert [r["serials"] for r in store.retirements("plant-1")] == [[11, 30]]
    assert [(r["serials"], r["owner"]) for r in store.retirements("C")] == [([101, 110], "C")]
    assert store.retirements("S") == []


def test_stores_opened_at_once_on_a_new_database_each_open_it(db: Database):
    """Two projectors started at the same moment on a PostgreSQL database that has no read model yet: each creates
    the tables if they are missing, and none may fail because the other is creating them at that moment
    (CREATE TABLE IF NOT EXISTS is not safe against a concurrent one: a duplicate key in pg_type)."""
    from concurrent.futures import ThreadPoolExecutor

    if db.dsn.endswith(".db"):
        pytest.skip("PostgreSQL only")
    gate = threading.Barrier(6)

    def open_one(_) -> dict[int, int]:
        gate.wait()
        return db.open().topic_offsets()

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(open_one, range(6))) == [{}] * 6
