"""A trading day's commands as `.jsonl` lines, written strand by strand and merged in time order.

A day is written as independent strands (`Stream`): the registry's set-up, the sessions, each product's
listing, its block offers, its auction, the GEC lots. Within a strand the commands keep the order they were
written in, at strictly increasing times, so a trade that is built as a resting order followed by the order that
takes it stays that way; strands interleave freely, since they touch different books or none. `Script.lines`
merges them by time (then strand, then place) into the lines `certx replay` accepts: `type`, `at` with the
+08:00 offset, then the fields.

Generated ids are renumbered in order of first use, so a file reads in time order (lifts, accepts and cancels
refer to ids used before them). Order ids are per market and trading day (D2); the ids of registry, bank and
operator commands must be unique per sender for good, so a multi-day script puts the date in their prefix.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import msgspec

from certx import money

CST = dt.timezone(dt.timedelta(hours=8))
IDS = ("id", "order_id", "target", "auction_id")      # the fields that hold generated ids


def yuan(fen: int) -> str:
    """Fen as the wire's money: "54.22"."""
    return money.text(fen)


def hms(text: str) -> int:
    """'13:00:30' -> seconds after midnight."""
    h, m, *s = (int(x) for x in text.split(":"))
    return h * 3600 + m * 60 + (s[0] if s else 0)


class Stream:
    """Commands of one strand of the day, at strictly increasing times (in the script's units after local
    midnight)."""

    def __init__(self, rank: int) -> None:
        self.rank, self.t, self.lines = rank, 0, []     # t: the earliest time the next command may have

    def at(self, t: int) -> "Stream":
        if t < self.t:
            raise ValueError(f"time goes back in a stream: {t} before {self.t}")
        self.t = t
        return self

    def emit(self, type_: str, **fields: Any) -> dict:
        self.lines.append((self.t, {"type": type_, **fields}))
        self.t += 1
        return fields


class Script:
    """One trading day. `per_second` is the time unit: 1 (whole seconds, the shipped sample) or 1000
    (milliseconds, for days dense enough to need them)."""

    def __init__(self, date: dt.date, per_second: int = 1, scope: str = "") -> None:
        self.date = date
        self.per_second = per_second
        self.scope = scope                      # put in every generated id
        self._midnight = dt.datetime.combine(date, dt.time(0), CST)
        self._spec = "seconds" if per_second == 1 else "milliseconds"
        self.streams: list[Stream] = []
        self.ids: Counter = Counter()
        self.generated: dict[str, str] = {}     # id -> its prefix

    def stream(self) -> Stream:
        s = Stream(len(self.streams))
        self.streams.append(s)
        return s

    def time(self, text: str) -> int:
        """A clock time ('09:30:00') in this script's units."""
        return hms(text) * self.per_second

    def clock(self, t: int) -> str:
        """A time of this script as the wire writes it: ISO 8601 with the +08:00 offset."""
        return (self._midnight + dt.timedelta(microseconds=t * 1_000_000 // self.per_second)).isoformat(
            timespec=self._spec)

    def next_id(self, kind: str) -> str:
        """A fresh id, `<kind>-<scope>-<n>`: unique for good once the scope is the date, so that an answer's `ref`
        names one command of a whole replayed range (orders included, although the books only need an id
        unique among the day's)."""
        prefix = f"{kind}-{self.scope}" if self.scope else kind
        self.ids[prefix] += 1
        name = f"{prefix}-{self.ids[prefix]:04d}"
        self.generated[name] = prefix
        return name

    def lines(self) -> list[bytes]:
        """The commands in time order, as JSON lines, generated ids renumbered in order of first use."""
        merged = sorted((t, s.rank, i, cmd) for s in self.streams for i, (t, cmd) in enumerate(s.lines))
        renamed: dict[str, str] = {}
        counts: Counter = Counter()

        def rename(value: Any) -> Any:
            prefix = self.generated.get(value) if isinstance(value, str) else None
            if prefix is None:
                return value
            if value not in renamed:
                counts[prefix] += 1
                renamed[value] = f"{prefix}-{counts[prefix]:04d}"
            return renamed[value]

        out = []
        for t, _, _, cmd in merged:
            at = self.clock(t)
            fields = {k: rename(v) if k in IDS else v for k, v in cmd.items() if k != "type"}
            out.append(msgspec.json.encode({"type": cmd["type"], "at": at, **fields}))
        return out
