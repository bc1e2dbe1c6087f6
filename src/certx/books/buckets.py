"""Resting GEC lots filed in buckets by the attributes a bid's filter tests (DOMAIN M4, G4).

A bucket holds the lots of one bucket key (see `certx.books.gec.bucket_of`: province, technology, subsidy,
production month), cheapest then oldest. The buckets are the leaves of a tree with one level per attribute.
Four things keep a filtered bid cheap whatever the size of the book:
- where its filter names keys (its provinces, say), the bid looks them up instead of scanning the branches, and
  it opens only the buckets its filter admits, so a filter that admits nothing resting costs a few look-ups;
- every branch knows the oldest and newest production month under it (the last level, the one ordered
  attribute), so a bid skips whole branches outside its production window or maximum age;
- every branch knows its floor, the priority (price, seq) of the cheapest lot under it, and the bid walks the
  tree best-first (a heap of branches by floor), never opening a branch above its price: a bid may admit
  hundreds of buckets and cross the price of few of them;
- every branch knows its `bounds`, for each hour of the day the most kWh any certificate under it has from that
  hour and how far the least falls short of 1000, for curves of short and of long certificates apart (issue 13:
  each lot's are its curve's, `certx.hours.curve.Curve.bounds`; a lot without hours has none), and a bid with
  hours skips a branch where they prove that no certificate meets its filter (`HourFilter.may_meet`), without
  reading a curve. A lot leaving takes its bounds out: a bucket counts the lots of each bounds, and works out its
  own again when the last of some bounds goes, from the distinct bounds left.
So a bid's work grows with the lots it takes and the branches on their way, not with the lots resting. (A bid with
hours still reads the curve of every lot in a branch its bound cannot rule out, each lot asked the bound first.)
"""
from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Iterator
from heapq import heappop, heappush, heappushpop
from operator import attrgetter, le
from typing import TYPE_CHECKING

from sortedcontainers import SortedKeyList

from certx.hours.curve import KINDS, NOTHING

if TYPE_CHECKING:
    from certx.books.gec import Eligibility, Lot

Priority = tuple[int, int]        # (price, seq): cheapest first, then oldest (M4)
Named = tuple[Collection[Hashable] | None, ...]     # per level, the keys a filter names there, or None
_floor = attrgetter("floor")
_oldest, _newest = attrgetter("oldest"), attrgetter("newest")

_bounds = attrgetter("bounds")

_EMPTY: Priority = (float("inf"), 0)      # the floor of nothing: above every price
_NO_MONTHS = (float("inf"), float("-inf"))  # the oldest and newest month of nothing: outside every window
NO_HOURS = NOTHING * KINDS                     # the bounds of nothing: no kWh from any hour, for no bid with hours


def top(bounds: Iterable[tuple[int, ...]]) -> tuple[int, ...]:
    """The bounds of all of them: each the most of any (`Curve.bounds`)."""
    out = NO_HOURS
    for p in bounds:
        if not all(map(le, p, out)):
            out = tuple(map(max, out, p))
    return out


def priority(lot: Lot) -> Priority:
    return lot.price, lot.seq


class Bucket:
    """The lots of one bucket key, cheapest then oldest, and how many of them have each lot's bounds (lots of one
    curve share them). Never empty while in the tree."""

    __slots__ = ("key", "floor", "oldest", "newest", "bounds", "lots", "profiles")

    def __init__(self, key: tuple) -> None:
        self.key = key
        self.floor: Priority = _EMPTY
        self.oldest = self.newest = key[-1]
        self.bounds = NO_HOURS
        self.lots: SortedKeyList = SortedKeyList(key=priority)
        self.profiles: dict[tuple[int, ...], int] = {}

    def take_in(self, bounds: tuple[int, ...] | None) -> None:
        """Count in a lot's bounds (None: it has no hours)."""
        if bounds is not None:
            self.profiles[bounds] = self.profiles.get(bounds, 0) + 1
            if not all(map(le, bounds, self.bounds)):
                self.bounds = tuple(map(max, self.bounds, bounds))


class Branch:
    """Every lot whose bucket key starts with one prefix: the branches (or, a level above the lots, the buckets)
    under it by their next key, their floor, the oldest and newest production month among them, and the most of
    their bounds."""

    __slots__ = ("floor", "oldest", "newest", "bounds", "children")

    def __init__(self) -> None:
        self.floor: Priority = _EMPTY
        self.oldest, self.newest = _NO_MONTHS
        self.bounds = NO_HOURS
        self.children: dict[Hashable, Branch | Bucket] = {}

    def widen(self, p: Priority, month: int, bounds: tuple[int, ...] | None) -> None:
        """Take in a lot of priority `p` produced in `month`, with `bounds` (None: no hours)."""
        if p < self.floor:
            self.floor = p
        if month < self.oldest:
            self.oldest = month
        if month > self.newest:
            self.newest = month
        if bounds is not None and not all(map(le, bounds, self.bounds)):
            self.bounds = tuple(map(max, self.bounds, bounds))


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
        p, month, bounds = priority(lot), lot.bucket[-1], lot.bounds
        self.count += 1
        bucket = self.index.get(lot.bucket)
        if bucket is not None and p > bucket.floor and (bounds is None or all(map(le, bounds, bucket.bounds))):
            bucket.lots.add(lot)        # changes no floor, months or bounds of a branch
            bucket.take_in(bounds)
            return
        node: Branch = self.root
        *path, last = lot.bucket
        for key in path:
            node.widen(p, month, bounds)
            child = node.children.get(key)
            if child is None:
                child = node.children[key] = Branch()
            node = child
        node.widen(p, month, bounds)
        if bucket is None:
            bucket = node.children[last] = self.index[lot.bucket] = Bucket(lot.bucket)
        bucket.lots.add(lot)
        bucket.take_in(bounds)
        if p < bucket.floor:
            bucket.floor = p

    def remove(self, lot: Lot) -> None:
        p, month, bounds = priority(lot), lot.bucket[-1], lot.bounds
        bucket = self.index[lot.bucket]
        bucket.lots.remove(lot)
        self.count -= 1
        bounds_moved = False
        if bounds is not None:
            left = bucket.profiles.pop(bounds) - 1
            if left:
                bucket.profiles[bounds] = left
            else:                     # the last lot with these bounds: what the others have may be less
                before, bucket.bounds = bucket.bounds, top(bucket.profiles)
                bounds_moved = bucket.bounds != before
        if bucket.floor == p:
            if bucket.lots:
                bucket.floor = priority(bucket.lots[0])
            else:
                bucket.floor = _EMPTY
                del self.index[lot.bucket]
        elif not bounds_moved:           # not the bucket's cheapest, so no floor above was this lot's either
            return
        path: list = [self.root]
        for key in lot.bucket[:-1]:
            path.append(path[-1].children[key])
        path.append(bucket)
        # Climb while something changes: drop what the lot left empty, take the floor from what is left where it
        # was this lot's, the months where a bucket of an edge month went, and the bounds where the bucket's fell.
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
            if bounds_moved:
                before, node.bounds = node.bounds, top(map(_bounds, children.values()))
                bounds_moved = node.bounds != before
            if not floor_moved and not months_gone and not bounds_moved:
                return

    def crossing(self, eligibility: Eligibility, price: int, today_month: int) -> Iterator[Lot]:
        """The lots at `price` or cheaper in the buckets `eligibility` admits, cheapest then oldest (M4); for a bid
        with hours, only in the branches whose bounds may meet them."""
        limit = (price, float("inf"))
        hours = eligibility.hours
        if self.root.floor > limit or hours is not None and not hours.may_meet(self.root.bounds):
            return iter(())                   # most bids in a busy book: asked before any walk is set up
        return self._walk(eligibility, limit, today_month)

    def _walk(self, eligibility: Eligibility, limit: tuple[int, float], today_month: int) -> Iterator[Lot]:
        """Best-first: the heap holds branches and buckets not yet opened, and the next lot of buckets opened,
        each by its floor. What they hold is disjoint and priorities are unique (seq), so floors never tie and
        the heap never compares what follows them."""
        root = self.root
        named, admits = eligibility.named(), eligibility.admits
        oldest, newest = eligibility.window(today_month)
        may = None if eligibility.hours is None else eligibility.hours.may_meet
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
                            may is None or may(child.bounds)) and (depth < leaves or admits(child.key, today_month)):
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
        under it, every span the oldest and newest month of the buckets under it and the bounds the most of the
        lots' under it (a bucket counting each lot's), no branch or bucket is empty but the
        root, every lot sits under its own bucket key, and `count` counts them."""
        count = 0

        def check(node: Branch | Bucket, prefix: tuple) -> tuple[Priority, tuple, tuple]:
            nonlocal count
            if isinstance(node, Bucket):
                assert node.lots, f"empty bucket {prefix}"
                assert node.key == prefix and all(lot.bucket == prefix for lot in node.lots), f"misfiled {prefix}"
                assert self.index.get(prefix) is node, f"{prefix} is not indexed"
                count += len(node.lots)
                floor, span = priority(node.lots[0]), (prefix[-1], prefix[-1])
                profiles: dict = {}
                for lot in node.lots:
                    if lot.bounds is not None:
                        profiles[lot.bounds] = profiles.get(lot.bounds, 0) + 1
                assert node.profiles == profiles, f"bounds counted in {prefix}: {node.profiles}, lots' {profiles}"
                bounds = top(profiles)
            else:
                assert node.children or not prefix, f"empty branch {prefix}"
                below = [check(child, (*prefix, key)) for key, child in node.children.items()]
                floor = min((f for f, _, _ in below), default=_EMPTY)
                span = (min(s[0] for _, s, _ in below), max(s[1] for _, s, _ in below)) if below else _NO_MONTHS
                bounds = top(p for _, _, p in below)
            assert node.floor == floor, f"floor of {prefix}: {node.floor}, cheapest {floor}"
            assert (node.oldest, node.newest) == span, f"months of {prefix}: {node.oldest, node.newest}, {span}"
            assert node.bounds == bounds, f"bounds of {prefix}: {node.bounds}, the lots' {bounds}"
            return floor, span, bounds

        check(self.root, ())
        assert count == self.count, f"{self.count} lots counted, {count} in the buckets"
        assert len(self.index) == sum(1 for _ in self.buckets()), "a bucket indexed but not in the tree"
