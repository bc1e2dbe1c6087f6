"""The GEC book's buckets (M4, G4): a bid fills exactly as a scan of every resting lot would, and a filter that
admits no resting bucket opens none, however many lots rest.

The reference here is the plain rule of M4 and G4: walk every resting lot cheapest then oldest, take those the
bid crosses and its filter `accepts`."""
from __future__ import annotations

from hypothesis import given, note, settings
from hypothesis import strategies as st

from certx.books.gec import Bid, Eligibility, GecBook, Lot, bucket_of, count
from certx.registry.issuance import Batch
from certx.wire.commands import GecFilter

PROVINCES = ("Gansu", "Qinghai", "Hebei", "Yunnan")
TECHNOLOGIES = ("wind", "solar", "hydro")
MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]                             # 12 production months
TODAY = 2025 * 12 + 11                                                       # December 2025


def batch(province: str, technology: str, month: str, subsidised: bool, first: int = 1) -> Batch:
    return Batch(f"P-{province}-{technology}-{month}", province, technology, month, subsidised, first,
                 first + 999_999, 10**6)


batches = st.builds(batch, st.sampled_from(PROVINCES), st.sampled_from(TECHNOLOGIES), st.sampled_from(MONTHS),
                    st.booleans())


def mostly_none(values: st.SearchStrategy) -> st.SearchStrategy:
    """A filter field left out four times in five, so that a filter admits some buckets and refuses others."""
    return st.integers(0, 4).flatmap(lambda k: values if k == 0 else st.none())


def some(names: tuple[str, ...]) -> st.SearchStrategy:
    return mostly_none(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))


filters = st.builds(
    GecFilter,
    provinces=some(PROVINCES + ("Tibet",)), exclude_provinces=some(PROVINCES),
    technologies=some(TECHNOLOGIES + ("biomass",)), subsidised=mostly_none(st.booleans()),
    production_from=mostly_none(st.sampled_from(MONTHS)), production_to=mostly_none(st.sampled_from(MONTHS)),
    max_age_months=mostly_none(st.integers(1, 24)),
)

# A session: lots rest, lots leave (cancelled or withdrawn), bids take what `lots_for` gives them. The lots
# come from a few batches, so that buckets hold several lots each; their prices are few ticks apart: ties.
lot_ops = st.tuples(st.just("lot"), st.integers(0, 2), st.integers(1, 6), st.integers(1, 50))
remove_ops = st.tuples(st.just("remove"), st.integers(0, 10**6))
bid_ops = st.tuples(st.just("bid"), filters, st.integers(1, 7), st.integers(1, 150))
sessions = st.lists(st.one_of(*[lot_ops] * 6, remove_ops, bid_ops), min_size=10, max_size=80)


def reference(book: GecBook, bid: Bid, quantity: int) -> list[tuple[str, int]]:
    """M4 and G4 as written: every resting lot, cheapest then oldest; those crossed and accepted, until filled."""
    fills = []
    lots = sorted((o for o in book.orders.values() if isinstance(o, Lot)), key=lambda lot: (lot.price, lot.seq))
    for lot in lots:
        if quantity and lot.price <= bid.price and bid.eligibility.accepts(lot.batch, TODAY):
            take = min(quantity, lot.remaining)
            fills.append((lot.order_id, take))
            quantity -= take
    return fills


@settings(max_examples=300, deadline=None)
@given(st.lists(batches, min_size=3, max_size=3), sessions)
def test_M4_G4_a_bid_fills_from_the_buckets_exactly_as_a_scan_of_every_resting_lot(pool, session):
    book, seq = GecBook(), 0
    for op in session:
        seq += 1
        if op[0] == "lot":
            _, i, price, size = op
            b = pool[i]
            book.rest(Lot(f"L{seq}", "S", price, b.first, b.first + size - 1, b, seq))
        elif op[0] == "remove":
            lots = [o for o in book.orders.values() if isinstance(o, Lot)]
            if lots:
                book.remove(lots[op[1] % len(lots)])
        else:
            _, flt, price, quantity = op
            bid = Bid(f"B{seq}", "A", price, quantity, Eligibility(flt), "A", seq)
            fills = [(lot, count(serials)) for lot, serials in book.lots_for(bid, quantity, TODAY)]
            note(f"{flt} at {price} for {quantity}: {[(lot.order_id, q) for lot, q in fills]}")
            assert [(lot.order_id, q) for lot, q in fills] == reference(book, bid, quantity)
            for lot, q in fills:
                book.take(lot, q)
        book.lots.check()
        assert len(book.lots) == sum(isinstance(o, Lot) for o in book.orders.values())


def test_M4_across_buckets_a_bid_takes_the_cheapest_lot_first_then_the_oldest():
    book = GecBook()
    gansu, hebei = batch("Gansu", "wind", "2025-03", False), batch("Hebei", "solar", "2025-05", True, first=10**7)
    for seq, (b, price) in enumerate([(gansu, 300), (hebei, 400), (hebei, 300), (gansu, 500)], start=1):
        book.rest(Lot(f"L{seq}", "S", price, b.first + seq * 100, b.first + seq * 100 + 9, b, seq))
    fills = book.lots_for(Bid("b", "A", 500, 35, Eligibility(None), "A", 9), 35, TODAY)
    assert [(lot.order_id, count(serials)) for lot, serials in fills] == [("L1", 10), ("L3", 10), ("L2", 10),
                                                                         ("L4", 5)]


@settings(max_examples=500, deadline=None)
@given(filters, batches, st.integers(TODAY - 30, TODAY + 30))
def test_G4_a_bucket_the_filter_admits_has_at_each_level_a_key_the_filter_names_there(flt, b, today):
    """What lets the tree look up the named keys instead of scanning: it misses no bucket `admits` would let in."""
    eligibility = Eligibility(flt)
    if eligibility.admits(bucket_of(b), today):
        assert eligibility.accepts(b, today)
        for keys, key in zip(eligibility.named(), bucket_of(b), strict=True):
            assert keys is None or key in keys


class Spy(Eligibility):
    """An eligibility that notes every bucket the tree asks it about, with its answer: a bucket admitted is a
    bucket opened, whose lots the bid walks."""

    def __init__(self, f: GecFilter | None) -> None:
        super().__init__(f)
        self.asked: list[tuple[tuple, bool]] = []

    def admits(self, bucket, today_month: int) -> bool:
        admitted = super().admits(bucket, today_month)
        self.asked.append((bucket, admitted))
        return admitted


def book_of(lots: int) -> GecBook:
    """`lots` lots at 1.00-7.99 yuan spread over every bucket of 4 provinces, 3 technologies, 12 months, subsidy."""
    book = GecBook()
    keys = [(p, t, m, s) for p in PROVINCES for t in TECHNOLOGIES for m in MONTHS for s in (False, True)]
    for i in range(lots):
        b = batch(*keys[i % len(keys)], first=i * 10_000)
        book.rest(Lot(f"L{i}", "S", 100 + (i * 7919) % 700, b.first, b.first + 99, b, i))
    return book


NO_MATCH = [
    GecFilter(provinces=["Tibet"]),                                      # a province with nothing resting
    GecFilter(technologies=["biomass"]),                                 # a technology with nothing resting
    GecFilter(provinces=["Gansu"], exclude_provinces=["Gansu"]),
    GecFilter(production_from="2026-01"),                                # nothing produced yet
]


def opened(spy: Spy) -> list[tuple]:
    return [bucket for bucket, admitted in spy.asked if admitted]


def test_G4_M4_a_bid_whose_filter_admits_no_resting_bucket_opens_none_however_many_lots_rest():
    """The buckets asked about are the same for 300 lots as for 30,000 (every bucket holds lots in both)."""
    for flt in NO_MATCH:
        asked = []
        for lots in (300, 30_000):
            book, spy = book_of(lots), Spy(flt)
            assert book.lots_for(Bid("b", "A", 10_000, 10**6, spy, "A", 10**6), 10**6, TODAY) == []
            assert not opened(spy), f"{flt}: a bucket was opened"
            asked.append(sorted(spy.asked))          # asked in the order of the floors, which differ
        assert asked[0] == asked[1], f"{flt}: {len(asked[0])} buckets asked for 300 lots, {len(asked[1])} for 30,000"
    # a filter that names what it wants is looked up, not scanned, and a window no branch reaches is not
    # entered: no bucket is even asked about
    for flt in NO_MATCH[:2] + NO_MATCH[3:]:
        spy = Spy(flt)
        assert book_of(3_000).lots_for(Bid("b", "A", 10_000, 10, spy, "A", 10**6), 10, TODAY) == []
        assert not spy.asked


def test_M4_a_bid_below_every_resting_price_looks_at_nothing():
    book, spy = book_of(3_000), Spy(None)
    assert book.lots_for(Bid("b", "A", 99, 10, spy, "A", 10**6), 10, TODAY) == [] and not spy.asked


def test_M4_G4_a_bid_looks_only_at_buckets_it_could_take_from():
    """A bid for one province and technology, crossing everything, asks about that pair's buckets only."""
    book, spy = book_of(30_000), Spy(GecFilter(provinces=["Hebei"], technologies=["solar"]))
    [(lot, q)] = book.lots_for(Bid("b", "A", 10_000, 100, spy, "A", 10**6), 100, TODAY)
    assert lot.batch.province == "Hebei" and lot.batch.technology == "solar" and count(q) == 100
    assert {(province, technology) for (province, technology, _, _), _ in spy.asked} == {("Hebei", "solar")}
    assert 0 < len(opened(spy)) <= len(MONTHS) * 2


def test_M4_a_bucket_left_empty_is_dropped_and_the_floors_follow_the_lots():
    book = book_of(500)
    lots = [o for o in book.orders.values() if isinstance(o, Lot)]
    for lot in sorted(lots, key=lambda lot: (lot.price, lot.seq))[:250]:    # the cheapest half, cheapest first
        book.remove(lot)
        book.lots.check()
    for lot in lots[250:] + lots[:250]:
        if lot.order_id in book.orders:
            book.remove(lot)
    book.lots.check()
    assert not book.lots.root.children and len(book.lots) == 0
