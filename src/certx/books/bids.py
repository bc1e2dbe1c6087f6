"""The resting GEC bids (DOMAIN M4, G4), highest first, then oldest, and filed by the attributes their filters name.

A new lot walks the bids that cross its price, best first, and asks each filter whether it admits the lot. In one
list, a lot walked every bid priced above it whatever its filter named: 100,000 bids for a province that has no
lots cost each new lot 18.5–31 ms (`loadtest.cost_bench`, `gec_lot_vs_bids`). So each bid is filed in cells by
the provinces and technologies its filter names, and a lot walks only the four cells its own province and
technology can be in: (province, technology), (province, any), (any, technology), (any, any), merged in priority.
A bid is filed in exactly one of a lot's four, so none comes twice.

A filter that names both is filed under each pair, up to `PAIRS` of them; past that under the level that names
fewer (a filter may name 64 of each: 4,096 cells a bid would make the bid itself the cost). What the cells do not
tell apart is still walked and refused by `Eligibility.admits`: a bid of the lot's province and technology whose
subsidy, production months or excluded provinces leave the lot out, and, filed under one level, a bid whose other
level leaves it out. Its cost grows with those bids, not with every bid resting.
"""
from __future__ import annotations

from collections.abc import Iterator
from heapq import merge
from itertools import product
from typing import TYPE_CHECKING

from certx.books.priority import PriceTime

if TYPE_CHECKING:
    from certx.books.gec import Bid, BucketKey, Eligibility

PAIRS = 64          # the most (province, technology) cells a bid is filed in
Cell = tuple[str | None, str | None]        # (province, technology); None: any


def priority(bid: Bid) -> tuple[int, int]:
    """Highest first, then oldest (M4)."""
    return -bid.price, bid.seq


def cells(eligibility: Eligibility) -> list[Cell]:
    """Where a bid with this filter is filed: worked out once, asked again as the bid leaves."""
    if eligibility.cells is None:
        eligibility.cells = _cells(eligibility)
    return eligibility.cells


def _cells(eligibility: Eligibility) -> list[Cell]:
    provinces, technologies = eligibility.provinces, eligibility.technologies
    if provinces is not None and technologies is not None and len(provinces) * len(technologies) > PAIRS:
        if len(provinces) <= len(technologies):
            technologies = None
        else:
            provinces = None
    # sorted: a frozenset's order varies with the string hash, and the cells' order is kept nowhere but here
    return list(product(sorted(provinces) if provinces is not None else (None,),
                        sorted(technologies) if technologies is not None else (None,)))


class Bids:
    __slots__ = ("filed", "size")

    def __init__(self) -> None:
        self.filed: dict[Cell, PriceTime[Bid]] = {}
        self.size = 0

    def add(self, bid: Bid) -> None:
        filed = self.filed
        for cell in cells(bid.eligibility):
            queue = filed.get(cell)
            if queue is None:
                queue = filed[cell] = PriceTime(highest=True)
            queue.add(bid)
        self.size += 1

    def remove(self, bid: Bid) -> None:
        filed = self.filed
        for cell in cells(bid.eligibility):
            queue = filed[cell]
            queue.remove(bid)
            if not queue:
                del filed[cell]
        self.size -= 1

    def admitting(self, bucket: BucketKey) -> Iterator[Bid]:
        """The bids that may admit a lot of this bucket, best first: every bid whose filter admits it, and some
        that do not (see the module's docstring)."""
        province, technology = bucket[0], bucket[1]
        get = self.filed.get
        queues = [q for q in (get((province, technology)), get((province, None)), get((None, technology)),
                              get((None, None))) if q is not None]
        if len(queues) == 1:
            return iter(queues[0])
        if len(queues) == 2:
            return _two(*queues)
        return merge(*queues, key=priority)

    def __iter__(self) -> Iterator[Bid]:
        """Every resting bid once, best first (a bid filed in several cells comes from each, one after another)."""
        last = None
        for bid in merge(*self.filed.values(), key=priority):
            if bid is not last:
                yield bid
            last = bid

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def check(self) -> None:
        """Each queue in priority; each bid filed in exactly its cells, and nothing else filed; `size` counts the
        bids. `assert`s."""
        expected: dict[Cell, list[int]] = {}
        resting = list(self)
        for bid in resting:
            for cell in cells(bid.eligibility):
                expected.setdefault(cell, []).append(id(bid))
        assert {cell: [id(b) for b in queue] for cell, queue in self.filed.items()} == expected, \
            "the bids filed by cell are not the resting bids' cells"
        assert len(resting) == self.size, f"{self.size} bids counted, {len(resting)} resting"
        for queue in self.filed.values():
            queue.check()


def _two(a: PriceTime[Bid], b: PriceTime[Bid]) -> Iterator[Bid]:
    """Two non-empty queues merged in priority: `heapq.merge` for the usual two cells of a lot (a province's and a
    technology's) cost a twentieth of the GEC flow's time; this a third less."""
    ia, ib = iter(a), iter(b)
    x, y = next(ia), next(ib)
    while True:
        if priority(x) < priority(y):
            yield x
            x = next(ia, None)
            if x is None:
                yield y
                yield from ib
                return
        else:
            yield y
            y = next(ib, None)
            if y is None:
                yield x
                yield from ia
                return
