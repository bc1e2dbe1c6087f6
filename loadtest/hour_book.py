"""A GEC book of distributed-PV lots with hourly curves (issue 13), for the benchmark of bids with hours.

Each project-month is one batch of 20-40 certificates (the 64,200 distributed-PV projects issued about 30 a month
each) with its curve attached, listed as 4 lots of its serials at 1.00-8.00 yuan. The projects' attributes are
spread as `gec_bench.batch_of` spreads them. A solar project produces from 06:00 to 18:00, China time, most at
noon; the others the same every hour of the day. So no certificate has kWh from the night if it is solar's, none
lies within two hours (a day of a 40-certificate month is some 1,300 kWh), and none has 90% of its kWh from
10:00-14:00 (a solar day has 57% there).
"""
from __future__ import annotations

import random
from collections.abc import Callable
from itertools import accumulate

from certx.books.gec import GecBook, Lot
from certx.hours.clock import hour_of_day, month_hours, month_start
from certx.hours.curve import KWH
from certx.hours.overlay import Overlay
from certx.registry.issuance import Batch

SOLAR = [0] * 6 + [1, 2, 4, 6, 8, 9, 9, 8, 6, 4, 2, 1] + [0] * 6      # weight of each hour of the day
FLAT = [1] * 24
LOTS_PER_MONTH = 4


def production(month: int, total: int, weights: list[int]) -> list[int]:
    """`total` kWh over a month's hours, each hour its hour of the day's weight."""
    start = month_start(month)
    hourly = [weights[hour_of_day(start + i)] for i in range(month_hours(month))]
    whole = sum(hourly)
    cum = [total * w // whole for w in accumulate(hourly)]
    return [b - a for a, b in zip([0] + cum, cum)]


def hour_book(lots: int, batch_of: Callable[[random.Random, int, int], Batch], seed: int = 5) -> GecBook:
    """A book of `lots` resting lots, four of each project-month, every one with its curve; `batch_of` draws a
    project-month's attributes from its first serial and size."""
    rng = random.Random(seed)
    book = GecBook(Overlay())
    first, seq = 1, 0
    while seq < lots:
        size = rng.randint(20, 40)
        batch = batch_of(rng, first, size)
        weights = SOLAR if batch.technology == "solar" else FLAT
        kwh = production(batch.month, KWH * size + rng.randint(0, KWH - 1), weights)
        book.overlay.add(book.overlay.curve(batch.project, batch.month, kwh, [(batch.first, batch.last)]))
        cuts = [first + size * k // LOTS_PER_MONTH for k in range(LOTS_PER_MONTH + 1)]
        for a, b in zip(cuts, cuts[1:]):
            if seq < lots:
                book.rest(Lot(f"L{seq}", f"S{seq % 500}", rng.randint(100, 800), a, b - 1, batch, seq))
                seq += 1
        first += size
    return book
