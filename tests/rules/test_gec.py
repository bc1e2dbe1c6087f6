"""GEC market rules: P3 (lots), M4 (lots and filtered bids), G1 (single transfer), G2 (expiry), G4 (filters),
S2 (sizes). Each test sends real wire commands through `Desk` and reads the events and the registry state."""
from __future__ import annotations

import msgspec
import pytest

from support import Desk, only, rejected
from certx.wire import events as e

YUAN = 100  # fen


# --- the usual GEC set-up --------------------------------------------------------------------------------

def gec_desk(date: str = "2025-06-16") -> Desk:
    """Sellers S and T (broker B2), buyers A (B1) and C (B3), each buyer with 100,000 yuan in the GEC market.
    No batch issued, no session open yet."""
    desk = Desk(date=date)
    for account, broker in (("S", "B2"), ("T", "B2"), ("A", "B1"), ("C", "B3")):
        desk.open_account(account, broker)
    desk.deposit("A", "GEC", "100000")
    desk.deposit("C", "GEC", "100000")
    return desk


def issue(desk: Desk, account: str, first: int, last: int, *, project: str = "P1", province: str = "Gansu",
          technology: str = "wind", month: str = "2025-03", subsidised: bool = False) -> list[e.Event]:
    return desk.send("issue.gec", actor="registry", account=account, project=project, province=province,
                     technology=technology, production_month=month, subsidised=subsidised,
                     first_serial=first, last_serial=last)


BROKER = {"S": "B2", "T": "B2", "A": "B1", "C": "B3"}


def lot(desk: Desk, order_id: str, account: str, first: int, last: int, price: str,
        quantity: int | None = None) -> list[e.Event]:
    qty = last - first + 1 if quantity is None else quantity
    return desk.order(order_id, account, BROKER[account], "GEC", "sell", qty, price,
                      first_serial=first, last_serial=last)


def bid(desk: Desk, order_id: str, account: str, quantity: int, price: str, **extra) -> list[e.Event]:
    return desk.order(order_id, account, BROKER[account], "GEC", "buy", quantity, price, **extra)


def lift(desk: Desk, order_id: str, account: str, target: str, quantity: int, **extra) -> list[e.Event]:
    return desk.send("order.lift", order_id=order_id, actor=BROKER[account], account=account, market="GEC",
                     target=target, quantity=quantity, **extra)


def held(desk: Desk, account: str) -> list[tuple[int, int]]:
    serials = desk.engines["GEC"].serials.get(account)
    return [] if serials is None else list(serials)


def trades(events) -> list[e.Trade]:
    return only(events, e.Trade)


def fills(events) -> list[tuple[str, str, int, list[tuple[int, int]]]]:
    """(sell_order, buy_order, price in fen, serials) for each trade, in event order."""
    return [(t.sell_order, t.buy_order, int(t.price), [tuple(r) for r in t.serials]) for t in trades(events)]


def cash(desk: Desk, account: str) -> tuple[int, int]:
    w = desk.engines["GEC"].wallets[account]
    return w.cash, w.cash_held


# --- P3: a lot is a contiguous serial range of one project and month, at one price ----------------------

def test_p3_a_lot_is_a_serial_range_at_one_price_and_its_trade_carries_the_lot_attributes():
    desk = gec_desk()
    issue(desk, "S", 1, 100, project="P1", province="Qinghai", technology="solar", month="2025-02", subsidised=True)
    desk.open_day("GEC")
    assert rejected(lot(desk, "L1", "S", 11, 60, "3.50")) is None
    ev = bid(desk, "b1", "A", 50, "3.50")
    [t] = trades(ev)
    assert (t.product, t.mode, t.quantity, int(t.price)) == ("GEC", "lot", 50, 350)
    assert (t.project, t.province, t.technology, t.production_month, t.subsidised) == \
        ("P1", "Qinghai", "solar", "2025-02", True)
    assert [tuple(r) for r in t.serials] == [(11, 60)]


def test_p3_a_lot_cannot_span_two_issuance_batches_even_when_the_serials_are_contiguous():
    desk = gec_desk()
    issue(desk, "S", 1, 100, project="P1", month="2025-02")
    issue(desk, "S", 101, 200, project="P1", month="2025-03")
    desk.open_day("GEC")
    assert held(desk, "S") == [(1, 200)]      # one merged holding, two batches
    assert rejected(lot(desk, "L1", "S", 51, 150, "3.00")) == "insufficient_holdings"
    assert rejected(lot(desk, "L2", "S", 51, 100, "3.00")) is None
    assert rejected(lot(desk, "L3", "S", 101, 150, "3.00")) is None


def test_p3_lot_quantity_must_be_its_certificate_count():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    assert rejected(lot(desk, "L1", "S", 1, 50, "3.00", quantity=49)) == "lot_size"
    assert rejected(lot(desk, "L1", "S", 1, 50, "3.00", quantity=51)) == "lot_size"
    assert held(desk, "S") == [(1, 100)]


# --- M4: bids fill cheapest eligible lots first, older first at equal price ------------------------------

def test_m4_a_bid_fills_from_the_cheapest_eligible_lots_first_at_each_lots_price():
    desk = gec_desk()
    issue(desk, "S", 1, 100, province="Gansu")
    issue(desk, "T", 101, 200, province="Gansu")
    issue(desk, "S", 201, 300, province="Yunnan")
    desk.open_day("GEC")
    lot(desk, "L300", "S", 1, 100, "3.00")
    lot(desk, "L200", "T", 101, 200, "2.00")
    lot(desk, "L150", "S", 201, 300, "1.50")   # the cheapest, but not eligible for the bid below
    ev = bid(desk, "b1", "A", 150, "3.00", filter={"exclude_provinces": ["Yunnan"]})
    assert fills(ev) == [("L200", "b1", 200, [(101, 200)]), ("L300", "b1", 300, [(1, 50)])]
    # the buyer paid each lot's price, and its reservation at 3.00 was released down to what it paid
    assert cash(desk, "A") == (100_000 * YUAN - 100 * 200 - 50 * 300, 0)
    assert desk.engines["GEC"].wallets["T"].cash == 100 * 200
    assert desk.engines["GEC"].wallets["S"].cash == 50 * 300


def test_m4_a_bid_does_not_take_lots_above_its_price():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    lot(desk, "L1", "S", 1, 100, "3.01")
    ev = bid(desk, "b1", "A", 10, "3.00")
    assert trades(ev) == []
    assert cash(desk, "A") == (100_000 * YUAN - 10 * 300, 10 * 300)


def test_m4_at_equal_price_the_older_lot_fills_first():
    desk = gec_desk()
    issue(desk, "S", 1, 200)          # one batch: the two lots are the same goods, listed at different times
    desk.open_day("GEC")
    lot(desk, "Lold", "S", 101, 200, "2.00")
    lot(desk, "Lnew", "S", 1, 100, "2.00")
    ev = bid(desk, "b1", "A", 150, "2.00")
    assert fills(ev) == [("Lold", "b1", 200, [(101, 200)]), ("Lnew", "b1", 200, [(1, 50)])]


def test_m4_a_new_lot_fills_the_best_eligible_resting_bids_first_at_the_bids_prices():
    desk = gec_desk()
    issue(desk, "S", 1, 300, province="Gansu")
    desk.open_day("GEC")
    bid(desk, "b500", "A", 100, "5.00", filter={"provinces": ["Qinghai"]})   # best price, not eligible
    bid(desk, "b300", "C", 100, "3.00")
    bid(desk, "b400a", "A", 40, "4.00")
    bid(desk, "b400b", "C", 40, "4.00")
    bid(desk, "b100", "A", 100, "1.00")                                     # below the lot's price
    ev = lot(desk, "L1", "S", 1, 100, "2.00")
    assert fills(ev) == [("L1", "b400a", 400, [(1, 40)]), ("L1", "b400b", 400, [(41, 80)]),
                         ("L1", "b300", 300, [(81, 100)])]
    eng = desk.engines["GEC"]
    assert eng.wallets["S"].cash == 40 * 400 + 40 * 400 + 20 * 300
    # b300 rests with 80 left, its reservation reduced by what it bought; the ineligible bid is untouched
    assert eng.lots.orders["b300"].remaining == 80
    assert eng.lots.orders["b500"].remaining == 100
    assert "L1" not in eng.lots.orders


def test_m4_a_new_lot_larger_than_the_bids_rests_with_what_is_left():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    bid(desk, "b1", "A", 30, "4.00")
    ev = lot(desk, "L1", "S", 1, 100, "2.00")
    assert fills(ev) == [("L1", "b1", 400, [(1, 30)])]
    rest = desk.engines["GEC"].lots.orders["L1"]
    assert list(rest.serials) == [(31, 100)] and rest.remaining == 70


def test_m4_a_lift_takes_the_one_named_lot_at_its_price_even_when_a_cheaper_lot_rests():
    desk = gec_desk()
    issue(desk, "S", 1, 100, province="Gansu")
    issue(desk, "T", 101, 200, province="Qinghai")
    desk.open_day("GEC")
    lot(desk, "Lcheap", "S", 1, 100, "2.00")
    lot(desk, "Lnamed", "T", 101, 200, "3.00")
    ev = lift(desk, "x1", "A", "Lnamed", 30, beneficiary="A-plant")
    [t] = trades(ev)
    assert (t.sell_order, t.buy_order, int(t.price), t.quantity) == ("Lnamed", "x1", 300, 30)
    assert [tuple(r) for r in t.serials] == [(101, 130)]
    assert (t.seller, t.buyer, t.beneficiary, t.province) == ("T", "A", "A-plant", "Qinghai")
    eng = desk.engines["GEC"]
    assert eng.lots.orders["Lcheap"].remaining == 100
    assert eng.lots.orders["Lnamed"].remaining == 70
    assert cash(desk, "A") == (100_000 * YUAN - 30 * 300, 0)


def test_m4_a_lift_of_something_that_is_not_a_resting_lot_is_unknown_order():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    bid(desk, "b1", "C", 10, "1.00")
    assert rejected(lift(desk, "x1", "A", "nope", 1)) == "unknown_order"
    assert rejected(lift(desk, "x2", "A", "b1", 1)) == "unknown_order"   # a bid is not a lot


def test_m4_trade_price_is_the_resting_sides_price_both_ways():
    desk = gec_desk()
    issue(desk, "S", 1, 200)
    desk.open_day("GEC")
    lot(desk, "L1", "S", 1, 10, "2.00")
    [t1] = trades(bid(desk, "b1", "A", 10, "5.00"))          # bid is the aggressor: the lot's price
    bid(desk, "b2", "C", 10, "4.00")
    [t2] = trades(lot(desk, "L2", "S", 11, 20, "1.00"))       # lot is the aggressor: the bid's price
    assert (int(t1.price), int(t2.price)) == (200, 400)
    assert desk.engines["GEC"].wallets["S"].cash == 10 * 200 + 10 * 400


def test_m4_day_summary_counts_gec_trades_as_listing():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    lot(desk, "L1", "S", 1, 100, "2.00")
    bid(desk, "b1", "A", 30, "2.00")
    bid(desk, "b2", "A", 10, "3.00")
    [summary] = only(desk.close_day("GEC"), e.DaySummary)
    assert (summary.product, summary.listing_volume, int(summary.listing_value)) == ("GEC", 40, 40 * 200)


# --- G1: a GEC is traded at most once ------------------------------------------------------------------

def test_g1_bought_certificates_are_cancelled_and_can_never_be_listed_again():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    lot(desk, "L1", "S", 1, 100, "2.00")
    [t] = trades(bid(desk, "b1", "A", 100, "2.00", beneficiary="A-factory"))
    assert t.beneficiary == "A-factory" and [tuple(r) for r in t.serials] == [(1, 100)]
    eng = desk.engines["GEC"]
    assert list(eng.cancelled) == [(1, 100)]
    assert held(desk, "S") == [] and held(desk, "A") == []   # in no one's holding: cancelled for good
    # neither the buyer nor the seller may list them again, nor any part of them
    assert rejected(lot(desk, "L2", "A", 1, 100, "2.00")) == "already_cancelled"
    assert rejected(lot(desk, "L3", "S", 1, 100, "2.00")) == "already_cancelled"
    assert rejected(lot(desk, "L4", "S", 100, 100, "2.00")) == "already_cancelled"


def test_g1_cancelled_serials_stay_cancelled_on_later_days():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    lot(desk, "L1", "S", 1, 100, "2.00")
    bid(desk, "b1", "A", 40, "2.00")
    desk.close_day("GEC")
    desk.open_day("GEC", "2025-06-17")
    assert held(desk, "S") == [(41, 100)]        # the unsold rest came back at the close
    assert rejected(lot(desk, "L1", "S", 1, 40, "2.00")) == "already_cancelled"
    assert rejected(lot(desk, "L2", "S", 30, 60, "2.00")) == "already_cancelled"
    assert rejected(lot(desk, "L3", "S", 41, 100, "2.00")) is None


def test_g1_a_partial_fill_splits_the_lots_range_lowest_serials_first():
    desk = gec_desk()
    issue(desk, "S", 1001, 1100)
    desk.open_day("GEC")
    lot(desk, "L1", "S", 1001, 1100, "2.00")
    assert fills(bid(desk, "b1", "A", 30, "2.00")) == [("L1", "b1", 200, [(1001, 1030)])]
    assert fills(bid(desk, "b2", "C", 20, "2.00")) == [("L1", "b2", 200, [(1031, 1050)])]
    eng = desk.engines["GEC"]
    rest = eng.lots.orders["L1"]
    assert list(rest.serials) == [(1051, 1100)] and rest.remaining == 50
    assert list(eng.cancelled) == [(1001, 1050)]
    ev = desk.send("order.cancel", order_id="L1", actor="B2", account="S", market="GEC")
    assert only(ev, e.OrderCancelled)[0].remaining == 50
    assert held(desk, "S") == [(1051, 1100)]
    assert rejected(lot(desk, "L9", "S", 1040, 1060, "2.00")) == "already_cancelled"


def test_g1_a_partial_lift_splits_the_lot_and_the_rest_can_still_be_bought_once():
    desk = gec_desk()
    issue(desk, "S", 1, 10)
    desk.open_day("GEC")
    lot(desk, "L1", "S", 1, 10, "2.00")
    [t1] = trades(lift(desk, "x1", "A", "L1", 4))
    [t2] = trades(lift(desk, "x2", "C", "L1", 6))
    assert [tuple(r) for r in t1.serials] == [(1, 4)] and [tuple(r) for r in t2.serials] == [(5, 10)]
    assert "L1" not in desk.engines["GEC"].lots.orders
    assert rejected(lift(desk, "x3", "A", "L1", 1)) == "unknown_order"


# --- G2: validity and expiry ---------------------------------------------------------------------------

def test_g2_valid_through_the_24th_month_retired_at_the_first_open_after():
    desk = gec_desk(date="2026-02-27")
    issue(desk, "S", 1, 100, month="2024-03")            # months 2024-03 .. 2026-02
    issue(desk, "S", 101, 200, project="P2", month="2024-04")
    ev = desk.open_day("GEC")
    assert only(ev, e.CertificatesExpired) == []
    assert rejected(lot(desk, "L1", "S", 1, 10, "2.00")) is None   # the 24th month still trades
    desk.close_day("GEC")
    ev = desk.open_day("GEC", "2026-03-02")
    [gone] = only(ev, e.CertificatesExpired)
    assert gone.account == "S" and [tuple(r) for r in gone.serials] == [(1, 100)]
    eng = desk.engines["GEC"]
    assert held(desk, "S") == [(101, 200)]
    assert list(eng.retired) == [(1, 100)]
    assert rejected(lot(desk, "L2", "S", 1, 10, "2.00")) == "expired_certificate"
    assert rejected(lot(desk, "L3", "S", 101, 110, "2.00")) is None


@pytest.mark.parametrize("month", ["2022-05", "2023-02", "2023-12"])
def test_g2_certificates_produced_before_2024_stay_valid_until_2025_12_31(month):
    desk = gec_desk(date="2025-12-31")
    issue(desk, "S", 1, 100, month=month)
    assert only(desk.open_day("GEC"), e.CertificatesExpired) == []
    lot(desk, "L1", "S", 1, 10, "2.00")
    assert len(trades(bid(desk, "b1", "A", 10, "2.00"))) == 1
    desk.close_day("GEC")
    [gone] = only(desk.open_day("GEC", "2026-01-05"), e.CertificatesExpired)
    assert [tuple(r) for r in gone.serials] == [(11, 100)]
    assert held(desk, "S") == []
    assert rejected(lot(desk, "L2", "S", 11, 20, "2.00")) == "expired_certificate"
    # the sold part stays cancelled, not retired
    eng = desk.engines["GEC"]
    assert list(eng.cancelled) == [(1, 10)] and list(eng.retired) == [(11, 100)]


def test_g2_expiry_retires_from_every_holder():
    desk = gec_desk(date="2025-12-30")
    issue(desk, "S", 1, 50, month="2024-01")
    issue(desk, "T", 51, 60, project="P2", month="2024-01")
    desk.open_day("GEC")
    desk.close_day("GEC")
    ev = desk.open_day("GEC", "2026-01-02")
    assert {(x.account, tuple(map(tuple, x.serials))) for x in only(ev, e.CertificatesExpired)} == \
        {("S", ((1, 50),)), ("T", ((51, 60),))}
    assert held(desk, "S") == [] and held(desk, "T") == []


def test_g2_a_month_of_distributed_pv_batches_expires_in_one_pass_over_the_holdings(monkeypatch):
    """G2 at the scale of issue 13's aggregators: a production month is some 64,000 distributed-PV batches, each
    held by its own owner, and they all expire at the same open. Each holding is read once, not once per expiring
    batch (that read every holding for every batch: 64,000 x 64,000 reads, some 13 minutes of a stopped GEC
    market). The events are as before: one per batch and holder, in serial order, then the holders' order."""
    from certx.registry.serials import RangeSet
    desk = gec_desk(date="2025-12-30")
    holders = [f"O{i}" for i in range(40)]
    for i, owner in enumerate(holders):
        desk.open_account(owner, "B2")
        issue(desk, owner, 100 * i + 1, 100 * i + 50, project=f"PV-{i}", month="2024-01")    # expires
        issue(desk, owner, 100 * i + 51, 100 * i + 100, project=f"PV-{i}", month="2024-02")  # stays
    desk.open_day("GEC")
    desk.order("L", "O3", "B2", "GEC", "sell", 10, "2.00", first_serial=311, last_serial=320)
    assert len(trades(bid(desk, "b", "A", 4, "2.00"))) == 1                # 311-314 cancelled, 315-320 rest
    desk.close_day("GEC")
    reads = []
    for name in ("overlap", "__iter__"):
        real = getattr(RangeSet, name)
        monkeypatch.setattr(RangeSet, name, lambda self, *a, real=real, name=name: reads.append(name) or real(self, *a))
    ev = desk.open_day("GEC", "2026-01-02")
    monkeypatch.undo()
    assert len(reads) <= len(holders), f"{len(reads)} reads of {len(holders)} holdings"
    gone = [(x.account, [tuple(r) for r in x.serials]) for x in only(ev, e.CertificatesExpired)]
    assert gone == [(o, [(100 * i + 1, 100 * i + 50)] if o != "O3" else [(301, 310), (315, 350)])
                    for i, o in enumerate(holders)]
    assert all(held(desk, o) == [(100 * i + 51, 100 * i + 100)] for i, o in enumerate(holders))
    assert list(desk.engines["GEC"].cancelled) == [(311, 314)]


def test_g2_a_batch_issued_after_its_validity_cannot_be_listed_even_before_the_next_open():
    # G2: a GEC is valid for 24 months from its production month; a lot of expired certificates is refused with
    # `expired_certificate`. Here the registry issues a 2024-01 batch (valid through 2025-12) while the GEC day of
    # 2026-03-02 is open, and the seller lists it the same day.
    # Expiry is checked against the trading month at listing, not only by the retirement at the open.
    desk = gec_desk(date="2026-03-02")
    desk.open_day("GEC")
    issue(desk, "S", 1, 100, month="2024-01")
    assert rejected(lot(desk, "L1", "S", 1, 10, "2.00")) == "expired_certificate"
    assert trades(bid(desk, "b1", "A", 10, "2.00")) == []


# --- G4: bid filters -----------------------------------------------------------------------------------

# Two batches per case: `good` is eligible for the filter, `bad` is not, and `bad` is the cheaper lot, so a bid
# that ignored the filter would take it first.
FILTER_CASES = {
    "provinces": ({"provinces": ["Qinghai", "Gansu"]}, {"province": "Gansu"}, {"province": "Yunnan"}),
    "exclude_provinces": ({"exclude_provinces": ["Yunnan"]}, {"province": "Gansu"}, {"province": "Yunnan"}),
    "technologies": ({"technologies": ["solar", "offshore wind"]}, {"technology": "offshore wind"},
                     {"technology": "wind"}),
    "subsidised_false": ({"subsidised": False}, {"subsidised": False}, {"subsidised": True}),
    "subsidised_true": ({"subsidised": True}, {"subsidised": True}, {"subsidised": False}),
    "production_from": ({"production_from": "2025-02"}, {"month": "2025-02"}, {"month": "2025-01"}),
    "production_to": ({"production_to": "2025-02"}, {"month": "2025-02"}, {"month": "2025-03"}),
    # trading month 2025-06: 2023-09 is 21 months old, 2023-08 is 22
    "max_age_months_21": ({"max_age_months": 21}, {"month": "2023-09"}, {"month": "2023-08"}),
}


@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_g4_a_filtered_bid_skips_lots_its_filter_excludes(case):
    flt, good, bad = FILTER_CASES[case]
    desk = gec_desk()
    issue(desk, "S", 1, 100, project="Pgood", **good)
    issue(desk, "T", 101, 200, project="Pbad", **bad)
    desk.open_day("GEC")
    lot(desk, "Lbad", "T", 101, 200, "1.00")
    lot(desk, "Lgood", "S", 1, 100, "2.00")
    ev = bid(desk, "b1", "A", 150, "2.00", filter=flt)
    assert fills(ev) == [("Lgood", "b1", 200, [(1, 100)])]
    eng = desk.engines["GEC"]
    assert eng.lots.orders["Lbad"].remaining == 100
    assert eng.lots.orders["b1"].remaining == 50


@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_g4_a_new_lot_skips_resting_bids_whose_filter_excludes_it(case):
    flt, good, bad = FILTER_CASES[case]
    desk = gec_desk()
    issue(desk, "S", 1, 100, project="Pgood", **good)
    issue(desk, "T", 101, 200, project="Pbad", **bad)
    desk.open_day("GEC")
    bid(desk, "b1", "A", 100, "3.00", filter=flt)
    assert trades(lot(desk, "Lbad", "T", 101, 200, "1.00")) == []
    assert fills(lot(desk, "Lgood", "S", 1, 100, "2.00")) == [("Lgood", "b1", 300, [(1, 100)])]


def test_g4_production_window_includes_both_ends():
    desk = gec_desk()
    for i, month in enumerate(["2024-12", "2025-01", "2025-03", "2025-04"]):
        issue(desk, "S", i * 100 + 1, i * 100 + 100, project=f"P{i}", month=month)
    desk.open_day("GEC")
    for i in range(4):
        lot(desk, f"L{i}", "S", i * 100 + 1, i * 100 + 100, "2.00")
    ev = bid(desk, "b1", "A", 400, "2.00", filter={"production_from": "2025-01", "production_to": "2025-03"})
    assert [f[0] for f in fills(ev)] == ["L1", "L2"]


def test_g4_max_age_counts_months_from_production_to_the_trading_month():
    desk = gec_desk(date="2025-06-30")
    issue(desk, "S", 1, 100, project="P1", month="2025-03")     # 3 months old in June
    issue(desk, "S", 101, 200, project="P2", month="2025-02")   # 4 months old
    desk.open_day("GEC")
    lot(desk, "L3m", "S", 1, 100, "2.00")
    lot(desk, "L4m", "S", 101, 200, "1.00")
    ev = bid(desk, "b1", "A", 200, "2.00", filter={"max_age_months": 3})
    assert [f[0] for f in fills(ev)] == ["L3m"]


def test_g4_filters_combine_all_conditions():
    desk = gec_desk()
    issue(desk, "S", 1, 100, project="P1", province="Gansu", technology="solar")
    issue(desk, "S", 101, 200, project="P2", province="Gansu", technology="wind")
    issue(desk, "S", 201, 300, project="P3", province="Qinghai", technology="solar")
    desk.open_day("GEC")
    lot(desk, "L1", "S", 1, 100, "3.00")
    lot(desk, "L2", "S", 101, 200, "1.00")
    lot(desk, "L3", "S", 201, 300, "1.00")
    ev = bid(desk, "b1", "A", 300, "3.00", filter={"provinces": ["Gansu"], "technologies": ["solar"]})
    assert [f[0] for f in fills(ev)] == ["L1"]


# --- D1: GEC trades in the listing windows, 09:30-11:30 and 13:00-15:00, as CEA and CCER do ---------------

@pytest.mark.parametrize("time,ok", [
    ("09:29", False), ("09:30", True), ("11:29", True), ("11:30", False), ("12:00", False), ("12:59", False),
    ("13:00", True), ("14:59", True), ("15:00", False),
])
def test_d1_gec_lots_bids_and_lifts_only_inside_the_listing_windows_of_an_open_session(time, ok):
    desk = gec_desk()
    issue(desk, "S", 1, 200)
    desk.open_day("GEC")
    lot(desk, "L1", "S", 1, 100, "2.00")                         # at 10:00
    want = None if ok else "market_closed"
    assert rejected(desk.order("L2", "S", "B2", "GEC", "sell", 100, "2.00", first_serial=101, last_serial=200,
                               time=time)) == want
    assert rejected(bid(desk, "b1", "A", 10, "1.00", time=time)) == want      # below every lot: it would rest
    assert rejected(lift(desk, "l1", "A", "L1", 10, time=time)) == want
    if not ok:                                                    # and a refusal moves nothing
        assert held(desk, "S") == [(101, 200)]
        assert cash(desk, "A") == (100_000 * YUAN, 0)
        assert desk.engines["GEC"].lots.orders["L1"].remaining == 100


# --- S2: sizes: at least one certificate, never more than the lot or the holding -------------------------

def test_s2_a_gec_order_is_at_least_one_certificate():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    raw = (b'{"type":"order.new","order_id":"b0","actor":"B1","account":"A","product":"GEC","side":"buy",'
           b'"quantity":0,"price":"2.00","at":"' + desk.at().encode() + b'"}')
    assert rejected(desk.raw(raw)) == "malformed"
    assert rejected(bid(desk, "b1", "A", 1, "2.00")) is None
    assert rejected(lot(desk, "L1", "S", 5, 5, "2.00")) is None


def test_s2_a_lot_cannot_exceed_the_sellers_holding():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    issue(desk, "T", 101, 200, project="P2")
    desk.open_day("GEC")
    assert rejected(lot(desk, "L1", "S", 50, 150, "2.00")) == "insufficient_holdings"   # runs into T's
    assert rejected(lot(desk, "L2", "S", 101, 110, "2.00")) == "insufficient_holdings"  # T's, not S's
    assert rejected(lot(desk, "L3", "S", 500, 510, "2.00")) == "insufficient_holdings"  # never issued
    assert rejected(lot(desk, "L4", "S", 1, 60, "2.00")) is None
    assert rejected(lot(desk, "L5", "S", 50, 70, "2.00")) == "insufficient_holdings"    # already in L4
    assert held(desk, "S") == [(61, 100)]


def test_s2_a_lift_cannot_take_more_than_the_lot():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    lot(desk, "L1", "S", 1, 10, "2.00")
    assert rejected(lift(desk, "x1", "A", "L1", 11)) == "lot_size"
    lift(desk, "x2", "A", "L1", 4)
    assert rejected(lift(desk, "x3", "A", "L1", 7)) == "lot_size"
    assert len(trades(lift(desk, "x4", "A", "L1", 6))) == 1
    assert cash(desk, "A") == (100_000 * YUAN - 10 * 200, 0)


def test_s2_a_bid_larger_than_every_lot_takes_what_there_is_and_rests_the_rest():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    lot(desk, "L1", "S", 1, 10, "2.00")
    ev = bid(desk, "b1", "A", 25, "2.00")
    assert sum(t.quantity for t in trades(ev)) == 10
    assert desk.engines["GEC"].lots.orders["b1"].remaining == 15
    assert cash(desk, "A") == (100_000 * YUAN - 25 * 200, 15 * 200)


def test_s2_a_bid_or_lift_must_be_paid_for_in_full_at_entry():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    desk.deposit("T", "GEC", "10.00")
    lot(desk, "L1", "S", 1, 100, "2.00")
    assert rejected(desk.order("b1", "T", "B2", "GEC", "buy", 6, "2.00")) == "insufficient_funds"
    assert rejected(desk.send("order.lift", order_id="x1", actor="B2", account="T", market="GEC", target="L1",
                              quantity=6)) == "insufficient_funds"
    assert desk.engines["GEC"].lots.orders["L1"].remaining == 100
    assert len(trades(desk.send("order.lift", order_id="x2", actor="B2", account="T", market="GEC", target="L1",
                                quantity=5))) == 1
    assert cash(desk, "T") == (0, 0)


# --- M5: bilateral deals, a lot addressed to one buyer --------------------------------------------------

def addressed(desk: Desk, order_id: str, account: str, first: int, last: int, price: str, counterparty: str,
              **extra) -> list[e.Event]:
    return desk.order(order_id, account, BROKER[account], "GEC", "sell", last - first + 1, price,
                      first_serial=first, last_serial=last, counterparty=counterparty, **extra)


def test_m5_an_addressed_lot_is_taken_only_by_its_counterparty_at_the_lots_price():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    assert rejected(addressed(desk, "L1", "S", 1, 100, "2.00", counterparty="A")) is None
    assert rejected(lift(desk, "x1", "C", "L1", 10)) == "not_authorised"
    assert cash(desk, "C") == (100_000 * YUAN, 0), "the refused lift holds nothing"
    [t] = trades(lift(desk, "x2", "A", "L1", 40, beneficiary="A-plant"))
    assert (t.buyer, t.seller, int(t.price), [tuple(r) for r in t.serials], t.beneficiary) == \
        ("A", "S", 200, [(1, 40)], "A-plant")
    assert list(desk.engines["GEC"].cancelled) == [(1, 40)], "G1: cancelled in the buyer's name at the trade"


def test_m5_an_addressed_lot_never_fills_a_bid_not_even_its_counterpartys():
    """Bilateral means named: the lot is the counterparty's to lift, never matched by the anonymous bids."""
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    bid(desk, "bC", "C", 100, "5.00")
    bid(desk, "bA", "A", 100, "5.00")
    assert trades(addressed(desk, "L1", "S", 1, 100, "2.00", counterparty="A")) == []
    assert trades(bid(desk, "bA2", "A", 100, "9.00")) == []
    assert trades(lift(desk, "x1", "A", "L1", 100))


def test_m5_in_part_only_where_the_seller_allows_it():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    issue(desk, "T", 101, 200, project="P2")
    desk.open_day("GEC")
    addressed(desk, "L1", "S", 1, 100, "2.00", counterparty="A", partial=False)
    assert rejected(lift(desk, "x1", "A", "L1", 60)) == "lot_size"
    assert [tuple(r) for t in trades(lift(desk, "x2", "A", "L1", 100)) for r in t.serials] == [(1, 100)]
    addressed(desk, "L2", "T", 101, 200, "2.00", counterparty="A")        # partial by default, as in M2
    assert [tuple(r) for t in trades(lift(desk, "x3", "A", "L2", 60)) for r in t.serials] == [(101, 160)]
    assert [tuple(r) for t in trades(lift(desk, "x4", "A", "L2", 40)) for r in t.serials] == [(161, 200)]


def test_m5_every_gec_rule_still_applies_to_an_addressed_lot():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    assert rejected(addressed(desk, "L0", "S", 1, 100, "2.00", counterparty="nobody")) == "unknown_account"
    assert rejected(addressed(desk, "L1", "S", 1, 200, "2.00", counterparty="A")) == "insufficient_holdings"
    addressed(desk, "L2", "S", 1, 100, "2.00", counterparty="A")
    assert rejected(lift(desk, "x1", "A", "L2", 101)) == "lot_size"                      # S2
    lift(desk, "x2", "A", "L2", 100)
    assert rejected(addressed(desk, "L3", "S", 1, 100, "2.00", counterparty="C")) == "already_cancelled"   # G1
    assert held(desk, "S") == [] and held(desk, "A") == []


def test_m5_an_addressed_lot_withdrawn_or_expired_gives_its_certificates_back():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")
    addressed(desk, "L1", "S", 1, 50, "2.00", counterparty="A")
    addressed(desk, "L2", "S", 51, 100, "2.00", counterparty="A")
    desk.send("order.cancel", order_id="L1", actor="B2", account="S", market="GEC")
    assert held(desk, "S") == [(1, 50)]
    desk.close_day("GEC")
    assert held(desk, "S") == [(1, 100)], "an addressed lot is a day order like any lot"


def test_m5_counterparty_and_partial_belong_to_an_addressed_lot_only():
    desk = gec_desk()
    issue(desk, "S", 1, 100)
    desk.open_day("GEC")

    def sent(**fields) -> str | None:
        return rejected(desk.raw(msgspec.json.encode({"type": "order.new", "at": desk.at(None), "product": "GEC",
                                                      "price": "2.00", **fields})))

    assert sent(order_id="b1", actor="B1", account="A", side="buy", quantity=10, counterparty="S") == "malformed"
    assert sent(order_id="L1", actor="B2", account="S", side="sell", quantity=100, first_serial=1, last_serial=100,
                partial=False) == "malformed", "all or nothing is a term of a bilateral lot"
    assert held(desk, "S") == [(1, 100)]
