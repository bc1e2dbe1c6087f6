"""One batch of `certx.commands` records through the engine: pure, no I/O, so the matcher's transaction wraps
exactly this and nothing else.

Each record's timestamp is the command time, stamped by the gateway (DOMAIN U3). The engine numbers the
commands itself (their place in the market's command stream), so transaction markers between the gateway's
records change nothing. Only the gateway writes `certx.commands`, in the canonical encoding; a record that is
not such a command (a bug, or a writer the ACLs should have stopped) is dead-lettered and does not touch the
engine.
"""
from __future__ import annotations

from collections import Counter
from typing import Protocol, Sequence

from certx.engine import Engine
from certx.engine.rejection import Fault
from certx.marketdata import Changes
from certx.wire import events as e
from certx.wire.codec import decode_logged, encode
from certx.wire.dead_letter import dead_letter
from certx.wire.reasons import DeadLetterReason


class CommandRecord(Protocol):
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


REFUSALS = (e.OrderRejected, e.CommandRejected)


class Output:
    __slots__ = ("events", "stamps", "dead", "commands", "rejected")

    def __init__(self) -> None:
        self.events: list[bytes] = []     # encoded events, in order
        self.stamps: list[int] = []       # each event's command time (its record timestamp)
        self.dead: list[bytes] = []       # encoded dead letters
        self.commands = 0
        self.rejected: Counter[str] = Counter()     # reason -> refusals among the events (for the metrics)


def run(engine: Engine, records: Sequence[CommandRecord], source: str, changes: Changes | None = None) -> Output:
    """Apply the records in order. `changes`, if given, takes in which products the events changed (the market-data
    feed's quotes, certx.marketdata)."""
    out = Output()
    apply, events, stamps = engine.apply, out.events, out.stamps
    note = changes.note if changes is not None else None
    for r in records:
        cmd = decode_logged(r.value or b"")
        if cmd is None:
            out.dead.append(encode(dead_letter(r.value, DeadLetterReason.not_a_command, "not a command of the log",
                                               source, r.partition, r.offset, r.timestamp, "matcher")))
            continue
        out.commands += 1
        try:
            produced = apply(cmd, r.timestamp)
        except Exception as error:
            raise Fault(engine.market, f"{source}[{r.partition}] offset {r.offset}", cmd.__struct_config__.tag,
                        cmd.ref, error) from error
        events += map(encode, produced)
        stamps += [r.timestamp] * len(produced)
        for event in produced:
            if isinstance(event, REFUSALS):
                out.rejected[event.reason] += 1
        if note is not None:
            note(produced)
    return out


def as_of(records: Sequence[CommandRecord]) -> int:
    """The exchange's time a batch's quotes are as of: its latest command time. Not its last record's: a
    surrender's relayed vote (certx.gateway.relay) carries its surrender's time, earlier than the commands the
    gateway sequenced before it, and may end a batch, which dated a quote before a trade it shows."""
    return max(r.timestamp for r in records)
