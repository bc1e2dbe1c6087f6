"""Helpers for the settlement tests: the real engines (through `support.Desk`) with a Ledger fed every event.

A forged event is a real engine event re-published with changes and a NEW origin, later than anything the
engine has consumed (a faulty or replayed producer): the ledger cannot drop it as a duplicate delivery, so it
has to judge it.
"""
from __future__ import annotations

from typing import Any

import msgspec

from support import Desk
from certx.ledger import Ledger
from certx.wire import events as e
from certx.wire import settlements as s


class SettlingDesk(Desk):
    """All three engines, fed wire commands; every event they publish is settled by `self.ledger` at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ledger = Ledger()
        self.events: list[e.Event] = []
        self.settlements: list[s.Settlement] = []
        self.last: list[s.Settlement] = []          # what the last command's events settled into
        self._forged = 0

    def send(self, type_: str, **fields: Any) -> list[e.Event]:
        events = super().send(type_, **fields)
        self.last = []
        for ev in events:
            self.events.append(ev)
            self.last += self.settle(ev)
        return events

    def settle(self, event: e.Event) -> list[s.Settlement]:
        out = self.ledger.apply(event)
        self.settlements += out
        return out

    def forge(self, event: e.Event, **changes: Any) -> e.Event:
        """`event` re-published with `changes`, at a new origin after everything its market has consumed."""
        self._forged += 1
        market = event.market
        origin = e.Origin(event.origin.partition, self.engines[market].commands + 1000 * self._forged, 0)
        return msgspec.structs.replace(event, origin=origin, seq=event.seq + 1000 * self._forged, **changes)


def state(ledger: Ledger) -> tuple:
    """Everything a settlement can move, comparable before and after."""
    return (
        dict(ledger.cash), dict(ledger.units),
        {a: list(r) for a, r in ledger.gec.items() if len(r)},
        list(ledger.issued), list(ledger.cancelled), list(ledger.retired), set(ledger.settled), dict(ledger.marks),
    )


def kinds(settlements: list[s.Settlement]) -> list[str]:
    return [type(x).__struct_config__.tag for x in settlements]


def rejections(settlements: list[s.Settlement]) -> list[s.SettlementRejected]:
    return [x for x in settlements if isinstance(x, s.SettlementRejected)]
