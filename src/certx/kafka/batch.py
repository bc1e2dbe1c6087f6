"""One batch of command records through the engine: pure, no I/O, so the matcher's transaction wraps
exactly this and nothing else.

Each record's timestamp is the command time (DOMAIN U3) and its offset is the command's position, which
the engine stamps into every event's `origin`. A record that cannot be decoded becomes a dead letter and
does not touch the engine.
"""
from __future__ import annotations

from typing import Protocol, Sequence

from certx.engine import Engine
from certx.wire.codec import Malformed, decode_command, encode
from certx.wire.dead_letter import DeadLetter


class CommandRecord(Protocol):
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


class Output:
    __slots__ = ("events", "stamps", "dead", "commands")

    def __init__(self) -> None:
        self.events: list[bytes] = []     # encoded events, in order
        self.stamps: list[int] = []       # each event's command time (its record timestamp)
        self.dead: list[bytes] = []       # encoded dead letters
        self.commands = 0


def run(engine: Engine, records: Sequence[CommandRecord], source: str, publish: bool = True) -> Output:
    """Apply the records in order. With `publish=False` (catching up after a restart) events are not
    encoded and dead letters not built: they were published by the run that first processed them."""
    out = Output()
    apply, events, stamps = engine.apply, out.events, out.stamps
    for r in records:
        cmd = decode_command(r.value or b"")
        if isinstance(cmd, Malformed):
            if publish:
                out.dead.append(encode(dead_letter(cmd, r, source)))
            continue
        out.commands += 1
        produced = apply(cmd, r.timestamp, r.offset)
        if publish:
            events += map(encode, produced)
            stamps += [r.timestamp] * len(produced)
    if records:
        engine.offset = records[-1].offset + 1   # covers trailing dead letters too
    return out


def dead_letter(bad: Malformed, r: CommandRecord, source: str) -> DeadLetter:
    key = r.key.decode("utf-8", "replace") if r.key is not None else None
    return DeadLetter(reason=bad.reason, detail=bad.detail, source=source, partition=r.partition, offset=r.offset,
                      timestamp=r.timestamp, key=key, original=bad.raw, ref=bad.ref)
