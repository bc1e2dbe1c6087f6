"""Settlement agrees with the engines, whatever brokers, the registry, the bank and the operator send.

The command sequences are test_invariants.py's (right and wrong brokers, orders in and out of band, cancels, lifts,
block offers and accepts, GEC issuance, lots, filtered bids, cash in and out, surrenders, day rolls with G2
expiry; issue 13's curves, bids with hours, mandates and pooled lots), plus deals that trade for sure (a block
offer and its accept, a CCER sell and a buy that meets it), which the random steps alone rarely produce. Every
event the engines publish is settled by a Ledger at once, and after every command:

- A4: for each market and account, settled cash == the engine's cash + cash_held (what a reservation holds is
  still the account's until it trades); settled units == free + held + locked;
- G1/G2: an account's settled GEC serials == what the engine says it holds plus its resting lots (and, an owner's,
  its parts of pooled lots); the ledger's cancelled and retired serials == the engine's;
- the ledger refuses no genuine engine event (no `settlement.rejected`);
- every book checks its own invariants (test_invariants.check_books);
and at the end the whole stream delivered again settles nothing.
"""
from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from certx.books.gec import Lot, PooledLot
from certx.ledger import Ledger
from certx.registry.serials import RangeSet
from certx.wire import settlements as s
from support import Desk

from properties.test_invariants import (ACCOUNTS, DATES, MARKETS, STEPS, check_books, expand, gec_heavy, mixed, send,
                                        weighted, yuan)

# --- deals: two commands that trade when the accounts have what it takes ----------------------------------------


@st.composite
def block_deal(draw):
    """A block offer (a sell by S or T, or a buy by A or B) and the other side accepting it, in block hours."""
    sell = draw(st.booleans())
    maker = draw(st.sampled_from(["S", "T"] if sell else ["A", "B"]))
    taker = draw(st.sampled_from(["A", "B"] if sell else ["S", "T"]))
    quantity = draw(st.sampled_from([100_000, 150_000, 200_000]))
    offer = {"type": "order.new", "mode": "block", "time": "13:30", "order_id": "@new", "actor": ACCOUNTS[maker],
             "account": maker, "product": "CEA21", "side": "sell" if sell else "buy", "quantity": quantity,
             "price": yuan(draw(st.integers(4000, 6000)))}
    take = {"type": "order.accept", "time": "14:00", "order_id": "@new", "actor": ACCOUNTS[taker], "account": taker,
            "market": "CEA", "target": 0, "quantity": draw(st.sampled_from([quantity, 100_000]))}
    return [offer, take]


@st.composite
def ccer_deal(draw):
    """S sells CCER on the listing book and A or B buys at that price or better."""
    price = draw(st.integers(2000, 6000))
    quantity = draw(st.integers(1, 3000))
    buyer = draw(st.sampled_from(["A", "B"]))
    time = draw(st.sampled_from(["10:00", "14:00"]))
    sell = {"type": "order.new", "time": time, "order_id": "@new", "actor": "B2", "account": "S", "product": "CCER",
            "side": "sell", "quantity": quantity, "price": yuan(price)}
    buy = {"type": "order.new", "time": time, "order_id": "@new", "actor": ACCOUNTS[buyer], "account": buyer,
           "product": "CCER", "side": "buy", "quantity": draw(st.integers(1, quantity)),
           "price": yuan(price + draw(st.sampled_from([0, 0, 50])))}
    return [sell, buy]


def one(strategy):
    return strategy.map(lambda op: [op])


with_deals = st.lists(weighted(
    (10, one(STEPS["listing"])), (3, one(STEPS["cancel"])), (2, one(STEPS["lift"])), (2, one(STEPS["block"])),
    (2, one(STEPS["accept"])), (4, block_deal()), (3, ccer_deal()), (1, one(STEPS["issue_gec"])),
    (3, one(STEPS["lot"])), (3, one(STEPS["bid"])), (1, one(STEPS["gec_lift"])), (1, one(STEPS["funds"])),
    (1, one(STEPS["issue"])), (1, one(STEPS["surrender"])), (2, one(STEPS["operator"])),
), min_size=15, max_size=50).map(lambda steps: [op for step in steps for op in step])


def check(desk: Desk, ledger: Ledger) -> None:
    engines = desk.engines
    # A4: cash per market and account; units per account and product
    cash: dict[tuple[str, str], int] = {}
    units: Counter = Counter()
    for market in MARKETS:
        for account, w in engines[market].wallets.items():
            cash[account, market] = w.cash + w.cash_held
            for product, pos in w.positions.items():
                units[account, product] += pos.free + pos.held + pos.locked
    assert {k: v for k, v in ledger.cash.items() if v} == {k: v for k, v in cash.items() if v}, "cash"
    assert {k: v for k, v in ledger.units.items() if v} == {k: v for k, v in units.items() if v}, "units"
    # G1, G2: GEC serials
    gec = engines["GEC"]
    engine_gec: dict[str, RangeSet] = {}
    for account, serials in gec.serials.items():
        r = engine_gec.setdefault(account, RangeSet())
        for a, b in serials:
            r.add(a, b)
    for lot in gec.lots.orders.values():        # every resting lot, public or addressed (M5)
        # a pooled lot's serials are still its owners' (issue 13), each part's its owner's, not the agent's
        owned = [(p.owner, p.serials) for p in lot.parts] if isinstance(lot, PooledLot) else \
            [(lot.account, lot.serials)] if isinstance(lot, Lot) else []
        for owner, serials in owned:
            for first, last in serials:
                engine_gec.setdefault(owner, RangeSet()).add(first, last)
    assert {a: list(r) for a, r in ledger.gec.items() if len(r)} == \
        {a: list(r) for a, r in engine_gec.items() if len(r)}, "GEC holdings"
    assert list(ledger.cancelled) == list(gec.cancelled), "cancelled"
    assert list(ledger.retired) == list(gec.retired), "retired"


def play(ops: list[dict]) -> None:
    desk, ledger = Desk(date=DATES[0]), Ledger()
    events = []
    for date, op in expand(ops):
        evs = send(desk, date, op)
        out = [x for ev in evs for x in ledger.apply(ev)]
        note(f"{date} {op} -> {[type(x).__name__ for x in evs]} -> {[type(x).__name__ for x in out]}")
        refused = [x for x in out if isinstance(x, s.SettlementRejected)]
        assert not refused, f"the ledger refused genuine engine events: {refused}"
        check(desk, ledger)
        check_books(desk)
        events += evs
    # the whole stream again: every event is a duplicate
    assert [x for ev in events for x in ledger.apply(ev)] == []
    check(desk, ledger)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(mixed)
def test_the_ledger_settles_exactly_what_the_engines_hold(ops):
    play(ops)


@SETTINGS
@given(with_deals)
def test_the_ledger_settles_block_and_ccer_trades_as_the_engines_do(ops):
    play(ops)


@SETTINGS
@given(gec_heavy)
def test_the_ledger_holds_exactly_the_engines_gec_serials(ops):
    play(ops)
