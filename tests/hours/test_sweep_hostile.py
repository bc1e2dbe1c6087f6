"""Hostile shapes for the sweep (certx.hours.sweep): a broker's loads of up to 10^9 kWh an hour and a registry's
classes and mixes within allocation's limits. Each test checks counted work, what the sweep keeps, or its answer;
none reads a clock."""
from __future__ import annotations

from certx.hours import sweep
from certx.hours.allocation import KWH, Supply


def test_an_hour_of_huge_need_keeps_only_the_costs_its_spans_can_change(monkeypatch):
    """Each hour needs 10^9 kWh and holds two classes of 10^6 certificates; 2-hour certificates join the hours into
    one set. The costs of the n cheapest were kept for every n up to 10^6 an hour (8 MB an hour, 1.6 GB at 200
    hours, built through 2·10^6 elements each), where the sweep reads only those its spans' kWh can reach."""
    hours, kept = 3, []
    init = sweep._Sweep.__init__

    def spy(self, *args):
        init(self, *args)
        kept.append(sum(len(costs) for costs in self.cheapest))

    monkeypatch.setattr(sweep._Sweep, "__init__", spy)
    need = [10**9] * hours
    supply = [Supply("s", 10**6, price, ((h, KWH),)) for h in range(hours) for price in (1, 2)]
    supply += [Supply("c", 1, 5, ((h, 500), (h + 1, 500))) for h in range(hours - 1)]
    found = sweep.least(supply, list(range(len(supply))), [s.available for s in supply], need, 10**18,
                        sweep.Budget())
    assert found is not None and found.cost == 3 * 10**6 == found.bound
    assert found.counts == [10**6, 0] * hours + [0] * (hours - 1)
    assert kept and max(kept) <= 3 * hours
