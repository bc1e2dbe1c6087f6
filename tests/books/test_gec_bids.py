"""The resting GEC bids filed by what their filters name (M4, G4; `certx.books.bids`): a new lot meets exactly the bids
a walk of every resting bid would give it, in the same order, and walks none filed for another province or
technology, however many rest.

The reference is the plain rule: every resting bid, highest then oldest; those that cross the lot and whose filter
admits it take from it, each what the ones before it left."""
from __future__ import annotations

from hypothesis import given, note, settings
from hypothesis import strategies as st

from certx.books.bids import PAIRS, cells
from certx.books.gec import Bid, Eligibility, GecBook, Lot, bucket_of
from certx.wire.commands import GecFilter
from tests.books.test_gec_buckets import PROVINCES, TECHNOLOGIES, TODAY, batch, batches, filters

bid_ops = st.tuples(st.just("bid"), filters, st.integers(1, 7), st.integers(1, 150))
cancel_ops = st.tuples(st.just("cancel"), st.integers(0, 10**6))
lot_ops = st.tuples(st.just("lot"), st.integers(0, 2), st.integers(1, 7), st.integers(1, 200))
sessions = st.lists(st.one_of(*[bid_ops] * 4, cancel_ops, lot_ops), min_size=10, max_size=80)


def reference(book: GecBook, lot: Lot, quantity: int) -> list[tuple[str, int]]:
    """M4 and G4 as written: every resting bid, highest then oldest; those that cross and admit, until filled."""
    fills = []
    bids = sorted((o for o in book.orders.values() if isinstance(o, Bid)), key=lambda b: (-b.price, b.seq))
    for bid in bids:
        if quantity and bid.price >= lot.price and bid.eligibility.admits(lot.bucket, TODAY):
            take = min(quantity, bid.remaining)
            fills.append((bid.order_id, take))
            quantity -= take
    return fills


@settings(max_examples=300, deadline=None)
@given(st.lists(batches, min_size=3, max_size=3), sessions)
def test_M4_G4_a_new_lot_meets_the_filed_bids_exactly_as_a_walk_of_every_resting_bid(pool, session):
    book, seq = GecBook(), 0
    for op in session:
        seq += 1
        if op[0] == "bid":
            _, flt, price, quantity = op
            book.rest(Bid(f"B{seq}", "A", price, quantity, Eligibility(flt), "A", seq))
        elif op[0] == "cancel":
            bids = [o for o in book.orders.values() if isinstance(o, Bid)]
            if bids:
                book.remove(bids[op[1] % len(bids)])
        else:
            _, i, price, size = op
            b = pool[i]
            lot = Lot(f"L{seq}", "S", price, b.first, b.first + size - 1, b, seq)
            expected = reference(book, lot, size)
            fills = book.bids_for(lot, size, TODAY)
            note(f"lot {bucket_of(b)} at {price} for {size}: {[(bid.order_id, s) for bid, s in fills]}")
            assert [(bid.order_id, s[0][1] - s[0][0] + 1) for bid, s in fills] == expected
            for bid, _ in fills:
                book.fill_bid(bid, dict(expected)[bid.order_id])
        book.check()            # the bids' cells among the book's invariants


class Spy(Eligibility):
    """An eligibility that counts how often a lot asks it."""

    asked = 0

    def admits(self, bucket, today_month: int) -> bool:
        Spy.asked += 1
        return super().admits(bucket, today_month)


def test_G4_a_new_lot_walks_no_bid_filed_for_another_province_or_technology():
    """The cost_bench attack (`gec_lot_vs_bids`): bids above the lot's price for a province, or a technology, with
    no lots. The lot asks none of them; the one bid that wants it, resting behind them all, still fills it."""
    book, gansu = GecBook(), batch("Gansu", "wind", "2025-03", False)
    for i in range(1_000):
        book.rest(Bid(f"t{i}", "A", 900, 10, Spy(GecFilter(provinces=["Tibet"])), "A", i))
        book.rest(Bid(f"b{i}", "A", 900, 10, Spy(GecFilter(technologies=["biomass"])), "A", 1_000 + i))
        book.rest(Bid(f"h{i}", "A", 900, 10, Spy(GecFilter(provinces=["Hebei"], technologies=["wind"])), "A",
                      2_000 + i))
    book.rest(Bid("wants", "A", 100, 10, Spy(GecFilter(provinces=["Gansu"])), "A", 9_999))
    Spy.asked = 0
    lot = Lot("L", "S", 100, gansu.first, gansu.first + 9, gansu, 10_000)
    assert [(bid.order_id, s) for bid, s in book.bids_for(lot, 10, TODAY)] == [("wants", [(1, 10)])]
    assert Spy.asked == 1


def test_G4_a_filter_naming_both_levels_is_filed_by_pairs_then_by_its_shorter_level():
    few = Eligibility(GecFilter(provinces=["Gansu", "Hebei"], technologies=["wind", "solar", "hydro"]))
    assert sorted(cells(few)) == sorted((p, t) for p in ("Gansu", "Hebei") for t in ("wind", "solar", "hydro"))
    many = Eligibility(GecFilter(provinces=[f"P{i}" for i in range(PAIRS)], technologies=["wind", "solar"]))
    assert sorted(cells(many)) == [(None, "solar"), (None, "wind")]
    assert cells(Eligibility(GecFilter(exclude_provinces=list(PROVINCES)))) == [(None, None)]
    assert cells(Eligibility(GecFilter(technologies=list(TECHNOLOGIES)))) == [(None, t) for t in sorted(TECHNOLOGIES)]
