"""A bid's hour filter, and which certificates of a range meet it (issue 13, item 2).

A filter (certx.wire.commands.GecFilter, checked by `hours_fault`) is compiled once into an hour-of-day mask (bit h
for China's hour h), an absolute window [start, end) of hours, and `need`: the kWh of a certificate's 1,000 that
must come from hours inside both (min_share percent of them, or all of them when strict).

Which certificates of a run meet it follows from one walk over the hours the run's energy spans, never one step a
certificate: the hours inside make intervals of energy; a certificate wholly inside an interval matches, and only
the certificates where an interval begins or ends are counted kWh by kWh. The result is the run's matching
serials as ranges, lowest first: a bid may take serials from the middle of a lot.

That walk costs a step an hour of the run. Before it, `may_meet` asks bounds on every certificate of a curve, the
most and the least kWh any has from each hour of the day (`certx.hours.curve.Curve.bounds`), whether any could meet
the filter at all: the book skips what cannot without a step (`certx.books.buckets`).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from certx.hours.clock import CHINA, hour_at, hour_of_day, month_of
from certx.hours.curve import KINDS, KWH, Curve, Range
from certx.wire.commands import GecFilter

EVERY_HOUR = (1 << 24) - 1


class HourFilter:
    """An hour filter compiled: `mask` of hours of the day, window [start, end) (None: unbounded), `need` kWh."""

    __slots__ = ("mask", "start", "end", "need", "day", "kinds")

    def __init__(self, mask: int, start: int | None, end: int | None, need: int) -> None:
        self.mask = mask
        self.start = start
        self.end = end
        self.need = need
        # The hours of the day inside the mask and, for a window shorter than a day, the window too.
        within = range(24) if start is None or end is None or end - start >= 24 else \
            {hour_of_day(hour) for hour in range(start, end)}
        self.day = tuple(h for h in sorted(within) if mask >> h & 1)
        rest = [h for h in range(24) if h not in self.day]
        # where `may_meet` reads them in bounds of each kind: the most from `day`, the least from the rest
        self.kinds = [([at + h for h in self.day], [at + 24 + h for h in rest]) for at in range(0, 48 * KINDS, 48)]

    @classmethod
    def of(cls, f: GecFilter) -> HourFilter | None:
        """A filter's hours compiled; None if it asks for none."""
        if not f.by_hours:
            return None
        mask = EVERY_HOUR if f.hours is None else 0
        for begin, stop in f.hours or ():
            mask |= (1 << stop) - (1 << begin)
        return cls(mask, None if f.hours_from is None else hour_at(f.hours_from),
                   None if f.hours_to is None else hour_at(f.hours_to),
                   KWH if f.strict else KWH * f.min_share // 100)

    def admits(self, hour: int) -> bool:
        """Whether an hour is inside the mask and the window."""
        return (self.mask >> ((hour + CHINA) % 24) & 1 == 1 and (self.start is None or self.start <= hour)
                and (self.end is None or hour < self.end))

    def may_meet(self, bounds: tuple[int, ...]) -> bool:
        """Whether a certificate within `bounds` (`Curve.bounds`: of either kind, at most bounds[h] kWh from hour
        of the day h, at least 1000 - bounds[24 + h]) may meet the filter: False proves none does. The kWh inside
        the filter were all produced in the hours of the day `day` names, so they are at most the most from those
        hours, and at most 1000 less the least from the others. (A filter needs 10 kWh or more; one restored
        needing none, which `runs` would let match with nothing inside, is never ruled out.)"""
        need = self.need
        if need <= 0:
            return True
        at = bounds.__getitem__
        for day, rest in self.kinds:
            # what the filter's hours may give one, and 1000 less the least the others give it
            if sum(map(at, day)) >= need and KWH * (1 - len(rest)) + sum(map(at, rest)) >= need:
                return True
        return False

    def months(self) -> tuple[float, float]:
        """The oldest and newest production month whose certificates may have an hour in the window. A month's
        first certificate may hold kWh of the month before (its carry), so a window's last month admits the next."""
        return (float("-inf") if self.start is None else month_of(self.start),
                float("inf") if self.end is None else month_of(self.end - 1) + 1)


def eligible(curve: Curve, ranges: Iterable[Range], hours: HourFilter, limit: int) -> list[Range]:
    """The lowest serials of `ranges` (ascending, each one run of the curve's certificates) that meet the filter,
    at most `limit` of them."""
    out: list[Range] = []
    if limit <= 0:
        return out
    for first, last in ranges:
        for a, b in runs(curve, first, last, hours):
            if b - a + 1 >= limit:
                out.append((a, a + limit - 1))
                return out
            out.append((a, b))
            limit -= b - a + 1
    return out


def runs(curve: Curve, first: int, last: int, hours: HourFilter) -> Iterator[Range]:
    """The serials of [first, last] (one run of the curve's certificates) whose kWh inside the filter reach its
    need, as ranges in order."""
    a, b = curve.energy(first, last)
    base = a // KWH                 # the certificate `first` is; k - base + first is certificate k's serial
    need, admits = hours.need, hours.admits
    run: list[int] = []             # [from, to] certificates of the run of matches being gathered, or empty
    k, inside = base, 0             # the certificate being counted, and its kWh inside so far

    def settle() -> Iterator[Range]:
        """Certificate k is counted: it joins the run, starts one, or ends it. (A certificate never counted has
        nothing inside, and the next one that matches finds the run does not reach it.)"""
        if inside < need:
            yield from flush()
        elif run and run[1] == k - 1:
            run[1] = k
        else:
            yield from flush()
            run[:] = [k, k]

    def flush() -> Iterator[Range]:
        if run:
            yield run[0] - base + first, run[1] - base + first
            run.clear()

    for hour, e0, e1 in curve.segments(a, b):
        if not admits(hour):
            continue
        k0, k1 = e0 // KWH, (e1 - 1) // KWH
        if k0 != k:
            yield from settle()
            k, inside = k0, 0
        if k1 == k:
            inside += e1 - e0
            continue
        inside += KWH * (k + 1) - e0
        yield from settle()
        if k1 > k + 1:              # wholly inside
            if run and run[1] == k:
                run[1] = k1 - 1
            else:
                yield from flush()
                run[:] = [k + 1, k1 - 1]
        k, inside = k1, e1 - KWH * k1
    yield from settle()
    yield from flush()
