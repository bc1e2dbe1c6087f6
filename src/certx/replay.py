"""The embedded mode: the engines of all three markets fed from a `.jsonl` command file, no broker.

Each line is routed to its market partitions exactly as `certx submit` routes it to Kafka, and gets the
offset it would have there (the count of earlier records in that partition), so the events, origins
included, are the ones the Kafka matcher publishes for the same file.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from certx.engine import Engine
from certx.rules import DEFAULT, Rules
from certx.wire import events as e
from certx.wire.codec import Malformed, decode_command, millis
from certx.wire.routing import MARKETS, route


@dataclass
class Summary:
    commands: int = 0
    events: int = 0
    malformed: list[Malformed] = field(default_factory=list)
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
        self.summary = Summary()

    def feed(self, raw: bytes) -> list[e.Event] | Malformed:
        """One line of the command file: its events across the markets it reaches, or why it was refused."""
        cmd = decode_command(raw)
        if isinstance(cmd, Malformed):
            return self._malformed(cmd)
        if cmd.at is None:
            return self._malformed(Malformed("malformed", "a command in a .jsonl file needs `at`", raw))
        markets = route(cmd)
        if not markets:
            return self._malformed(Malformed("malformed", "cannot route: name the `market`", raw))
        self.summary.commands += 1
        at = millis(cmd.at)
        out: list[e.Event] = []
        for market in markets:
            out += self.engines[market].apply(cmd, at)
        for event in out:
            self.summary.add(event)
        return out

    def _malformed(self, bad: Malformed) -> Malformed:
        self.summary.malformed.append(bad)
        self.summary.rejections[bad.reason] += 1
        return bad

    def run(self, lines: Iterable[bytes]) -> Iterable[e.Event]:
        for line in lines:
            if line.strip():
                result = self.feed(line)
                if not isinstance(result, Malformed):
                    yield from result
