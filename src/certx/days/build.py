"""A range of real trading days as one command stream: `certx days build`.

For each trading day of the official files within the range (certx.days.official.trading_days), in order:
the year's and the month's set-up (certx.days.year), the sessions, each CEA product's official day
(certx.days.cea), the CCER day (certx.days.ccer), the GEC day (certx.days.gec), and the surrenders on a
compliance deadline. Each day is a `Script` of its own, written out before the next is built, so a range of
five years streams to its file in the memory of one day. Between days the builder keeps only what the next
days need: the balances (certx.days.balances), the products listed, the CCER vintages issued, the GEC plan.

Deterministic: each day draws from `random.Random(f"{seed}:{date}")` (the GEC month from `"{seed}:gec:{month}"`),
so the same range and seed give the same bytes. The times are milliseconds, in China Standard Time.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Iterator

from certx.days import cea, ccer, gec, official, year
from certx.days.background import DEFAULT as BACKGROUND, Background
from certx.days.balances import Budget, Fill, Holdings
from certx.days.cast import Cast, cast
from certx.days.script import Script

MARKETS = ("CEA", "CCER", "GEC")


@dataclass
class Range:
    """What the builder carries from one day to the next."""

    cast: Cast
    plan: gec.Plan
    holdings: Holdings = field(default_factory=Holdings)
    listed: list[str] = field(default_factory=list)              # CEA products listed so far
    ccer_issued: set[tuple[str, int]] = field(default_factory=set)
    ccer_price: int = 6_000                                     # fen: the last CCER day's average
    last: dt.date | None = None                                 # the last day built


def build(first: dt.date, last: dt.date, *, markets: tuple[str, ...] = MARKETS, gec_scale: float = 0.001,
          seed: int = 1, background: Background = BACKGROUND) -> Iterator[bytes]:
    """The `.jsonl` lines of every trading day from `first` to `last`, one day at a time."""
    unknown = set(markets) - set(MARKETS)
    if unknown:
        raise ValueError(f"unknown markets {sorted(unknown)}: choose among {', '.join(MARKETS)}")
    days = official.trading_days(first, last)
    state = Range(cast(markets, gec_scale), gec.Plan(gec_scale, year.days_2024()))
    for date in days:
        yield from day(date, state, days, markets, seed, background)


def day(date: dt.date, state: Range, calendar: list[dt.date], markets: tuple[str, ...], seed: int,
        background: Background) -> list[bytes]:
    """One trading day's lines: the set-up before the open, the sessions, each market's day, and on a compliance
    deadline the surrenders after the close."""
    rng = random.Random(f"{seed}:{date}")
    script = Script(date, per_second=1000, scope=f"{date:%Y%m%d}")
    holdings, people = state.holdings, state.cast
    cea_days = official.cea_days().get(date, ()) if "CEA" in markets else ()
    ccer_day = official.ccer_days().get(date) if "CCER" in markets and date.year >= 2024 else None
    open_markets = [m for m, on in (("CEA", cea_days), ("CCER", ccer_day), ("GEC", "GEC" in markets)) if on]

    setup = script.stream().at(script.time("08:30:00"))
    if state.last is None:
        year.open_accounts(script, setup, people)
    if state.last is None or state.last.year != date.year:
        year.year_start(script, setup, holdings, people, markets, state.plan.scale, state.ccer_issued)
    for official_day in cea_days:
        if official_day.product not in state.listed:
            year.list_product(script, setup, official_day)
            year.allocate(script, setup, holdings, people, official_day.product)
            state.listed.append(official_day.product)
    if "GEC" in markets and (state.last is None or (state.last.year, state.last.month) != (date.year, date.month)):
        month = [d for d in calendar if (d.year, d.month) == (date.year, date.month) and d >= date]
        lots = state.plan.month(random.Random(f"{seed}:gec:{date:%Y-%m}"), month, background)
        year.issue_gec(script, setup, lots)
    year.sessions(script, open_markets)

    fills: list[Fill] = []
    if cea_days:
        holdings.open_cea()
        budget = Budget(rng, holdings, "CEA", people.cea_buyers, people.cea_sellers, state.listed)
        for official_day in cea_days:
            cea.product_day(rng, script, official_day, budget, people.brokers, fills, background)
    if ccer_day is not None:
        budget = Budget(rng, holdings, "CCER", people.ccer_buyers, people.ccer_sellers, [ccer.PRODUCT])
        ccer.day(rng, script, ccer_day, state.ccer_price, budget, people.brokers, fills, background)
        if ccer_day.volume:
            state.ccer_price = round(ccer_day.value / ccer_day.volume)
    if "GEC" in markets:
        budget = Budget(rng, holdings, "GEC", people.gec_buyers, [], [])
        gec.day(rng, script, state.plan, budget, people.brokers, fills, background)
    holdings.settle(fills)

    compliance_year = year.deadline(date) if cea_days else None
    if compliance_year is not None:
        year.surrender(script, holdings, people, compliance_year, state.listed, "CCER" in markets)
    state.last = date
    return script.lines()


def write(path, first: dt.date, last: dt.date, copies: int = 1, **options) -> tuple[int, int]:
    """Build the range into `path`, each participant's command `copies` times over (certx.days.stress);
    returns (days, commands)."""
    from certx.days import stress

    commands = 0
    with open(path, "wb") as out:
        for line in stress.copies(build(first, last, **options), copies):
            out.write(line + b"\n")
            commands += 1
    days = len(official.trading_days(first, last))
    return days, commands
