"""The official daily CEA statistics against the replayed day summaries (D3–D5).

The exchange's daily statistics (data/cea_daily_*.csv: date, product, open, high, low, close, change_rate,
listing_volume, listing_amount, block_volume, block_amount, auction_volume, auction_amount; yuan with at most
two decimals) are read into the shape the engine publishes, `day.summary`, so the two compare field by field.
On a day without a listing trade the official rows write 0 for the high and the low, where the engine publishes
none: both mean "no listing trade", so they are read as none.

Only the replayed days are compared (the official files cover five years; a replay, a few days of them), and
only CEA products, the official files' market.
"""
from __future__ import annotations

import csv
import datetime as dt
from typing import Iterable, Literal

import msgspec

from certx import money
from certx.money import Fen
from certx.wire import events as e
from certx.wire.routing import market_of_product

FIELDS = ("open", "high", "low", "close", "listing_volume", "listing_value", "block_volume", "block_value",
          "auction_volume", "auction_value")
_COLUMN = {f: f.replace("_value", "_amount") for f in FIELDS}     # the official files say amount for value


class OfficialError(ValueError):
    """A file that is not the official daily statistics; the message says which line."""


def read(lines: Iterable[str], name: str = "official") -> list[e.DaySummary]:
    """The official rows of a CSV file's lines, as day summaries."""
    rows = csv.DictReader(lines)
    missing = ({"date", "product"} | set(_COLUMN.values())) - set(rows.fieldnames or ())
    if missing:
        raise OfficialError(f"{name}: not the official daily CEA statistics: no column {', '.join(sorted(missing))}")
    out = []
    for row in rows:
        try:
            amounts = {f: money.parse(row[_COLUMN[f]]) for f in FIELDS if not f.endswith("_volume")}
            volume = {f: int(row[f]) for f in FIELDS if f.endswith("_volume")}
            if not volume["listing_volume"]:
                amounts["high"] = amounts["low"] = None
            out.append(e.DaySummary(product=row["product"], date=dt.date.fromisoformat(row["date"]),
                                    **amounts, **volume))
        except (ValueError, TypeError) as exc:
            raise OfficialError(f"{name}:{rows.line_num}: {exc}") from None
    return out


class Mismatch(msgspec.Struct):
    field: str
    official: str
    replayed: str


class Row(msgspec.Struct, kw_only=True):
    date: dt.date
    product: str
    status: Literal["match", "mismatch", "not_replayed", "not_official"]
    official: e.DaySummary | None
    replayed: e.DaySummary | None
    mismatches: list[Mismatch]


class Comparison(msgspec.Struct, kw_only=True):
    compared: int           # rows found on both sides
    matched: int
    not_replayed: int       # official rows of a replayed day that the replay has no summary for
    not_official: int       # replayed summaries the official data has no row for
    rows: list[Row]


def compare(official: Iterable[e.DaySummary], replayed: Iterable[e.DaySummary]) -> Comparison:
    ours = {(s.date, s.product): s for s in replayed if market_of_product(s.product) == "CEA"}
    days = {date for date, _ in ours}
    theirs = {(s.date, s.product): s for s in official if s.date in days}
    rows = []
    for date, product in sorted(ours.keys() | theirs.keys()):
        mine, exchange = ours.get((date, product)), theirs.get((date, product))
        mismatches = []
        if mine is None:
            status = "not_replayed"
        elif exchange is None:
            status = "not_official"
        else:
            mismatches = [Mismatch(f, _text(getattr(exchange, f)), _text(getattr(mine, f)))
                          for f in FIELDS if getattr(exchange, f) != getattr(mine, f)]
            status = "mismatch" if mismatches else "match"
        rows.append(Row(date=date, product=product, status=status, official=exchange, replayed=mine,
                        mismatches=mismatches))
    both = [r for r in rows if r.official is not None and r.replayed is not None]
    return Comparison(compared=len(both), matched=sum(r.status == "match" for r in both),
                      not_replayed=sum(r.status == "not_replayed" for r in rows),
                      not_official=sum(r.status == "not_official" for r in rows), rows=rows)


def _text(value: int | None) -> str:
    if value is None:
        return "none"
    return money.text(value) if isinstance(value, Fen) else str(value)
