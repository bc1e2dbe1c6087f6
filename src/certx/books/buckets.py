"""Resting GEC lots filed in buckets by the attributes a bid's filter tests (DOMAIN M4, G4).

A bucket holds the lots of one bucket key (see `certx.books.gec.bucket_of`: province, technology, subsidy,
production month), cheapest then oldest. The buckets are the leaves of a tree with one level per attribute.
Three things keep a filtered bid cheap whatever the size of the book:
- where its filter names keys (its provinces, say), the bid looks them up instead of scanning the branches, and
  it opens only the buckets its filter admits, so a filter that admits nothing resting costs a few look-ups;
- every branch knows the oldest and newest production month under it (the last level, the one ordered
  attribute), so a bid skips whole branches outside its production window or maximum age;
- every branch knows its floor, the priority (price, seq) of the cheapest lot under it, and the bid walks the
  tree best-first (a heap of branches by floor), never opening a branch above its price: a bid may admit
  hundreds of buckets and cross the price of few of them.
So a bid's work grows with the lots it takes and the branches on their way, not with the lots resting.
"""
from __future__ import annotations

from collections.abc import Collection, Hashable, Iterator
from heapq import heappop, heappush, heappushpop
from operator import attrgetter
from typing import TYPE_CHECKING

from sortedcontainers import SortedKeyList

if TYPE_CHECKING:
    from certx.books.gec import Eligibility, Lot

Priority = tuple[int, int]        # (price, seq): cheapest first, then oldest (M4)
Named = tuple[Collection[Hashable] | None, ...]     # per level, the keys a filter names there, or None
_floor = attrgetter("floor")
_oldest, _newest = attrgetter("oldest"), attrgetter("newest")

_EMPTY: Priority = (float("inf"), 0)      # the floor of nothing: above every price
_NO_MONTHS = (float("inf"), float("-inf"))  # the oldest and newest month of nothing: outside every window


def priority(lot: Lot) -> Priority:
    return lot.price, lot.seq


class Bucket:
    """The lots of one bucket key, cheapest then oldest. Never empty while in the tree."""

    __slots__ = ("key", "floor", "oldest", "newest", "lots")

    def __init__(self, key: tuple) -> None:
        self.key = key
        self.floor: Priority = _EMPTY
        self.oldest = self.newest = key[-1]
        self.lots: SortedKeyList = SortedKeyList(key=priority)


class Branch:
    """Every lot whose bucket key starts with one prefix: the branches (or, a level above the lots, the buckets)
    under it by their next key, their floor, and the oldest and newest production month among them."""

    __slots__ = ("floor", "oldest", "newest", "children")

    def __init__(self) -> None:
        self.floor: Priority = _EMPTY
        self.oldest, self.newest = _NO_MONTHS
        self.children: dict[Hashable, Branch | Bucket] = {}

    def widen(self, p: Priority, month: int) -> None:
        """Take in a lot of priority `p` produced in `month`."""
        if p < self.floor:
            self.floor = p
        if month < self.oldest:
            self.oldest = month
        if month > self.newest:
            self.newest = month


class Buckets:
    """The tree of buckets. A lot's place is its `bucket` key, one key per level."""

    __slots__ = ("root", "index", "count")

    def __init__(self) -> None:
        self.root = Branch()
        self.index: dict[tuple, Bucket] = {}     # every bucket by its key, for the lots that change no branch
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Lot]:
        """Every resting lot, bucket by bucket."""
        for bucket in self.buckets():
            yield from bucket.lots

    def buckets(self) -> Iterator[Bucket]:
        branches = [self.root]
        while branches:
            for child in branches.pop().children.values():
                if isinstance(child, Bucket):
                    yield child
                else:
                    branches.append(child)

    def add(self, lot: Lot) -> None:
        p, month = priority(lot), lot.bucket[-1]
        self.count += 1
        bucket = self.index.get(lot.bucket)
        if bucket is not None and p > bucket.floor:     # changes neither a floor nor the months of a branch
            bucket.lots.add(lot)
            return
        node: Branch = self.root
        *path, last = lot.bucket
        for key in path:
            node.widen(p, month)
            child = node.children.get(key)
            if child is None:
                child = node.children[key] = Branch()
            node = child
        node.widen(p, month)
        if bucket is None:
            bucket = node.children[last] = self.index[lot.bucket] = Bucket(lot.bucket)
        bucket.lots.add(lot)
        if p < bucket.floor:
            bucket.floor = p

    def remove(self, lot: Lot) -> None:
        p, month = priority(lot), lot.bucket[-1]
        bucket = self.index[lot.bucket]
        bucket.lots.remove(lot)
        self.count -= 1
        if bucket.floor != p:          # not the bucket's cheapest, so no floor above was this lot's either
            return
        if bucket.lots:
            bucket.floor = priority(bucket.lots[0])
        else:
            bucket.floor = _EMPTY
            del self.index[lot.bucket]
        path: list = [self.root]
        for key in lot.bucket[:-1]:
            path.append(path[-1].children[key])
        path.append(bucket)
        # Climb while something changes: drop what the lot left empty, take the floor from what is left where it
        # was this lot's, and the months where a bucket of an edge month went.
        months_gone = not bucket.lots
        for depth in range(len(path) - 2, -1, -1):
            node, key = path[depth], lot.bucket[depth]
            children = node.children
            if children[key].floor == _EMPTY:
                del children[key]
            floor_moved = node.floor == p
            if floor_moved:
                node.floor = min(map(_floor, children.values()), default=_EMPTY)
            if months_gone and (month == node.oldest or month == node.newest):
                span = node.oldest, node.newest
                node.oldest = min(map(_oldest, children.values()), default=_NO_MONTHS[0])
                node.newest = max(map(_newest, children.values()), default=_NO_MONTHS[1])
                months_gone = (node.oldest, node.newest) != span
            else:
                months_gone = False
            if not floor_moved and not months_gone:
                return

    def crossing(self, eligibility: Eligibility, price: int, today_month: int) -> Iterator[Lot]:
        """The lots at `price` or cheaper in the buckets `eligibility` admits, cheapest then oldest (M4)."""
        limit = (price, float("inf"))
        if self.root.floor > limit:           # most bids in a busy book: asked before any walk is set up
            return iter(())
        return self._walk(eligibility, limit, today_month)

    def _walk(self, eligibility: Eligibility, limit: tuple[int, float], today_month: int) -> Iterator[Lot]:
        """Best-first: the heap holds branches and buckets not yet opened, and the next lot of buckets opened,
        each by its floor. What they hold is disjoint and priorities are unique (seq), so floors never tie and
        the heap never compares what follows them."""
        root = self.root
        named, admits = eligibility.named(), eligibility.admits
        oldest, newest = eligibility.window(today_month)
        leaves = len(named)                   # the depth of the buckets
        heap: list = []
        entry = (root.floor, 0, root, None)
        while True:
            floor, depth, node, lots = entry
            if depth < leaves:                # a branch: queue its children that the bid crosses and may admit
                keys, children = named[depth], node.children
                if keys is not None and len(keys) < len(children):
                    below = [children[key] for key in keys if key in children]
                else:
                    below = children.values()
                depth += 1
                best = None
                for child in below:
                    if child.floor <= limit and child.newest >= oldest and child.oldest <= newest and (
                            depth < leaves or admits(child.key, today_month)):
                        if best is None:
                            best = (child.floor, depth, child, None)
                        else:
                            heappush(heap, (child.floor, depth, child, None))
                if best is not None:          # straight on to it, unless something queued is cheaper
                    entry = heappushpop(heap, best)
                    continue
            else:
                if lots is None:              # a bucket, opened at its cheapest lot
                    lots = iter(node.lots)
                    node = next(lots)
                # Go on down this bucket while it stays the cheapest of all; then wait in the queue.
                while True:
                    yield node
                    node = next(lots, None)
                    if node is None:
                        break
                    p = (node.price, node.seq)
                    if p > limit:
                        break
                    if heap and p > heap[0][0]:
                        heappush(heap, (p, depth, node, lots))
                        break
            if not heap:
                return
            entry = heappop(heap)

    def check(self) -> None:
        """The tree's invariants (a book that checks itself): every floor is the priority of the cheapest lot
        under it and every span the oldest and newest month of the buckets under it, no branch or bucket is empty
        but the root, every lot sits under its own bucket key, and `count` counts them."""
        count = 0

        def check(node: Branch | Bucket, prefix: tuple) -> tuple[Priority, tuple]:
            nonlocal count
            if isinstance(node, Bucket):
                assert node.lots, f"empty bucket {prefix}"
                assert node.key == prefix and all(lot.bucket == prefix for lot in node.lots), f"misfiled {prefix}"
                assert self.index.get(prefix) is node, f"{prefix} is not indexed"
                count += len(node.lots)
                floor, span = priority(node.lots[0]), (prefix[-1], prefix[-1])
            else:
                assert node.children or not prefix, f"empty branch {prefix}"
                below = [check(child, (*prefix, key)) for key, child in node.children.items()]
                floor = min((f for f, _ in below), default=_EMPTY)
                span = (min(s[0] for _, s in below), max(s[1] for _, s in below)) if below else _NO_MONTHS
            assert node.floor == floor, f"floor of {prefix}: {node.floor}, cheapest {floor}"
            assert (node.oldest, node.newest) == span, f"months of {prefix}: {node.oldest, node.newest}, {span}"
            return floor, span

        check(self.root, ())
        assert count == self.count, f"{self.count} lots counted, {count} in the buckets"
        assert len(self.index) == sum(1 for _ in self.buckets()), "a bucket indexed but not in the tree"
