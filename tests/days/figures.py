"""The official figures as the tests read them: plain csv and Decimal over the shipped files, so a test of the
builder never trusts certx.days.official's own reading. And a replay of built days, kept with its commands."""
from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

import msgspec

from certx.days import build
from certx.days.official import data_dir
from certx.replay import Replay
from certx.wire import events as e


def fen(text: str) -> int:
    value = Decimal(text) * 100
    assert value == value.to_integral_value(), text
    return int(value)


@cache
def cea_rows() -> dict[tuple[dt.date, str], dict[str, str]]:
    rows = {}
    for name in ("cea_daily_2021_2023.csv", "cea_daily_2024_2026.csv"):
        with open(data_dir() / name, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                rows[dt.date.fromisoformat(row["date"]), row["product"]] = row
    return rows


@cache
def ccer_rows() -> dict[dt.date, dict[str, str]]:
    with open(data_dir() / "ccer_daily_2024_2026.csv", newline="", encoding="utf-8") as f:
        return {dt.date.fromisoformat(r["date"]): r for r in csv.DictReader(f)}


def official_summary(date: dt.date, product: str) -> dict[str, int | None]:
    """A CEA row as the engine's day summary has it: fen and units; high and low None on a day with no listing
    trade (the files write 0 there)."""
    row = cea_rows()[date, product]
    traded = int(row["listing_volume"]) > 0
    return dict(
        open=fen(row["open"]), high=fen(row["high"]) if traded else None, low=fen(row["low"]) if traded else None,
        close=fen(row["close"]), listing_volume=int(row["listing_volume"]), listing_value=fen(row["listing_amount"]),
        block_volume=int(row["block_volume"]), block_value=fen(row["block_amount"]),
        auction_volume=int(row["auction_volume"]), auction_value=fen(row["auction_amount"]),
    )


FIELDS = ("open", "high", "low", "close", "listing_volume", "listing_value", "block_volume", "block_value",
          "auction_volume", "auction_value")


def summary_fields(day: e.DaySummary) -> dict[str, int | None]:
    """A day summary's figures, field by field, as plain ints (None where there is no price)."""
    return {k: None if getattr(day, k) is None else int(getattr(day, k)) for k in FIELDS}


@dataclass
class Built:
    """A built range, replayed embedded: its lines, their commands, the events."""

    lines: list[bytes]
    replay: Replay
    events: list[e.Event] = field(default_factory=list)

    @property
    def commands(self) -> list[dict]:
        return [msgspec.json.decode(line) for line in self.lines]

    def days(self, product_prefix: str = "") -> list[e.DaySummary]:
        return [d for d in self.replay.summary.days if d.product.startswith(product_prefix)]


def built(first: str, last: str | None = None, **options) -> Built:
    lines = list(build.build(dt.date.fromisoformat(first), dt.date.fromisoformat(last or first), **options))
    replay = Replay()
    events = list(replay.run(lines))
    return Built(lines, replay, events)
