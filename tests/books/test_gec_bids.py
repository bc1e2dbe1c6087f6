"""The resting GEC bids filed by the provinces and technologies their filters name (M4, G4): a new lot walks the
bids that may take it, best then oldest, each once, not every bid priced at or above it; a filter naming more
than the filing keeps is filed coarsely and still walked wherever it may take a lot."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from certx.books.bids import FILED_AT_MOST, Bids, keys, priority
from certx.books.gec import Bid, Eligibility
from certx.wire.commands import GecFilter

PROVINCES = ("Gansu", "Qinghai", "Hebei", "Yunnan", "Jilin", "Ningxia")
TECHNOLOGIES = ("wind", "solar", "hydro", "biomass", "geothermal")


def names(of: tuple[str, ...]) -> st.SearchStrategy:
    return st.none() | st.lists(st.sampled_from(of), min_size=1, max_size=len(of), unique=True)


bids = st.lists(st.tuples(names(PROVINCES), names(TECHNOLOGIES), st.integers(1, 5)), max_size=40).map(
    lambda specs: [Bid(f"b{i}", "A", price, 1, Eligibility(GecFilter(provinces=p, technologies=t)), "A", i)
                   for i, (p, t, price) in enumerate(specs)])


def names_it(bid: Bid, province: str, technology: str) -> bool:
    e = bid.eligibility
    return (e.provinces is None or province in e.provinces) and (e.technologies is None or technology in e.technologies)


@given(bids, st.sampled_from(PROVINCES), st.sampled_from(TECHNOLOGIES), st.integers(1, 5), st.data())
def test_M4_G4_a_lot_walks_the_bids_that_may_take_it_best_then_oldest_each_once(resting, province, technology, price,
                                                                                data):
    book = Bids()
    for bid in resting:
        book.add(bid)
    gone = data.draw(st.lists(st.sampled_from(resting), unique_by=id) if resting else st.just([]))
    for bid in gone:
        book.remove(bid)
    book.check()
    left = [b for b in resting if all(b is not g for g in gone)]
    walked = list(book.crossing(province, technology, price))
    assert [priority(b) for b in walked] == sorted(priority(b) for b in walked), "best, then oldest"
    assert len({id(b) for b in walked}) == len(walked), "each once"
    may = [b for b in left if b.price >= price and names_it(b, province, technology)]
    assert {id(b) for b in may} <= {id(b) for b in walked}, "every bid that may take the lot is walked"
    for b in walked:
        if len(_named(b)) <= FILED_AT_MOST:         # filed exactly: walked only by lots of a pair it names
            assert names_it(b, province, technology), f"{b.order_id} names neither {province} nor {technology}"
    assert len(book) == len(left) and {id(b) for b in book} == {id(b) for b in left}


def _named(bid: Bid) -> list[tuple[str | None, str | None]]:
    e = bid.eligibility
    return [(p, t) for p in (e.provinces or [None]) for t in (e.technologies or [None])]


def test_G4_bids_naming_another_province_are_not_walked_however_many():
    book = Bids()
    for i in range(1_000):
        book.add(Bid(f"b{i}", "A", 9_999, 1, Eligibility(GecFilter(provinces=["Atlantis"])), "A", i))
    open_bid = Bid("open", "A", 1, 1, Eligibility(None), "A", 1_000)
    book.add(open_bid)
    assert list(book.crossing("Gansu", "wind", 1)) == [open_bid]
    assert len(list(book.crossing("Atlantis", "wind", 1))) == 1_001


def test_a_filter_naming_many_is_filed_coarsely_at_most_the_filing_keeps():
    wide = Eligibility(GecFilter(provinces=list(PROVINCES), technologies=list(TECHNOLOGIES)))     # 30 pairs
    assert keys(wide) == [(p, None) for p in sorted(PROVINCES)] and len(keys(wide)) <= FILED_AT_MOST
    widest = Eligibility(GecFilter(provinces=[f"p{i}" for i in range(20)], technologies=[f"t{i}" for i in range(20)]))
    assert keys(widest) == [(None, None)]
