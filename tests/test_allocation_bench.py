"""loadtest.allocation_bench: its lots are cut into certificates as the hourly overlay cuts them (issue 13, item 1:
certificate k covers kWh [1000k, 1000k + 1000) of the lot's production), so the classes it times are real ones. No
timing here."""
from __future__ import annotations

import random

from certx.hours.allocation import KWH, allocate
from loadtest.allocation_bench import classes_of, load_of, supply_of


def test_a_lot_cuts_into_whole_certificates_in_production_order():
    kwh = [300, 2_450, 0, 800, 90, 1_500]
    rows = classes_of("L1", 100, 500, 24, kwh, single_hour=False)
    certificates = sum(s.available for _, _, s in rows)
    assert certificates == sum(kwh) // KWH                          # the last partial certificate is not issued
    serials = sorted(serial for _, first, s in rows for serial in range(first, first + s.available))
    assert serials == list(range(100, 100 + certificates))          # every serial once
    for _, _, s in rows:
        assert sum(part for _, part in s.mix) == KWH and all(24 <= h < 24 + len(kwh) for h, _ in s.mix)
    produced = [0] * len(kwh)
    for _, _, s in rows:
        for h, part in s.mix:
            produced[h - 24] += s.available * part
    assert all(p <= k for p, k in zip(produced, kwh))               # no kWh allocated twice
    assert sum(kwh) - sum(produced) < KWH


def test_the_generated_year_is_valid_input():
    rng = random.Random(4)
    loads = load_of(rng, 100)
    assert len(loads) == 8_760 and 99e6 < sum(loads) < 101e6
    supply = supply_of(rng, 2_000, single_hour=False)
    answer = allocate(loads, supply, cap=2_000)
    assert answer.method == "lp" and 0 < answer.score < 1
    single = supply_of(rng, 2_000, single_hour=True)
    assert all(len(s.mix) == 1 for s in single) and allocate(loads, single, cap=2_000).method == "greedy"
