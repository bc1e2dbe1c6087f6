"""The official figures certx ships (DOMAIN "Real activity"), read into integer fen and whole units.

- `cea_daily_*.csv`: the exchange's daily CEA statistics for each vintage product (open, high, low, close, and
  listing, block and auction volume and value), 2021-07-16 to 2026-08-07;
- `ccer_daily_2024_2026.csv`: CCER daily volume and turnover;
- `ccer_projects.csv`: the public CCER project registry.

They live in `certx/days/data/`, so a clean clone or an installed wheel has them; `$CERTX_DATA` names another
directory holding the same four files. Everything here is a pure reading of those files: the rules the figures
obey (D3-D5, B1, B2) are checked by the tests against the engine, not assumed here.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from certx import money

CEA_FILES = ("cea_daily_2021_2023.csv", "cea_daily_2024_2026.csv")
CCER_FILE = "ccer_daily_2024_2026.csv"
PROJECTS_FILE = "ccer_projects.csv"
REGISTERED = "已登记"          # the registry's status of a registered CCER project


def data_dir() -> Path:
    """Where the official files are: `$CERTX_DATA`, else the copy packaged with certx."""
    env = os.environ.get("CERTX_DATA")
    return Path(env) if env else Path(str(resources.files("certx.days") / "data"))


def fen(text: str) -> int:
    """A figure of the files (yuan, at most 2 places, or an integer) as fen; refuses anything finer."""
    return int(money.parse(text))


@dataclass(frozen=True, slots=True)
class CeaDay:
    """One vintage product's official day. Prices and values in fen; high and low None without a listing trade
    (the files write 0), as the engine's day summary has them."""

    date: dt.date
    product: str
    reference: int            # the previous close (B1, B2); on a product's first day its open (B4)
    open: int
    high: int | None
    low: int | None
    close: int
    listing_volume: int
    listing_value: int
    block_volume: int
    block_value: int
    auction_volume: int
    auction_value: int
    first: bool               # the product's first day in the files: listed that morning (B4)


@dataclass(frozen=True, slots=True)
class CcerDay:
    date: dt.date
    volume: int
    value: int                # fen


@dataclass(frozen=True, slots=True)
class CcerProject:
    """A registered project of the CCER registry, with a project code."""

    code: str
    name: str
    methodology: str
    province: str
    crediting_start: dt.date
    crediting_end: dt.date
    expected_annual: int      # t CO2e a year


def vintage(product: str) -> int:
    """The year a CEA product's allowances are for: CEA21 -> 2021; "CEA" is the 2019-20 product -> 2020."""
    return 2020 if product == "CEA" else 2000 + int(product[3:])


def _rows(name: str) -> list[dict[str, str]]:
    with open(data_dir() / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@cache
def cea_days() -> dict[dt.date, tuple[CeaDay, ...]]:
    """Every official CEA day, by date, its products in name order."""
    by_product: dict[str, list[dict[str, str]]] = {}
    for name in CEA_FILES:
        for row in _rows(name):
            by_product.setdefault(row["product"], []).append(row)
    out: dict[dt.date, list[CeaDay]] = {}
    for product, rows in sorted(by_product.items()):
        rows.sort(key=lambda r: r["date"])
        previous = None
        for row in rows:
            listing_volume = int(row["listing_volume"])
            day = CeaDay(
                date=dt.date.fromisoformat(row["date"]), product=product,
                reference=fen(row["open"]) if previous is None else previous,
                open=fen(row["open"]),
                high=fen(row["high"]) if listing_volume else None,
                low=fen(row["low"]) if listing_volume else None,
                close=fen(row["close"]),
                listing_volume=listing_volume, listing_value=fen(row["listing_amount"]),
                block_volume=int(row["block_volume"]), block_value=fen(row["block_amount"]),
                auction_volume=int(row["auction_volume"]), auction_value=fen(row["auction_amount"]),
                first=previous is None,
            )
            out.setdefault(day.date, []).append(day)
            previous = day.close
    return {date: tuple(days) for date, days in sorted(out.items())}


@cache
def ccer_days() -> dict[dt.date, CcerDay]:
    out = {}
    for row in _rows(CCER_FILE):
        date = dt.date.fromisoformat(row["date"])
        out[date] = CcerDay(date, int(row["volume"]), fen(row["turnover"]))
    return dict(sorted(out.items()))


@cache
def ccer_projects() -> tuple[CcerProject, ...]:
    """The registered projects that have a code, in code order."""
    out = []
    for row in _rows(PROJECTS_FILE):
        if row["status"] != REGISTERED or not row["project_code"]:
            continue
        out.append(CcerProject(
            code=row["project_code"], name=row["project_name"], methodology=row["methodology"],
            province=row["province"], crediting_start=dt.date.fromisoformat(row["crediting_start"]),
            crediting_end=dt.date.fromisoformat(row["crediting_end"]),
            expected_annual=int(row["expected_annual_t"] or 0),
        ))
    return tuple(sorted(out, key=lambda p: p.code))


def trading_days(first: dt.date, last: dt.date) -> list[dt.date]:
    """The days either market traded on, per the files, from `first` to `last` inclusive."""
    days = set(cea_days()) | set(ccer_days())
    return sorted(d for d in days if first <= d <= last)


def cea_day(date: dt.date, product: str) -> CeaDay:
    for day in cea_days().get(date, ()):
        if day.product == product:
            return day
    raise KeyError(f"no official {product} row for {date}")
