"""CCER: issuance from the real project registry, and each official day's volume and turnover as listing trades.

Issuance (P2, the pooled "CCER" product): at the start of each year the registry issues each registered
project's reductions of the years before that its crediting period covers (from 2020, when the new CCER's
reductions may start), its expected annual reductions pro rata to the months covered. One account per project,
`dev-<project code>`.

A day (ccer_daily_2024_2026.csv gives volume, turnover and their average only): the listing trades reproduce
the volume and the turnover exactly, to the fen (certx.days.exact); DOMAIN gives the CCER market no band and no
close rule beyond the engine's, and the files no open, high or low, so the day's price marks are drawn around
the average (a spread of 0.5-3%) and the trades reach them. Sizes are capped as CEA listing orders are (S1's
99,999 t), so a big day is many trades, as on the exchange.
"""
from __future__ import annotations

import datetime as dt
import math
import random

from certx.days import exact
from certx.days.background import Background
from certx.days.balances import Budget, Fill
from certx.days.listing import (Levels, Tickets, background_count, background_items, mingle, schedule,
                                trade_items, windows)
from certx.days.official import CcerDay, CcerProject
from certx.days.script import Script
from certx.rules import DEFAULT

PRODUCT = "CCER"
FIRST_VINTAGE = 2020               # the new CCER's reductions start in 2020 (2020-09-22)


def account(project: CcerProject) -> str:
    return f"dev-{project.code}"


def reductions(project: CcerProject, year: int) -> int:
    """A project's expected reductions in `year`: its annual figure, pro rata to the months its crediting
    period covers in that year."""
    start = max(project.crediting_start, dt.date(year, 1, 1))
    end = min(project.crediting_end, dt.date(year, 12, 31))
    if end < start:
        return 0
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    return project.expected_annual * months // 12


def issuance(projects: tuple[CcerProject, ...], year: int, issued: set[tuple[str, int]]
             ) -> list[tuple[CcerProject, int, int]]:
    """(project, vintage, quantity) the registry issues at the start of `year`: every vintage before it not yet
    issued (`issued` holds (code, vintage) and is updated)."""
    out = []
    for project in projects:
        for vintage in range(max(FIRST_VINTAGE, project.crediting_start.year), year):
            quantity = reductions(project, vintage)
            if quantity and (project.code, vintage) not in issued:
                issued.add((project.code, vintage))
                out.append((project, vintage, quantity))
    return out


def marks(rng: random.Random, volume: int, value: int) -> tuple[int, int, int, int]:
    """Open, high, low and close (fen) around the day's average: the files give only the average."""
    mean = value / volume
    s = max(1, round(mean * rng.uniform(0.005, 0.03)))
    low = max(1, math.floor(mean) - rng.randint(0, s))
    high = math.ceil(mean) + rng.randint(0, s)
    open_ = rng.randint(low, high)
    if not exact.marks_fit(volume, value, open_, high, low):
        # the mean on a mark with the others beyond it: the two fen prices around the mean, opening at the lower
        low, high = math.floor(mean), math.ceil(mean)
        open_ = low
    return open_, high, low, round(mean)


def day(rng: random.Random, script: Script, official: CcerDay, reference: int, budget: Budget,
        brokers: dict[str, str], fills: list[Fill], background: Background) -> None:
    """The official day's listing trades and background in one strand. `reference`: a recent price (fen) to
    quote the background around on a day with no trade."""
    volume, value = official.volume, official.value
    if not volume:
        trades, low, high = [], reference, reference
    elif volume < 100:
        trades = exact.neighbours(volume, value)
        low, high = min(p for p, _ in trades), max(p for p, _ in trades)
    else:
        open_, high, low, close = marks(rng, volume, value)
        trades = exact.listing_trades(rng, volume, value, open_=open_, high=high, low=low, close=close)
    tickets = Tickets(script, brokers, PRODUCT, "CCER", prefix="ccer")
    levels = Levels.around(None, low, high)
    items = trade_items(rng, trades, budget, tickets, levels, fills, exact.LISTING_MAX)
    count = background_count(rng, len(trades), background.listing)
    quiet, cancels = background_items(rng, count, budget, tickets, levels, background.cancel_every)
    schedule(rng, script.stream(), mingle(rng, items, quiet, cancels),
             windows(script, DEFAULT.ccer.listing_sessions), script.per_second)
