"""The buyer's evidence from the event stream (issue 13, item 4): what `certx match-report` reads.

A reader of `certx.events` (or of an embedded replay) folds the GEC market's `curve.attached` events into the
engine's own overlay (`Overlay.curve` and `Overlay.add`, the same code, so the same hours), and keeps the
`gec.allocated` events; the inputs of an allocation's evidence (`certx.hours.evidence.Inputs`) are then its loads,
each of its trades as a leg with the hours of its serials, its trade ids (the GEC cancellations name them, G1),
and its beneficiary. Restricted to a period, the loads are those of the period's hours; the legs stay whole, so
energy outside the period shows as such.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter

from certx.hours.clock import hour_at, month_start
from certx.hours.curve import TYPECODES, cumulative
from certx.hours.evidence import Inputs, Leg
from certx.hours.overlay import Overlay
from certx.registry.issuance import month_index
from certx.wire import events as e


class Matches:
    def __init__(self) -> None:
        self.overlay = Overlay()
        self.allocations: list[e.Allocated] = []

    def add(self, event: e.Event) -> None:
        if isinstance(event, e.CurveAttached):
            # A file's curve is checked as a snapshot's is (`Overlay.restore`): ValueError if it breaks a rule.
            month, total = month_index(event.production_month), sum(event.kwh)
            if any(kwh < 0 for kwh in event.kwh) or total > TYPECODES[-1][1]:
                raise ValueError(f"the curve of {event.project} {event.production_month} has kWh out of range")
            self.overlay.restore(event.project, month, event.carry_in, [tuple(r) for r in event.serials],
                                 cumulative(event.kwh, total))
        elif isinstance(event, e.Allocated):
            self.allocations.append(event)

    def of(self, account: str, first_hour: int, end_hour: int) -> list[e.Allocated]:
        """The account's allocations whose load has an hour in [first_hour, end_hour)."""
        return [a for a in self.allocations if a.account == account
                and hour_at(a.start) < end_hour and hour_at(a.start) + len(a.loads) > first_hour]

    def inputs(self, allocation: e.Allocated, first_hour: int, end_hour: int) -> Inputs:
        start = hour_at(allocation.start)
        lo, hi = max(first_hour, start), min(end_hour, start + len(allocation.loads))
        legs = tuple(self._leg(t) for t in allocation.trades)
        return Inputs(start=lo, loads=tuple(allocation.loads[lo - start:hi - start]), legs=legs,
                      cancellations=tuple(t.trade_id for t in allocation.trades),
                      beneficiary=allocation.beneficiary)

    def _leg(self, trade: e.Trade) -> Leg:
        if trade.serials is None or trade.project is None or trade.production_month is None:
            raise ValueError(f"trade {trade.trade_id} is not a GEC trade: no serials, project or production month")
        hours: Counter[int] = Counter()
        month = month_index(trade.production_month)
        for first, last in trade.serials:
            for hour, kwh in self.overlay.hours_of(trade.project, month, first, last) or ():
                hours[hour] += kwh
        return Leg(project=trade.project, province=trade.province, technology=trade.technology,
                   production_month=trade.production_month, serials=tuple(map(tuple, trade.serials)),
                   price=int(trade.price), certificates=trade.quantity, hours=tuple(sorted(hours.items())))


def period(text: str) -> tuple[int, int]:
    """A period as [first hour, end hour): "2025" (a year) or "2025-06" (a month), China time."""
    if len(text) == 4 and text.isdigit():
        return month_start(month_index(f"{text}-01")), month_start(month_index(f"{text}-01") + 12)
    month = month_index(dt.datetime.strptime(text, "%Y-%m").strftime("%Y-%m"))
    return month_start(month), month_start(month + 1)
