"""The embedded mode: the engines of all three markets fed from a `.jsonl` command file, no broker.

Each line goes through the same door as a record on the operator's replay path (certx.gateway: the recorded
actor and time `at`, the strict contract, routing by the command) and is applied by each market it is routed
to, in the next position of that market's command stream. The commands the gateway relays in answer to events
(a surrender's vote and decision, certx.gateway.relay) are applied at once, before the next line. So the events,
origins included, are the ones the Kafka matcher publishes for the same file replayed through the gateway, when
nothing else reaches a market while a surrender is being decided (on Kafka the relayed commands arrive a little
later, after whatever other commands got there first).

The quotes of the market-data feed (`quotes_of`) are those of one line a batch: the finest feed, of which the
matcher's, conflated over its fetched batches, is a subsequence quote for quote (certx.marketdata.quote).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, NamedTuple

from certx.engine import Engine
from certx.engine.rejection import Fault
from certx.gateway import Door
from certx.gateway.relay import relay
from certx.marketdata import Changes, quotes
from certx.rules import DEFAULT, Rules
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.codec import NotAnObject
from certx.wire.marketdata import Quote
from certx.wire.reasons import Reason
from certx.wire.routing import MARKETS


class BadLine(NamedTuple):
    """A line of the file that broke the contract: not a JSON object, or a malformed command."""

    line: int
    reason: str
    detail: str
    ref: str = ""


@dataclass
class Summary:
    commands: int = 0
    events: int = 0
    malformed: list[BadLine] = field(default_factory=list)
    trades: Counter = field(default_factory=Counter)          # (product, mode) -> count
    volume: Counter = field(default_factory=Counter)          # (product, mode) -> units
    rejections: Counter = field(default_factory=Counter)      # reason -> count
    days: list[e.DaySummary] = field(default_factory=list)

    def add(self, event: e.Event) -> None:
        self.events += 1
        if isinstance(event, e.Trade):
            self.trades[event.product, event.mode] += 1
            self.volume[event.product, event.mode] += event.quantity
        elif isinstance(event, (e.OrderRejected, e.CommandRejected)):
            self.rejections[event.reason] += 1
        elif isinstance(event, e.DaySummary):
            self.days.append(event)


class Replay:
    def __init__(self, rules: Rules = DEFAULT) -> None:
        self.engines = {m: Engine(m, rules) for m in MARKETS}
        self.door = Door()
        self.summary = Summary()
        self.lines = 0
        self.at: int | None = None      # the last command's time (epoch ms)

    def feed(self, raw: bytes) -> list[e.Event]:
        """One line of the command file: its events across the markets it reaches (a malformed command's
        is its rejection; a line that is not a JSON object has none, and is only counted as malformed)."""
        self.lines += 1
        admitted = self.door.admit(raw, sender=None)
        if isinstance(admitted, NotAnObject):
            self.summary.malformed.append(BadLine(self.lines, Reason.malformed, admitted.detail))
            self.summary.rejections[Reason.malformed] += 1
            return []
        cmd = admitted.command
        self.at = admitted.at
        if isinstance(cmd, c.Refusal) and cmd.reason == Reason.malformed:
            self.summary.malformed.append(BadLine(self.lines, cmd.reason, cmd.detail, cmd.ref))
        self.summary.commands += 1
        out: list[e.Event] = []
        queue = [(market, cmd) for market in admitted.markets]
        while queue:
            market, command = queue.pop(0)
            try:
                events = self.engines[market].apply(command, admitted.at)
            except Exception as error:
                raise Fault(market, f"line {self.lines}", command.__struct_config__.tag, command.ref, error) from error
            for event in events:
                queue += relay(event)
            out += events
        for event in out:
            self.summary.add(event)
        return out

    def quotes_of(self, events: list[e.Event]) -> list[Quote]:
        """The quotes after one line: one per product its events changed, market by market as they come."""
        changes: dict[str, Changes] = {}
        for event in events:
            seen = changes.get(event.market)
            if seen is None:
                seen = changes[event.market] = Changes()
            seen.note((event,))
        return [q for market, seen in changes.items() for q in quotes(self.engines[market], seen)]

    def run(self, lines: Iterable[bytes]) -> Iterable[e.Event]:
        for events in self.each_line(lines):
            yield from events

    def each_line(self, lines: Iterable[bytes]) -> Iterable[list[e.Event]]:
        """The events of each line that is not blank."""
        for line in lines:
            if line.strip():
                yield self.feed(line)
            else:
                self.lines += 1
