"""Snapshots (DESIGN 2): one market engine's state as versioned data, never code.

An engine restored from a snapshot and fed the rest of its command stream gives the events (byte for byte) and
the final state of an engine fed the whole stream: on the shipped sample day and on hypothesis' streams (the
ones tests/properties draws). A snapshot that does not decode, is of another version, does not match its hash,
names an unknown market or does not rebuild to itself is refused with SnapshotError, and nothing in it runs.
"""
from __future__ import annotations

import ast
import random
import zlib
from pathlib import Path
from typing import Callable

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import certx
from certx import cli
from certx.engine import image, snapshot
from certx.engine.snapshot import SnapshotError
from certx.replay import Replay
from certx.wire.codec import encode
from properties.test_invariants import DATES, MARKETS, expand, gec_heavy, mixed, pool_heavy, send
from support import Desk


def restore(engines: dict, position: int) -> None:
    """Every market's engine through a snapshot and back, in place."""
    for market, engine in list(engines.items()):
        restored, at = snapshot.load(snapshot.dump(engine, position))
        assert at == position and restored.market == market
        assert snapshot.state(restored) == snapshot.state(engine)
        engines[market] = restored


# --- the round trip --------------------------------------------------------------------------------------------

def test_the_sample_day_restored_at_every_25th_line_gives_the_same_events_and_state():
    lines = [line for line in cli.sample_path().read_bytes().splitlines() if line.strip()]
    whole, restored = Replay(), Replay()
    for n, line in enumerate(lines):
        if n and n % 25 == 0:
            restore(restored.engines, n)
        assert [encode(x) for x in restored.feed(line)] == [encode(x) for x in whole.feed(line)], f"line {n + 1}"
    for market in MARKETS:
        assert snapshot.state(restored.engines[market]) == snapshot.state(whole.engines[market])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mixed, gec_heavy, pool_heavy))
def test_an_engine_restored_before_every_command_of_a_stream_gives_the_same_events_and_state(ops):
    """DESIGN 2, on every state a stream passes through: each market's engine goes through a snapshot before every
    command, so whatever rests then is restored (pooled lots and the mandates, lots in several ranges, bids with
    hours, curves, open auctions and their sealed bids, held surrender legs, CEA locked until tomorrow). A part a
    snapshot drops or rebuilds otherwise shows when a later command meets it: its events differ from those of the
    engine never restored, byte for byte, or the final states do. (Restored at a few drawn points instead, a
    resting pooled lot went through a snapshot in 6 of 60 streams, a lot in several ranges in 2.)"""
    whole, restored = Desk(date=DATES[0]), Desk(date=DATES[0])
    steps = expand(ops)
    for n, (date, op) in enumerate(steps):
        restore(restored.engines, n)
        assert [encode(x) for x in send(restored, date, op)] == [encode(x) for x in send(whole, date, op)], op
    restore(restored.engines, len(steps))
    for market in MARKETS:
        assert snapshot.state(restored.engines[market]) == snapshot.state(whole.engines[market])


# --- a day with everything an engine keeps ---------------------------------------------------------------------

BROKER = {"A": "B1", "S": "B2", "C": "B3"}


def two_days() -> Desk:
    """Day one (2025-12-30) issues a GEC batch produced in 2023-06 (valid through 2025-12, G2) and one from
    2025-06; day two (2026-01-05) opens, which retires the first (G2), and by 13:45 holds: CEA bought today and
    locked until tomorrow (A3), resting listing orders on several levels with one cancelled behind a live one,
    an open auction with sealed bids (M3), a block offer (M2), resting GEC lots and filtered bids (M4), a band
    change for tomorrow (B3), a surrender (C1) and the CCER issuance record of both registries (G3)."""
    desk = Desk(date="2025-12-30")
    for account, broker in BROKER.items():
        desk.open_account(account, broker)
    desk.list_product("CEA21", "50.00")
    for account in ("A", "C"):
        desk.deposit(account, "CEA", "100000000")
        desk.deposit(account, "GEC", "100000")
    desk.issue_cea("S", "CEA21", 1_000_000)
    desk.send("issue.ccer", actor="registry", account="S", product="CCER", project="P9", vintage=2023,
              quantity=10_000)
    for first, month, province in ((1, "2023-06", "Gansu"), (101, "2025-06", "Yunnan")):
        desk.send("issue.gec", actor="registry", account="S", project=f"P{first}", province=province,
                  technology="hydro", production_month=month, subsidised=False, first_serial=first,
                  last_serial=first + 99)
    for market in MARKETS:
        desk.open_day(market)
        desk.close_day(market)
    desk.date = desk.date.replace(year=2026, month=1, day=5)
    for market in MARKETS:
        desk.open_day(market)
    desk.send("band.set", actor="operator", product="CEA21", mode="listing", ratio="0.05")
    desk.send("surrender", actor="registry", account="S", compliance_year=2025, cea={"CEA21": 1_000}, ccer=0)
    desk.time = "10:00"
    desk.order("s1", "S", "B2", "CEA21", "sell", 1_000, "50.00")
    desk.order("b1", "A", "B1", "CEA21", "buy", 400, "50.00")             # 400 t locked for A until tomorrow
    for order_id, quantity, price in (("s2", 500, "50.10"), ("s3", 300, "50.10"), ("s4", 200, "50.20")):
        desk.order(order_id, "S", "B2", "CEA21", "sell", quantity, price)
    desk.send("order.cancel", actor="B2", account="S", order_id="s3", market="CEA")
    desk.order("b2", "A", "B1", "CEA21", "buy", 100, "49.00")
    desk.order("b3", "C", "B3", "CEA21", "buy", 50, "49.50")
    desk.send("auction.open", actor="B2", auction_id="X1", product="CEA21", seller="S", quantity=10_000,
              reserve_price="45.00", closes_at=desk.at("14:30"))
    for order_id, account, quantity, price in (("x1", "A", 6_000, "46.00"), ("x2", "C", 6_000, "47.00")):
        desk.send("auction.bid", order_id=order_id, actor=BROKER[account], account=account, market="CEA",
                  auction_id="X1", quantity=quantity, price=price)
    desk.time = "13:30"
    desk.order("k1", "S", "B2", "CEA21", "sell", 100_000, "50.00", mode="block")
    desk.order("l1", "S", "B2", "GEC", "sell", 50, "3.00", first_serial=101, last_serial=150)
    desk.order("l2", "S", "B2", "GEC", "sell", 20, "2.50", first_serial=151, last_serial=170)
    desk.order("g1", "A", "B1", "GEC", "buy", 10, "2.00", filter={"provinces": ["Yunnan"], "max_age_months": 21})
    desk.order("g2", "C", "B3", "GEC", "buy", 5, "2.60", filter={"exclude_provinces": ["Gansu"]}, beneficiary="plant")
    # M5: addressed to C, whole or nothing; it would cross C's own bid g2 if it were public
    desk.order("l3", "S", "B2", "GEC", "sell", 30, "2.40", first_serial=171, last_serial=200, counterparty="C",
               partial=False)
    desk.time = "13:45"
    return desk


def rest_of_the_days(desk: Desk) -> list[bytes]:
    """What follows the snapshot: trades against what rests, the auction's close, the day's close (D2) and the
    next open (A3, B3, G2)."""
    events = desk.order("b4", "C", "B3", "CEA21", "buy", 700, "50.10")
    events += desk.send("order.lift", order_id="b5", actor="B1", account="A", market="GEC", target="l1", quantity=5,
                        time="14:00")
    for order_id, account, quantity in (("b6", "A", 30), ("b7", "C", 10), ("b8", "C", 30)):     # M5 after a restore
        events += desk.send("order.lift", order_id=order_id, actor=BROKER[account], account=account, market="GEC",
                            target="l3", quantity=quantity, time="14:05")
    events += desk.send("order.accept", order_id="a1", actor="B1", account="A", market="CEA", target="k1",
                        quantity=100_000, time="14:10")
    events += desk.send("funds.deposit", actor="bank", account="A", market="CEA", amount="1", time="14:30")
    for market in MARKETS:
        events += desk.close_day(market)
    desk.date = desk.date.replace(day=6)
    for market in MARKETS:
        events += desk.open_day(market)
    events += desk.order("s5", "A", "B1", "CEA21", "sell", 400, "50.00", time="10:00")
    return [encode(x) for x in events]


@pytest.fixture(scope="module")
def saved() -> dict[str, bytes]:
    desk = two_days()
    return {market: snapshot.dump(engine, 1_000 + n) for n, (market, engine) in enumerate(desk.engines.items())}


def test_A3_M2_M3_M4_M5_G2_a_busy_day_goes_on_after_a_snapshot_as_if_it_had_not_been_taken():
    whole, restored = two_days(), two_days()
    restore(restored.engines, 1)
    cea, gec = restored.engines["CEA"], restored.engines["GEC"]
    assert cea.auctions["X1"].bids and cea.blocks.offers and cea.locked
    assert gec.lots.lots and gec.lots.bids and any(b.expired for b in gec.issuance.batches())
    assert (gec.lots.orders["l3"].counterparty, gec.lots.orders["l3"].partial) == ("C", False)
    after = rest_of_the_days(restored)
    assert after == rest_of_the_days(whole)
    lifts = [msgspec.json.decode(x) for x in after if b'"b6"' in x or b'"b7"' in x or b'"b8"' in x]
    assert [(x["type"], x.get("reason")) for x in lifts if x["type"] != "order.accepted"] == \
        [("order.rejected", "not_authorised"), ("order.rejected", "lot_size"), ("trade", None)]
    for market in MARKETS:
        assert snapshot.state(restored.engines[market]) == snapshot.state(whole.engines[market])


def test_A3_units_waiting_for_T1_are_the_positions_of_their_wallets_after_a_restore(saved):
    engine, _ = snapshot.load(saved["CEA"])
    (pos,) = engine.locked
    assert pos is engine.wallets["A"].positions["CEA21"] and pos.locked == 400


def test_G2_M4_a_restored_lot_holds_its_issuance_batch_itself_and_expired_batches_stay_expired(saved):
    engine, position = snapshot.load(saved["GEC"])
    assert position == 1_002
    batches = engine.issuance.batches()
    assert [b.expired for b in batches] == [True, False]
    lots = [o for o in engine.lots.orders.values() if hasattr(o, "batch")]
    assert [lot.order_id for lot in lots] == ["l1", "l2", "l3"] and all(lot.batch is batches[1] for lot in lots)
    (bid,) = engine.lots.bids
    assert bid.eligibility.accepts(batches[1], 2026 * 12) and not bid.eligibility.accepts(batches[0], 2026 * 12)


def test_M3_the_next_auction_close_and_the_session_windows_are_derived_again(saved):
    engine, _ = snapshot.load(saved["CEA"])
    whole = two_days().engines["CEA"]
    assert engine.next_auction_close == whole.next_auction_close is not None
    assert (engine.listing_windows, engine.block_windows) == (whole.listing_windows, whole.block_windows)
    assert engine.products["CEA21"].listing_limits == whole.products["CEA21"].listing_limits


def test_a_cancelled_order_is_not_kept_and_the_levels_keep_their_priority(saved):
    engine, _ = snapshot.load(saved["CEA"])
    book = engine.products["CEA21"].book
    asks = book.asks
    assert [(price, [o.order_id for o in asks.levels[price].queue]) for price in asks.prices()] == \
        [(5000, ["s1"]), (5010, ["s2"]), (5020, ["s4"])]
    assert asks.levels[5010].live == 1 and book.bids.prices() == [4950, 4900]
    assert list(book.orders) == ["s1", "s2", "s4", "b2", "b3"]


# --- refused --------------------------------------------------------------------------------------------------

def test_every_flipped_byte_is_refused(saved):
    """The hash covers the state, its market and the position it stands at; the header's own fields are checked
    for what they are."""
    blob = saved["CEA"]
    for i in range(len(blob)):
        flipped = bytearray(blob)
        flipped[i] ^= 0xFF
        with pytest.raises(SnapshotError):
            snapshot.load(bytes(flipped))


def test_a_truncated_snapshot_is_refused(saved):
    blob = saved["GEC"]
    for n in list(range(0, 64)) + list(range(64, len(blob), 7)) + [len(blob) - 1]:
        with pytest.raises(SnapshotError):
            snapshot.load(blob[:n])


@pytest.mark.parametrize("garbage", [
    b"", b"\x00", b"\xc1", b"null", b'{"version": 2, "market": "CEA"}', bytes(range(256)),
    random.Random(7).randbytes(5_000), msgspec.msgpack.encode(["certx.snapshot"]),
    msgspec.msgpack.encode(["certx.snapshot", "2"]), msgspec.msgpack.encode({"certx.snapshot": 2}),
], ids=lambda b: repr(b[:12]))
def test_garbage_is_refused(garbage):
    with pytest.raises(SnapshotError):
        snapshot.load(garbage)


def test_a_pickle_era_snapshot_is_refused_and_nothing_in_it_runs(tmp_path):
    """Version 1 was `certx-engine-1:` and a zlib'd pickle, which runs code when loaded. This one would create a
    file (pickle protocol 0: call os.system)."""
    marker = tmp_path / "ran"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    with pytest.raises(SnapshotError, match="not a certx snapshot"):
        snapshot.load(b"certx-engine-1:" + zlib.compress(payload, 1))
    assert not marker.exists()


def test_a_wrong_hash_an_unknown_market_and_a_future_version_are_refused(saved):
    snap = msgspec.msgpack.decode(saved["CEA"], type=image.Snapshot)
    for change, reason in (({"state_hash": "0" * 64}, "hash"), ({"market": "EUA"}, "no market"),
                           ({"version": image.VERSION + 1}, "version 3"), ({"version": 1}, "version 1"),
                           ({"state": zlib.compress(b"\x92\x90\x90", 1)}, "hash")):
        with pytest.raises(SnapshotError, match=reason):
            snapshot.load(msgspec.msgpack.encode(msgspec.structs.replace(snap, **change)))


def resealed(blob: bytes, change: Callable[[image.State], None]) -> bytes:
    """A snapshot whose state was changed and then hashed again: it decodes and verifies, but holds a state the
    engine could never have been in."""
    snap = msgspec.msgpack.decode(blob, type=image.Snapshot)
    state = msgspec.msgpack.decode(zlib.decompress(snap.state), type=image.State)
    change(state)
    data = msgspec.msgpack.encode(state)
    return msgspec.msgpack.encode(msgspec.structs.replace(snap, state_hash=snapshot.state_hash(snap.market,
                                                                                              snap.position, data),
                                                          state=zlib.compress(data, 1)))


def _book(s: image.State) -> image.Book:
    return s.books[0]


TAMPERED: dict[str, tuple[str, Callable[[image.State], object]]] = {
    "a wallet twice": ("CEA", lambda s: s.engine.wallets.append(s.engine.wallets[0])),
    "a position twice": ("CEA", lambda s: s.engine.wallets[0].positions.append(s.engine.wallets[0].positions[0])),
    "a locked position of nobody": ("CEA", lambda s: s.engine.locked.append(("nobody", "CEA21"))),
    "an auction twice": ("CEA", lambda s: s.engine.auctions.append(s.engine.auctions[0])),
    "an order id resting twice": ("CEA", lambda s: _book(s).order_ids.__setitem__(1, "s1")),
    "an order id resting and also elsewhere": ("CEA", lambda s: s.engine.order_ids.append("s1")),
    "the other order ids out of order": ("CEA", lambda s: s.engine.order_ids.reverse()),
    "levels out of priority order": ("CEA", lambda s: _book(s).asks.reverse()),
    "an empty level": ("CEA", lambda s: _book(s).asks.append(5100)),
    "a dead order": ("CEA", lambda s: _book(s).remaining.__setitem__(0, 0)),
    "columns of two lengths": ("CEA", lambda s: _book(s).remaining.append(5)),
    "an account index out of range": ("CEA", lambda s: _book(s).accounts.__setitem__(0, 99)),
    "a negative account index": ("CEA", lambda s: _book(s).accounts.__setitem__(0, -1)),
    "a level index out of range": ("CEA", lambda s: _book(s).levels.__setitem__(0, 5)),
    "a negative level index": ("CEA", lambda s: _book(s).levels.__setitem__(0, -1)),
    "a book too few": ("CEA", lambda s: s.books.pop()),
    "overlapping ranges": ("GEC", lambda s: s.engine.cancelled.extend([(1000, 1005), (1003, 1008)])),
    "touching ranges not merged": ("GEC", lambda s: s.engine.retired.extend([(1000, 1001), (1002, 1003)])),
    "a batch twice": ("GEC", lambda s: s.engine.batches.append(s.engine.batches[0])),
}


@pytest.mark.parametrize("name", sorted(TAMPERED))
def test_a_state_that_does_not_rebuild_to_itself_is_refused(saved, name):
    market, change = TAMPERED[name]
    with pytest.raises(SnapshotError):
        snapshot.load(resealed(saved[market], change))


def test_a_lot_outside_every_batch_is_refused(saved):
    def move(s: image.State) -> None:
        lot = s.engine.gec_orders[0]
        lot.first, lot.last = 5_000, 5_010
    with pytest.raises(SnapshotError, match="not inside one batch"):
        snapshot.load(resealed(saved["GEC"], move))


def test_an_unchanged_resealed_snapshot_still_loads(saved):
    """The tampering tests above fail for what they change, not for the resealing."""
    for market, blob in saved.items():
        engine, _ = snapshot.load(resealed(blob, lambda s: None))
        assert snapshot.state(engine) == snapshot.state(snapshot.load(blob)[0])


def test_nothing_in_certx_imports_a_serialiser_that_runs_code():
    """Snapshots are data (DESIGN 2): no pickle, marshal, shelve or dill anywhere in the library."""
    banned = {"pickle", "marshal", "shelve", "dill", "cloudpickle"}
    for path in Path(certx.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not {n.split(".")[0] for n in names} & banned, f"{path} imports {names}"
            assert not (isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("eval", "exec")), path


# --- issue 13: curves, lots in several ranges, bids with hours ----------------------------------------------------

BEFORE_HOURS = Path(__file__).parent / "data"


@pytest.mark.parametrize("market", MARKETS)
def test_a_snapshot_from_before_the_hours_still_loads_and_saves_to_the_same_bytes(market):
    """`two-days-before-hours.*.snapshot` were dumped by the engine before issue 13 (two_days(), at position
    1000): they load, and an engine without curves, with its lots in one range and its bids without hours, encodes
    as it did then."""
    blob = (BEFORE_HOURS / f"two-days-before-hours.{market}.snapshot").read_bytes()
    engine, position = snapshot.load(blob)
    assert snapshot.dump(engine, position) == blob
    assert snapshot.state(engine) == snapshot.state(two_days().engines[market])


def with_hours() -> Desk:
    """June 2025 (720 hours) of project SUN: 1,000 kWh in each hour 10:00-14:00 and 300 kWh more at the end,
    carried into July's curve; a lot of June's certificates from whose middle a bid with hours took some; a resting
    bid with an hour mask and a window; and one with a share."""
    desk = Desk(date="2025-08-04")
    for account, broker in BROKER.items():
        desk.open_account(account, broker)
    desk.deposit("A", "GEC", "100000")
    desk.deposit("C", "GEC", "100000")
    for first, month, days in ((1, "2025-06", 30), (1001, "2025-07", 31)):
        desk.send("issue.gec", actor="registry", account="S", project="SUN", province="Gansu", technology="solar",
                  production_month=month, subsidised=False, first_serial=first, last_serial=first + 4 * days - 1)
    june = [1_000 if 10 <= h % 24 < 14 else 0 for h in range(720)]
    june[-11] += 300
    july = [1_000 if 10 <= h % 24 < 14 else 0 for h in range(744)]
    july[-11] -= 300
    desk.send("curve.attach", actor="registry", project="SUN", production_month="2025-06", kwh=june)
    desk.send("curve.attach", actor="registry", project="SUN", production_month="2025-07", kwh=july)
    desk.open_day("GEC")
    desk.order("l1", "S", "B2", "GEC", "sell", 120, "2.00", first_serial=1, last_serial=120)
    desk.order("g1", "A", "B1", "GEC", "buy", 3, "2.00", filter={"hours": [[11, 12]], "strict": True})
    desk.order("g2", "C", "B3", "GEC", "buy", 50, "1.50",
               filter={"hours": [[0, 6], [12, 24]], "hours_from": "2025-07-01T00:00:00+08:00", "min_share": 40})
    desk.order("g3", "A", "B1", "GEC", "buy", 5, "1.00", filter={"hours_to": "2025-06-02T00:00:00Z", "strict": True})
    return desk


def test_curves_lots_in_several_ranges_and_bids_with_hours_survive_a_snapshot():
    whole, restored = with_hours(), with_hours()
    restore(restored.engines, 1)
    gec = restored.engines["GEC"]
    june, july = gec.curves.curve_of("SUN", 2025 * 12 + 5), gec.curves.curve_of("SUN", 2025 * 12 + 6)
    assert july.previous is june and (june.carry_out, july.carry_in) == (300, 300)
    assert list(gec.lots.orders["l1"].serials) == [(1, 1), (3, 5), (7, 9), (11, 120)]
    assert gec.lots.orders["l1"].remaining == 117
    assert [(b.order_id, b.eligibility.hours is not None) for b in gec.lots.bids] == \
        [("g2", True), ("g3", True)]
    after = []
    for desk in (restored, whole):
        events = desk.order("l2", "S", "B2", "GEC", "sell", 124, "1.00", first_serial=1001, last_serial=1124)
        events += desk.send("order.lift", order_id="x1", actor="B3", account="C", market="GEC", target="l1",
                            quantity=5)
        events += desk.close_day("GEC")
        after.append([encode(x) for x in events])
    assert after[0] == after[1] and b'"trade"' in after[0][1]
    for market in MARKETS:
        assert snapshot.state(restored.engines[market]) == snapshot.state(whole.engines[market])


@pytest.fixture(scope="module")
def saved_hours() -> bytes:
    return snapshot.dump(with_hours().engines["GEC"], 5)


def _curve(s: image.State, i: int = 0) -> image.Curve:
    return s.hours.curves[i]


def _hours(s: image.State, change: Callable[[list[int]], None], width: int = 4) -> None:
    """Change June's cumulative kWh (4 bytes an hour: its total is over 65,535) and save them `width` bytes wide."""
    curve = _curve(s)
    cum = [int.from_bytes(curve.cum[i:i + 4], "little") for i in range(0, len(curve.cum), 4)]
    change(cum)
    curve.cum = b"".join(v.to_bytes(width, "little") for v in cum)


HOURS_TAMPERED = {
    "a carry in that is not the previous month's carry out": lambda s: setattr(_curve(s, 1), "carry_in", 299),
    "a first month with a carry in": lambda s: setattr(_curve(s), "carry_in", 1),
    "a month that does not add up": lambda s: _hours(s, lambda cum: cum.__setitem__(-1, cum[-1] + 1_000)),
    "hours that go backwards": lambda s: _hours(s, lambda cum: cum.__setitem__(0, 10**6)),
    "a month of too few hours": lambda s: _hours(s, lambda cum: cum.pop()),
    "a wider array than the total needs": lambda s: _hours(s, lambda cum: None, width=8),
    "a curve of serials that are not its batch": lambda s: setattr(_curve(s), "serials", [(1, 119)]),
    "curves out of production order": lambda s: s.hours.curves.reverse(),
    "a curve twice": lambda s: s.hours.curves.append(_curve(s)),
    "a lot's ranges overlapping": lambda s: s.hours.lots.__setitem__(0, ("l1", [(1, 4), (7, 9)])),
    "a lot's ranges touching": lambda s: s.hours.lots.__setitem__(0, ("l1", [(2, 5)])),
    "a lot's range beyond its batch": lambda s: s.hours.lots.__setitem__(0, ("l1", [(200, 200)])),
    "a lot's ranges given twice": lambda s: s.hours.lots.append(s.hours.lots[0]),
    "a bid's hours on a lot": lambda s: s.hours.bids.append(("l1", s.hours.bids[0][1])),
    "a bid's hours given twice": lambda s: s.hours.bids.append(s.hours.bids[0]),
    "a lot that is not in several ranges": lambda s: s.hours.lots.__setitem__(0, ("l1", [])),
}


def test_the_tampering_changes_what_it_says():
    state = msgspec.msgpack.decode(zlib.decompress(msgspec.msgpack.decode(snapshot.dump(with_hours().engines["GEC"], 5),
                                                                          type=image.Snapshot).state), type=image.State)
    before = bytes(_curve(state).cum)
    _hours(state, lambda cum: None)
    assert _curve(state).cum == before and len(before) == 4 * 720


@pytest.mark.parametrize("name", sorted(HOURS_TAMPERED))
def test_a_curve_or_a_lot_that_does_not_rebuild_to_itself_is_refused(saved_hours, name):
    with pytest.raises(SnapshotError):
        snapshot.load(resealed(saved_hours, HOURS_TAMPERED[name]))


def test_an_unchanged_resealed_snapshot_with_hours_still_loads(saved_hours):
    engine, _ = snapshot.load(resealed(saved_hours, lambda s: None))
    assert snapshot.state(engine) == snapshot.state(snapshot.load(saved_hours)[0])
