"""Every attached curve, by project and production month (issue 13, item 1).

The rules a curve meets, which the registry's desk enforces (certx.engine.registry, `curve.attach`) and a snapshot's
restore checks again: one curve a project-month, after the month's GECs are issued; it adds up (the carry in plus
the month's total is 1000 kWh for each of the month's certificates plus a carry out below 1000, `Curve.adds_up`).
The carry in is the carry out of the project's curve for the month before, and 0 when that month has no curve: the
remainder of a month without a curve is not known, so it is not carried. A project's curves attach in production
order (a month after every month the project has a curve for), since a month's carry out, once the next month has
used it, cannot change.

The curve covers the certificates its project-month has when it is attached; one issued for that month afterwards
has no hours (a registry issues a month once, so this should not happen).
"""
from __future__ import annotations

from array import array
from itertools import islice, pairwise
from operator import le

from certx.hours.clock import month_hours
from certx.hours.curve import Curve, Range, cumulative, typecode


class Overlay:
    """The curves: (project, month index) -> Curve, in the order they were attached."""

    __slots__ = ("curves", "latest")

    def __init__(self) -> None:
        self.curves: dict[tuple[str, int], Curve] = {}
        self.latest: dict[str, int] = {}        # project -> the last month it has a curve for

    def __len__(self) -> int:
        return len(self.curves)

    def curve_of(self, project: str, month: int) -> Curve | None:
        return self.curves.get((project, month))

    def hours_of(self, project: str, month: int, first: int, last: int) -> list[tuple[int, int]] | None:
        """(hour, kWh) of one run of a project-month's certificates, in hour order; None without a curve."""
        curve = self.curves.get((project, month))
        return None if curve is None else curve.hours(first, last)

    def in_order(self, project: str, month: int) -> bool:
        """Whether a curve for the month would follow every curve the project has (production order)."""
        latest = self.latest.get(project)
        return latest is None or latest < month

    def curve(self, project: str, month: int, kwh: list[int], ranges: list[Range]) -> Curve:
        """The curve of a month's hourly kWh (non-negative, one a month's hour), covering its certificates
        `ranges` (serial order), carrying in from the project's curve of the month before; not attached yet, and
        it may not add up (`Curve.adds_up`)."""
        previous = self.curves.get((project, month - 1))
        return Curve(project, month, 0 if previous is None else previous.carry_out, tuple(ranges),
                     cumulative(kwh, sum(kwh)), previous)

    def add(self, curve: Curve) -> None:
        """Attach a curve that meets the rules above."""
        self.curves[curve.project, curve.month] = curve
        self.latest[curve.project] = curve.month

    def restore(self, project: str, month: int, carry_in: int, ranges: list[Range], cum: array) -> Curve:
        """Attach a curve as a snapshot saved it, under the rules above (ValueError if it breaks one)."""
        previous = self.curves.get((project, month - 1))
        if not self.in_order(project, month) or carry_in != (0 if previous is None else previous.carry_out):
            raise ValueError(f"the curve of {project} {month} does not follow the project's others")
        if not ranges or any(f > l for f, l in ranges) or any(a[1] >= b[0] for a, b in pairwise(ranges)):
            raise ValueError(f"the curve of {project} {month} covers {ranges}")
        if len(cum) != month_hours(month) or cum.typecode != typecode(cum[-1]) or cum[0] < 0 \
                or not all(map(le, cum, islice(cum, 1, None))):
            raise ValueError(f"the curve of {project} {month} is not the cumulative sums of its month")
        curve = Curve(project, month, carry_in, tuple(ranges), cum, previous)
        if not curve.adds_up():
            raise ValueError(f"the curve of {project} {month} does not add up")
        self.add(curve)
        return curve
