"""One project-month's hourly production, and the hours of its certificates (issue 13, item 1).

A curve is the kWh a project produced in each hour of one production month, China time, kept as one array of
cumulative sums: `cum[i]` is what the month produced up to the end of its hour i. The certificates it covers are
its project-month's GECs in serial order (its batches' ranges, `ranges`), which is their production order:
certificate k of the month is the energy [1000·k, 1000·k + 1000) of the month, counted with the remainder carried
in from the previous month first (`carry_in` kWh, produced in that month's last hours). So

    carry_in + total = 1000 · issued + carry_out,      0 <= carry_out < 1000,

and the carry out is the next month's carry in. A certificate is never split: one whose energy spans hours carries
their mix, each hour's kWh.

Coordinates: the month's *energy* x runs over [0, carry_in + total); its *production* p = x - carry_in over
[0, total). The hour that produced p is the first i with cum[i] > p (a binary search); an hour that produced nothing
holds no energy and is never named.

The array is the narrowest of unsigned 16 bits, unsigned 32 bits and signed 64 bits that holds the month's total:
a distributed-PV project's month (some 30 MWh) takes 2 bytes an hour, 1.5 kB a month.
"""
from __future__ import annotations

import sys
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from itertools import accumulate

from certx.hours.clock import hour_of_day, month_start

KWH = 1000                              # one GEC: 1 MWh
Range = tuple[int, int]                 # serials, both ends included

NOTHING = (0,) * 48                     # the bounds (`Curve.bounds`) of no certificate, of one kind
KINDS = 2

# The typecodes a curve may use, narrowest first, with the largest total each holds.
TYPECODES = tuple((code, 2 ** (8 * array(code).itemsize - (code == "q")) - 1) for code in ("H", "I", "q"))


def typecode(total: int) -> str:
    """The narrowest typecode whose values reach `total` (the largest cumulative sum)."""
    return next(code for code, top in TYPECODES if total <= top)


class Curve:
    """One project-month's production by hour (cumulative), the certificates it covers, and its carries."""

    __slots__ = ("project", "month", "start", "carry_in", "issued", "ranges", "cum", "previous", "_bounds")

    def __init__(self, project: str, month: int, carry_in: int, ranges: tuple[Range, ...], cum: array,
                 previous: Curve | None) -> None:
        self.project = project
        self.month = month                  # the production month's index (certx.registry.issuance.months)
        self.start = month_start(month)     # the absolute hour of cum[0]
        self.carry_in = carry_in            # kWh of the previous month's curve, first in this month's energy
        self.issued = sum(last - first + 1 for first, last in ranges)
        self.ranges = ranges                # the certificates covered, in serial (= production) order
        self.cum = cum
        self.previous = previous            # the curve of the month before, where the carry in was produced
        self._bounds: tuple[int, ...] | None = None    # `bounds`, once asked for

    @property
    def total(self) -> int:
        return self.cum[-1]

    @property
    def carry_out(self) -> int:
        """The kWh produced after the month's last certificate: the next month's carry in."""
        return self.carry_in + self.cum[-1] - KWH * self.issued

    def adds_up(self) -> bool:
        """carry_in + total = 1000 x issued + carry_out, with 0 <= carry_out < 1000."""
        return 0 <= self.carry_out < KWH

    def covers(self, first: int, last: int) -> bool:
        """Whether [first, last] is inside one range of the curve's certificates."""
        return any(a <= first and last <= b for a, b in self.ranges)

    def index(self, serial: int) -> int:
        """k: the certificate's place in the month's production order."""
        k = 0
        for first, last in self.ranges:
            if first <= serial <= last:
                return k + serial - first
            k += last - first + 1
        raise ValueError(f"serial {serial} is not one of {self.project} {self.month}'s certificates")

    def energy(self, first: int, last: int) -> tuple[int, int]:
        """The energy [a, b) of the certificates [first, last], which are adjacent in production order: one
        range of the curve's `ranges`, or a part of one."""
        k = self.index(first)
        if self.index(last) != k + last - first:
            raise ValueError(f"[{first}, {last}] is not one run of {self.project} {self.month}'s certificates")
        return KWH * k, KWH * (k + last - first + 1)

    def produced(self, p: int, q: int) -> Iterator[tuple[int, int, int]]:
        """(hour, from, to): each hour that produced some of this month's production [p, q), and the part of it
        that hour produced, in production coordinates; in hour order."""
        cum = self.cum
        i = bisect_right(cum, p)
        before = cum[i - 1] if i else 0
        hours, start = len(cum), self.start
        while i < hours and before < q:
            after = cum[i]
            if after > before:
                yield start + i, max(before, p), min(after, q)
            before = after
            i += 1

    def segments(self, a: int, b: int) -> Iterator[tuple[int, int, int]]:
        """(hour, from, to): each hour that produced some of the energy [a, b) of this month's certificates, with
        its part in this curve's energy coordinates, in hour order: the carry first (hours of the month before),
        then the month's own."""
        carry = self.carry_in
        if a < carry:
            previous = self.previous
            # The carry is the tail of the previous month's production: this month's energy x is the previous
            # month's production x + shift. A curve covers at least one certificate, so the carry (< 1000) never
            # reaches back past the previous month's own production into its own carry.
            shift = KWH * previous.issued - previous.carry_in
            for hour, p0, p1 in previous.produced(a + shift, min(b, carry) + shift):
                yield hour, p0 - shift, p1 - shift
        if b > carry:
            for hour, p0, p1 in self.produced(max(a, carry) - carry, b - carry):
                yield hour, p0 + carry, p1 + carry

    def bounds(self) -> tuple[int, ...]:
        """What any of the curve's certificates, or any set of them, may offer an hour filter
        (`certx.hours.mask.HourFilter.may_meet`): 48 values, for each hour of the day (0-23, China time) the most
        kWh one certificate was produced in that hour of any day, then for each hour of the day how far the least
        one certificate was produced in it falls short of 1000 kWh. Each value is a most, so the bounds of a lot, a
        bucket, the book, are the most of their parts' (`certx.books.buckets`).

        They come twice (`KINDS` x 48 values), with zeros (nothing) in the other 48: in the first 48 for a curve of
        short certificates, in the next for one of long ones, whose least from the hours of the day adds up to
        half a certificate or more (each has a day's production, or most of it). Kept apart, the bounds of many
        curves stay tight: a short certificate's most (what a mask may get of one day) and a long one's least
        (what the other hours give every one) would pair up into bounds that neither has.

        Worked out the first time they are asked for (a lot of the month rests), not at attach, which they would
        slow several times over; then kept, since a curve never changes."""
        if self._bounds is None:
            most, least = [0] * 24, [KWH] * 24
            mine: dict[int, int] = {}       # certificate k's kWh so far, by hour of the day
            k = 0

            def settle() -> None:
                for h in range(24):
                    kwh = mine.get(h, 0)
                    if kwh > most[h]:
                        most[h] = kwh
                    if kwh < least[h]:
                        least[h] = kwh
                mine.clear()

            for hour, e0, e1 in self.segments(0, KWH * self.issued):
                h = hour_of_day(hour)
                k0, k1 = e0 // KWH, (e1 - 1) // KWH
                if k0 != k:
                    settle()
                    k = k0
                if k1 == k:
                    mine[h] = mine.get(h, 0) + e1 - e0
                    continue
                mine[h] = mine.get(h, 0) + KWH * (k + 1) - e0
                settle()
                if k1 > k + 1:              # certificates wholly inside the hour: all of theirs from it, none else
                    mine[h] = KWH
                    settle()
                k = k1
                mine[h] = e1 - KWH * k1
            settle()
            kind = (*most, *(KWH - kwh for kwh in least))
            self._bounds = (*NOTHING, *kind) if 2 * sum(least) >= KWH else (*kind, *NOTHING)
        return self._bounds

    def serials_within(self, since: int, until: int) -> list[Range]:
        """The serial ranges, in serial order, of the certificates whose hours reach [since, until) (absolute):
        some hour at or after `since` and some before `until` (energy from them, or from both sides of them).
        Every other certificate of the curve has all its energy before the hours or all after. Two lookups in the
        cumulative sums, so a reader of a few hours never walks a month's certificates. Exact but for hours that
        begin before the month or end by its start: the certificates of the carry in are then kept, whichever
        hours of the month before produced it."""
        carry, cum, hours = self.carry_in, self.cum, len(self.cum)
        i, j = since - self.start, until - self.start
        # the energy produced before `since` and before `until`; the carry in, before the month, in hours not kept
        x0 = 0 if i < 0 else carry + (cum[min(i, hours) - 1] if i else 0)
        x1 = carry + (cum[min(j, hours) - 1] if j > 0 else 0)
        k0, k1 = x0 // KWH, min(self.issued, -(-x1 // KWH))
        out, k = [], 0
        for first, last in self.ranges:
            lo, hi = max(k0, k), min(k1, k + last - first + 1)
            if lo < hi:
                out.append((first + lo - k, first + hi - 1 - k))
            k += last - first + 1
        return out

    def hours(self, first: int, last: int) -> list[tuple[int, int]]:
        """(hour, kWh) of the certificates [first, last] (one run, see `energy`), in hour order; the kWh sum to
        1000 a certificate."""
        a, b = self.energy(first, last)
        return [(hour, to - since) for hour, since, to in self.segments(a, b)]


def cumulative(kwh: list[int], total: int) -> array:
    """The cumulative sums of hourly kWh whose sum is `total`, in the narrowest array that holds them."""
    return array(typecode(total), accumulate(kwh))


def to_bytes(cum: array) -> bytes:
    """The array's canonical bytes: little-endian whatever the host, so one state has one encoding."""
    if sys.byteorder == "big":
        cum = array(cum.typecode, cum)
        cum.byteswap()
    return cum.tobytes()


def from_bytes(data: bytes, hours: int) -> array:
    """The array `to_bytes` gave for a month of `hours` hours; ValueError if the bytes cannot be one."""
    width, left = divmod(len(data), hours)
    code = next((code for code, _ in TYPECODES if array(code).itemsize == width), None)
    if left or code is None:
        raise ValueError(f"{len(data)} bytes are not {hours} cumulative sums")
    cum = array(code)
    cum.frombytes(data)
    if sys.byteorder == "big":
        cum.byteswap()
    return cum
