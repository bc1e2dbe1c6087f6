"""Resting GEC lots filed in buckets by the attributes a bid's filter tests (DOMAIN M4, G4).

A bucket holds the lots of one bucket key (see `certx.books.gec.bucket_of`: province, technology, subsidy,
production month), cheapest then oldest. The buckets are the leaves of a tree with one level per attribute.
Two things keep a filtered bid cheap whatever the size of the book:
- at each level the bid opens only the branches its filter admits, and looks up the keys the filter names (its
  provinces, say) instead of scanning, so a filter that admits nothing resting costs a few look-ups;
- every branch knows its floor, the priority (price, seq) of the cheapest lot under it, and the bid walks the
  tree best-first (a heap of branches by floor), never opening a branch above its price: a bid may admit
  hundreds of buckets and cross the price of few of them.
So a bid's work grows with the lots it takes and the branches on their way, not with the lots resting.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterator, Sequence
from heapq import heappop, heappush
from typing import TYPE_CHECKING

from sortedcontainers import SortedKeyList

if TYPE_CHECKING:
    from certx.books.gec import Lot

Priority = tuple[int, int]        # (price, seq): cheapest first, then oldest (M4)
Level = tuple[Collection[Hashable] | None, Callable[[Hashable], bool]]
"""How a bid's filter applies at one level: the keys it names there (None: it names none) and the test of a key."""

_EMPTY: Priority = (float("inf"), 0)      # the floor of nothing: above every price


def priority(lot: Lot) -> Priority:
    return lot.price, lot.seq


class Bucket:
    """The lots of one bucket key, cheapest then oldest. Never empty while in the tree."""

    __slots__ = ("floor", "lots")

    def __init__(self) -> None:
        self.floor: Priority = _EMPTY
        self.lots: SortedKeyList = SortedKeyList(key=priority)


class Branch:
    """Every lot whose bucket key starts with one prefix: the branches (or, a level above the lots, the buckets)
    under it by their next key, and the floor of them all."""

    __slots__ = ("floor", "children")

    def __init__(self) -> None:
        self.floor: Priority = _EMPTY
        self.children: dict[Hashable, Branch | Bucket] = {}


class Buckets:
    """The tree of buckets. A lot's place is its `bucket` key, one key per level."""

    __slots__ = ("root", "count")

    def __init__(self) -> None:
        self.root = Branch()
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Lot]:
        """Every resting lot, bucket by bucket."""
        branches = [self.root]
        while branches:
            for child in branches.pop().children.values():
                if isinstance(child, Bucket):
                    yield from child.lots
                else:
                    branches.append(child)

    def add(self, lot: Lot) -> None:
        p = priority(lot)
        node: Branch = self.root
        *path, last = lot.bucket
        for key in path:
            if p < node.floor:
                node.floor = p
            child = node.children.get(key)
            if child is None:
                child = node.children[key] = Branch()
            node = child
        if p < node.floor:
            node.floor = p
        bucket = node.children.get(last)
        if bucket is None:
            bucket = node.children[last] = Bucket()
        bucket.lots.add(lot)
        if p < bucket.floor:
            bucket.floor = p
        self.count += 1

    def remove(self, lot: Lot) -> None:
        p = priority(lot)
        path: list = [self.root]
        for key in lot.bucket:
            path.append(path[-1].children[key])
        bucket: Bucket = path[-1]
        bucket.lots.remove(lot)
        self.count -= 1
        if bucket.floor != p:          # not the bucket's cheapest, so no floor above was this lot's either
            return
        bucket.floor = priority(bucket.lots[0]) if bucket.lots else _EMPTY
        # Climb while this lot was the floor: drop what it left empty, and take the floor from what is left.
        for depth in range(len(path) - 2, -1, -1):
            node, key = path[depth], lot.bucket[depth]
            if node.children[key].floor == _EMPTY:
                del node.children[key]
            if node.floor != p:
                return
            node.floor = min((child.floor for child in node.children.values()), default=_EMPTY)

    def crossing(self, levels: Sequence[Level], price: int) -> Iterator[Lot]:
        """The lots at `price` or cheaper in the buckets that every level admits, cheapest then oldest (M4).

        Best-first: the heap holds branches not yet opened, buckets not yet opened, and the next lot of opened
        buckets, each by its floor. Their lots are disjoint and priorities unique (seq), so floors never tie
        and the heap never compares what follows them."""
        limit = (price, float("inf"))
        root = self.root
        if root.floor > limit:
            return
        last = len(levels)
        heap: list = [(root.floor, 0, root, None)]
        while heap:
            floor, depth, node, lots = heappop(heap)
            if depth < last:
                named, admits = levels[depth]
                children = node.children
                if named is not None and len(named) < len(children):
                    pairs: Iterator = ((key, children[key]) for key in named if key in children)
                else:
                    pairs = iter(children.items())
                for key, child in pairs:
                    if child.floor <= limit and admits(key):
                        heappush(heap, (child.floor, depth + 1, child, None))
                continue
            if lots is None:                       # a bucket, opened at its cheapest lot
                lots = iter(node.lots)
                node = next(lots)
            # Go on down this bucket while it stays the cheapest of all; then wait in the heap.
            while True:
                yield node
                node = next(lots, None)
                if node is None:
                    break
                p = priority(node)
                if p > limit:
                    break
                if heap and p > heap[0][0]:
                    heappush(heap, (p, last, node, lots))
                    break

    def check(self) -> None:
        """The tree's invariants (a book that checks itself): every floor is the priority of the cheapest lot
        under it, no branch or bucket is empty but the root, every lot sits under its own bucket key, and
        `count` counts them."""
        count = 0

        def floor_of(node: Branch | Bucket, prefix: tuple) -> Priority:
            nonlocal count
            if isinstance(node, Bucket):
                assert node.lots, f"empty bucket {prefix}"
                assert all(lot.bucket == prefix for lot in node.lots), f"a lot outside its bucket {prefix}"
                count += len(node.lots)
                floor = priority(node.lots[0])
            else:
                assert node.children or not prefix, f"empty branch {prefix}"
                floor = min((floor_of(child, (*prefix, key)) for key, child in node.children.items()),
                            default=_EMPTY)
            assert node.floor == floor, f"floor of {prefix}: {node.floor}, cheapest {floor}"
            return floor

        floor_of(self.root, ())
        assert count == self.count, f"{self.count} lots counted, {count} in the buckets"
