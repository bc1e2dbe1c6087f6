"""What a curve's certificates may offer an hour filter (issue 13, G4, M4): the bounds a bid with hours asks before
it reads a curve (`Curve.bounds`, `HourFilter.may_meet`), and the book that passes by the lots and branches they
rule out. Against the plain rule: the reference's hours of every certificate (tests/hours/test_curve.py), and a
walk of every lot that reads each one's curve, as the book did before the bounds.
"""
from __future__ import annotations

import msgspec
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from certx.books.gec import Bid, Eligibility, GecBook, Lot, Part, PooledLot, count
from certx.hours.clock import hour_of_day, month_start
from certx.hours.curve import KWH
from certx.hours.mask import HourFilter
from certx.hours.overlay import Overlay
from certx.registry.issuance import Batch
from certx.registry.serials import RangeSet
from certx.wire.commands import GecFilter

from hours.test_curve import project_months, reference, serials
from hours.test_mask import hour_filters, matching

TODAY = 2025 * 12 + 6


@settings(max_examples=150, deadline=None)
@given(project_months())
def test_g4_a_curves_bounds_are_the_most_and_the_least_kwh_a_certificate_has_from_each_hour_of_the_day(drawn):
    _, months_ = drawn
    expected = reference(months_)
    for curve, _ in months_:
        by_hour = []
        for serial in serials(curve):
            kwh = [0] * 24
            for hour, v in expected[serial]:
                kwh[hour_of_day(hour)] += v
            by_hour.append(kwh)
        most = [max(k[h] for k in by_hour) for h in range(24)]
        least = [min(k[h] for k in by_hour) for h in range(24)]
        kind = (*most, *(KWH - v for v in least))
        nothing = (0,) * 48
        assert curve.bounds() == ((*nothing, *kind) if 2 * sum(least) >= KWH else (*kind, *nothing))


@settings(max_examples=300, deadline=None)
@given(project_months(), st.data())
def test_g4_a_filter_the_bounds_rule_out_is_met_by_no_certificate(drawn, data):
    """Sound: where `may_meet` says no, no certificate of the curve meets the filter. (Where it says yes, the curve
    is read: the book test below checks that the answer is the same either way.)"""
    _, months_ = drawn
    expected = reference(months_)
    first_hour = months_[0][0].start
    last_hour = months_[-1][0].start + len(months_[-1][0].cum)
    hours = HourFilter.of(data.draw(hour_filters(first_hour, last_hour)))
    for curve, _ in months_:
        if not hours.may_meet(curve.bounds()):
            assert not any(matching(expected[s], hours) for s in serials(curve)), curve.month


def test_g4_the_bounds_rule_out_a_solar_month_for_the_night_and_a_strict_two_hours():
    """A solar month (06:00-18:00 China time, 2 MWh a day): no certificate has kWh from the night, and none lies
    within two hours; a certificate from about half a day does have 30% from 10:00-14:00."""
    overlay = Overlay()
    month = TODAY
    hours = 30 * 24
    kwh = [200 if 6 <= h % 24 < 16 else 0 for h in range(hours)]
    curve = overlay.curve("S", month, kwh, [(1, 60)])
    assert curve.adds_up()
    for asked, may in (({"hours": [[18, 24], [0, 6]], "min_share": 1}, False),
                       ({"hours": [[11, 13]], "strict": True}, False),
                       ({"hours": [[10, 14]], "min_share": 30}, True)):
        assert HourFilter.of(GecFilter(**asked)).may_meet(curve.bounds()) is may, asked


# --- the book: the same fills with the bounds as without ------------------------------------------------------

PROVINCES, TECHS = ["Gansu", "Yunnan"], ["solar", "wind"]


@st.composite
def books(draw):
    """A book of several projects' months, some with curves, in lots cut from their batches (some with holes, as
    bids with hours leave them), a pooled lot, and the lots in the order they rest."""
    overlay, book_lots, seq = Overlay(), [], 0
    batches: list[Batch] = []
    for p in range(draw(st.integers(1, 4))):
        _, months_ = draw(project_months())
        with_curves = draw(st.booleans()) or p == 0
        project = f"P{p}"
        province, tech = draw(st.sampled_from(PROVINCES)), draw(st.sampled_from(TECHS))
        for curve, kwh in months_:
            if with_curves:
                c = overlay.curve(project, curve.month, kwh, list(curve.ranges))
                assert c.adds_up()
                overlay.add(c)
            for first, last in curve.ranges:
                name = f"{curve.month // 12}-{curve.month % 12 + 1:02d}"
                batches.append(Batch(project, province, tech, name, False, first, last, TODAY + 24))
    spans = sorted((b.first, b.last) for b in batches)
    assume(all(a[1] < b[0] for a, b in zip(spans, spans[1:])))      # the projects' serials apart
    book = GecBook(overlay)
    pooled_from = []
    for batch in batches:
        first = batch.first
        while first <= batch.last:
            last = draw(st.integers(first, batch.last))
            if draw(st.integers(0, 5)) == 0:
                pooled_from.append(Part("O", batch, RangeSet.of(first, last)))
            else:
                lot = Lot(f"L{seq}", "S", draw(st.integers(100, 120)), first, last, batch, seq)
                if last > first + 1 and draw(st.booleans()):
                    hole = draw(st.integers(first + 1, last - 1))
                    lot.serials.remove(hole, hole)
                    lot.remaining -= 1
                book_lots.append(lot)
            seq += 1
            first = last + 1
    for lot in book_lots:
        book.rest(lot)
    if pooled_from:
        head = pooled_from[0]
        parts = [p for p in pooled_from if p.batch.project == head.batch.project and p.batch.month == head.batch.month]
        book.rest(PooledLot("PL", "AG", draw(st.integers(100, 120)), "fifo", parts, seq))
    return book


def hours_of(book: GecBook) -> tuple[int, int]:
    """From a day before the book's first month to the end of its last: where hour filters are drawn."""
    months = sorted({lot.batch.month for lot in book.lots})
    return month_start(months[0]) - 24, month_start(months[-1] + 1)


def walk(book: GecBook, bid: Bid, quantity: int) -> list:
    """The fills of a bid with hours, read from every lot that the filter admits, cheapest then oldest: pooled lots
    passed by, each other lot's curve read (`accepted`)."""
    fills = []
    for lot in sorted(book.lots, key=lambda lot: (lot.price, lot.seq)):
        if lot.price <= bid.price and bid.eligibility.accepts(lot.batch, TODAY) and not isinstance(lot, PooledLot):
            take = book.accepted(lot.serials, lot.batch, bid.eligibility, quantity)
            if take:
                fills.append((lot.order_id, take))
                quantity -= count(take)
                if not quantity:
                    break
    return fills


@settings(max_examples=150, deadline=None)
@given(books(), st.data())
def test_m4_a_bid_with_hours_takes_from_the_book_exactly_what_a_walk_reading_every_lots_curve_takes(book, data):
    """Bid after bid, each filled from the book (its lots cut as the engine cuts them, sold-out lots leaving the
    buckets, so the bounds of the branches fall), the book finds the same lots in the same order, with the same
    serials, as the walk; and the book checks itself (its bounds among its invariants) after every fill."""
    book.check()
    first_hour, last_hour = hours_of(book)
    for i in range(data.draw(st.integers(1, 5))):
        f = data.draw(hour_filters(first_hour, last_hour))
        if data.draw(st.booleans()):
            f = msgspec.structs.replace(f, provinces=[data.draw(st.sampled_from(PROVINCES))])
        quantity = data.draw(st.integers(1, 80))
        bid = Bid(f"b{i}", "A", data.draw(st.integers(100, 120)), quantity, Eligibility(f), "A", 10**6 + i)
        fills = [(lot.order_id, take) for lot, take in book.lots_for(bid, quantity, TODAY)]
        assert fills == walk(book, bid, quantity)
        for order_id, take in fills:
            book.take_ranges(book.orders[order_id], take)
            book.check()


@settings(max_examples=100, deadline=None)
@given(books(), st.data())
def test_m4_a_new_lot_meets_the_resting_bids_with_hours_its_bounds_do_not_rule_out_as_without_them(book, data):
    """The other way: resting bids with hours, and a new lot from the book's (taken off it and listed again) meets
    them as it would if every bid read its curve."""
    lots = [lot for lot in book.lots if not isinstance(lot, PooledLot)]
    assume(lots)
    first_hour, last_hour = hours_of(book)
    bids = []
    for i in range(data.draw(st.integers(1, 6))):
        f = data.draw(hour_filters(first_hour, last_hour))
        bid = Bid(f"b{i}", "A", data.draw(st.integers(100, 120)), data.draw(st.integers(1, 40)), Eligibility(f),
                  "A", 10**6 + i)
        book.rest(bid)
        bids.append(bid)
    old = data.draw(st.sampled_from(lots))
    book.remove(old)
    lot = Lot("new", "S", data.draw(st.integers(100, 120)), *old.serials.span(), old.batch, 10**7)
    lot.serials, lot.remaining = old.serials, old.remaining
    expected, left = [], lot.serials.copy()
    for bid in sorted(bids, key=lambda b: (-b.price, b.seq)):
        if bid.price >= lot.price and bid.eligibility.accepts(lot.batch, TODAY):
            take = book.accepted(left, lot.batch, bid.eligibility, bid.remaining)
            if take:
                for a, b in take:
                    left.remove(a, b)
                expected.append((bid.order_id, take))
    got = [(bid.order_id, take) for bid, take in book.bids_for(lot, lot.remaining, TODAY)]
    assert got == expected
