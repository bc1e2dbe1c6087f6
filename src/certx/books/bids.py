"""Resting GEC bids filed by the provinces and technologies their filters name (DOMAIN M4, G4): the other way
round from the lots' buckets (certx.books.buckets), so that a new lot walks the bids that may take it, not every
bid priced at or above it. It walked them all and asked each filter: a lot against 100,000 resting bids whose
filters named some other province cost 18.5 ms (`loadtest.cost_bench gec_lot_vs_bids`), and such bids cost
their broker one fen each in reservations.

A bid is filed under each (province, technology) its filter names, None at a level it leaves open. A lot of
province P and technology T looks under (P, T), (P, None), (None, T) and (None, None): each bid that may take
it (it names P or no province, and T or no technology) is filed under exactly one of the four. The four are
walked together, best then oldest (M4). A filter naming many of both would be filed many times, so past
`FILED_AT_MOST` keys it is filed more coarsely (by its provinces alone, or its technologies, or open): a coarse
key only makes more lots look at it, and every bid walked is still asked its whole filter (excluded provinces,
subsidy, months, age, hours), so the fills are the same. What the filing does not cut: bids open on province
and technology whose other terms admit nothing are walked by every lot (each costs its broker its reservation).
"""
from __future__ import annotations

from collections.abc import Iterator
from heapq import merge
from typing import TYPE_CHECKING

from sortedcontainers import SortedKeyList

if TYPE_CHECKING:
    from certx.books.gec import Bid, Eligibility

Key = tuple[str | None, str | None]          # (province, technology); None where the filter leaves it open
FILED_AT_MOST = 16                           # keys a bid is filed under, at most
_LAST = float("inf")


def priority(bid: Bid) -> tuple[int, int]:
    """M4: the highest price first, then the oldest."""
    return -bid.price, bid.seq


def keys(e: Eligibility) -> list[Key]:
    """Where a bid of this filter is filed."""
    provinces = sorted(e.provinces) if e.provinces is not None else [None]
    technologies = sorted(e.technologies) if e.technologies is not None else [None]
    if len(provinces) * len(technologies) <= FILED_AT_MOST:
        return [(p, t) for p in provinces for t in technologies]
    if len(provinces) <= FILED_AT_MOST:
        return [(p, None) for p in provinces]
    if len(technologies) <= FILED_AT_MOST:
        return [(None, t) for t in technologies]
    return [(None, None)]


class Bids:
    __slots__ = ("filed", "count")

    def __init__(self) -> None:
        self.filed: dict[Key, SortedKeyList] = {}
        self.count = 0

    def add(self, bid: Bid) -> None:
        for key in keys(bid.eligibility):
            filed = self.filed.get(key)
            if filed is None:
                filed = self.filed[key] = SortedKeyList(key=priority)
            filed.add(bid)
        self.count += 1

    def remove(self, bid: Bid) -> None:
        for key in keys(bid.eligibility):
            filed = self.filed[key]
            filed.remove(bid)
            if not filed:
                del self.filed[key]
        self.count -= 1

    def crossing(self, province: str, technology: str, price: int) -> Iterator[Bid]:
        """The bids a lot of this province and technology at `price` looks at, bidding at least its price: best,
        then oldest."""
        filed = self.filed
        walks = [found.irange_key(max_key=(-price, _LAST))
                 for found in (filed.get((province, technology)), filed.get((province, None)),
                               filed.get((None, technology)), filed.get((None, None))) if found]
        if len(walks) == 1:
            return walks[0]
        return merge(*walks, key=priority)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Bid]:
        """Every resting bid once, best then oldest."""
        seen: set[int] = set()
        for bid in merge(*self.filed.values(), key=priority):
            if id(bid) not in seen:
                seen.add(id(bid))
                yield bid

    def check(self) -> None:
        """Each bid is filed under exactly its keys, each file in priority order. `assert`s."""
        for key, filed in self.filed.items():
            assert filed, f"an empty file stays under {key}"
            for bid in filed:
                assert key in keys(bid.eligibility), f"bid {bid.order_id} filed under {key}"
        every = list(self)
        assert len(every) == self.count, f"{self.count} bids counted, {len(every)} filed"
        assert sum(map(len, self.filed.values())) == sum(len(keys(b.eligibility)) for b in every), \
            "a bid is missing from one of its files"
