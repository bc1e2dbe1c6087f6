"""Orders in price-time priority (DOMAIN M1 (a), M4): the best price first, then the oldest (`seq`).

A level per price, each its orders oldest first. An order joins the end of its level (the newest, almost always),
so resting costs a look-up and an append, not a search through a sorted list with a key computed for every order
it passes (`SortedKeyList.add` was a tenth of the GEC flow's time with the bids in one list). Where prices are few
next to the orders the ordered part (a `SortedDict` of levels) changes seldom; where each order has a price of its
own (a bucket's few lots) a sorted list costs less, and the buckets keep one.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from itertools import chain
from operator import attrgetter
from typing import Generic, Protocol, TypeVar

from sortedcontainers import SortedDict


class Priced(Protocol):
    price: int
    seq: int


O = TypeVar("O", bound=Priced)
_seq = attrgetter("seq")


class PriceTime(Generic[O]):
    """Orders of one side, best first: the highest price first for bids (`highest=True`), the lowest for lots."""

    __slots__ = ("levels", "size", "sign")

    def __init__(self, highest: bool) -> None:
        self.levels: SortedDict = SortedDict()      # the price (negated for bids: best first) -> orders, oldest first
        self.size = 0
        self.sign = -1 if highest else 1

    def add(self, order: O) -> None:
        key = self.sign * order.price
        level = self.levels.get(key)
        if level is None:
            self.levels[key] = [order]
        elif level[-1].seq < order.seq:
            level.append(order)
        else:
            insort(level, order, key=_seq)          # an older one: never from the engine, whose orders rest as they come
        self.size += 1

    def remove(self, order: O) -> None:
        """Take out an order that rests here (a KeyError or ValueError if it does not)."""
        key = self.sign * order.price
        level = self.levels[key]
        i = 0 if level[0] is order else bisect_left(level, order.seq, key=_seq)
        if i == len(level) or level[i] is not order:
            raise ValueError(f"{order!r} does not rest here")
        del level[i]
        if not level:
            del self.levels[key]
        self.size -= 1

    def __iter__(self) -> Iterator[O]:
        levels = self.levels        # its keys in order, each looked up: all in C (a values view is a generator)
        return chain.from_iterable(map(levels.__getitem__, levels))

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def check(self) -> None:
        """No level empty; each holds orders of its price, oldest first; `size` counts them. `assert`s."""
        count = 0
        for key, level in self.levels.items():
            assert level, f"an empty level at {self.sign * key}"
            assert all(o.price == self.sign * key for o in level), f"an order filed at {self.sign * key} is not"
            assert all(a.seq < b.seq for a, b in zip(level, level[1:])), f"level {self.sign * key} out of age"
            count += len(level)
        assert count == self.size, f"{self.size} orders counted, {count} resting"
