"""A set of serial numbers kept as disjoint, merged, inclusive ranges (DESIGN 6).

Cost grows with the number of ranges touched, never with the number of certificates.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Iterator


class RangeSet:
    __slots__ = ("_firsts", "_lasts")

    def __init__(self) -> None:
        self._firsts: list[int] = []
        self._lasts: list[int] = []

    @classmethod
    def of(cls, first: int, last: int) -> RangeSet:
        """The set of one range."""
        one = cls.__new__(cls)
        one._firsts, one._lasts = [first], [last]
        return one

    def span(self) -> tuple[int, int]:
        """The lowest and the highest serial (of a set that is not empty): its range, if it has one."""
        return self._firsts[0], self._lasts[-1]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self._firsts, self._lasts)

    def __len__(self) -> int:
        """Number of ranges (not certificates)."""
        return len(self._firsts)

    def count(self) -> int:
        """Number of certificates."""
        return sum(b - a + 1 for a, b in zip(self._firsts, self._lasts))

    def copy(self) -> RangeSet:
        other = RangeSet()
        other._firsts, other._lasts = self._firsts[:], self._lasts[:]
        return other

    def lowest(self, quantity: int) -> list[tuple[int, int]]:
        """The lowest `quantity` serials of the set (all of them if it holds fewer), as ranges; changes nothing."""
        out: list[tuple[int, int]] = []
        if quantity <= 0 or not self._firsts:
            return out
        first = self._firsts[0]
        if first + quantity - 1 <= self._lasts[0]:          # within the first range: most takes
            out.append((first, first + quantity - 1))
            return out
        for first, last in zip(self._firsts, self._lasts):
            if quantity <= last - first:
                out.append((first, first + quantity - 1))
                return out
            out.append((first, last))
            quantity -= last - first + 1
            if not quantity:
                break
        return out

    def _at(self, serial: int) -> int:
        """Index of the range that starts at or before `serial`, or -1."""
        return bisect_right(self._firsts, serial) - 1

    def contains(self, first: int, last: int) -> bool:
        i = self._at(first)
        return i >= 0 and self._lasts[i] >= last

    def overlaps(self, first: int, last: int) -> bool:
        i = self._at(last)
        return i >= 0 and self._lasts[i] >= first

    def overlap(self, first: int, last: int) -> list[tuple[int, int]]:
        """The parts of [first, last] that are in the set."""
        out = []
        i = max(self._at(first), 0)
        firsts, lasts = self._firsts, self._lasts
        while i < len(firsts) and firsts[i] <= last:
            a, b = max(firsts[i], first), min(lasts[i], last)
            if a <= b:
                out.append((a, b))
            i += 1
        return out

    def add(self, first: int, last: int) -> None:
        """Add a range that must not overlap the set; merges with neighbours it touches."""
        firsts, lasts = self._firsts, self._lasts
        i = bisect_right(firsts, first)
        if i and lasts[i - 1] >= first:
            raise ValueError(f"[{first}, {last}] overlaps [{firsts[i - 1]}, {lasts[i - 1]}]")
        if i < len(firsts) and firsts[i] <= last:
            raise ValueError(f"[{first}, {last}] overlaps [{firsts[i]}, {lasts[i]}]")
        joins_left = i and lasts[i - 1] == first - 1
        joins_right = i < len(firsts) and firsts[i] == last + 1
        if joins_left and joins_right:
            lasts[i - 1] = lasts[i]
            del firsts[i], lasts[i]
        elif joins_left:
            lasts[i - 1] = last
        elif joins_right:
            firsts[i] = first
        else:
            firsts.insert(i, first)
            lasts.insert(i, last)

    def remove(self, first: int, last: int) -> None:
        """Remove a range that must be wholly inside one range of the set; splits it if needed."""
        firsts, lasts = self._firsts, self._lasts
        if firsts and firsts[0] == first and last <= lasts[0]:          # the lowest serials: a fill of a lot
            if last < lasts[0]:
                firsts[0] = last + 1
            else:
                del firsts[0], lasts[0]
            return
        i = self._at(first)
        if i < 0 or self._lasts[i] < last:
            raise ValueError(f"[{first}, {last}] is not held")
        a, b = self._firsts[i], self._lasts[i]
        if a == first and b == last:
            del self._firsts[i], self._lasts[i]
        elif a == first:
            self._firsts[i] = last + 1
        elif b == last:
            self._lasts[i] = first - 1
        else:
            self._lasts[i] = first - 1
            self._firsts.insert(i + 1, last + 1)
            self._lasts.insert(i + 1, b)
