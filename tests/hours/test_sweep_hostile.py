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


def test_a_cut_that_would_copy_a_long_certificate_at_each_of_its_hours_is_refused():
    """20 certificates over the same 100 hours put 4 past FRONT at each hour: each is cut there, its hours after
    copied into new pieces, again at the next hour (quadratic: 130 over 1,000 hours took 7 s). 800 certificates
    with one hour of kWh in the set keep the pieces within PIECES each (1,608 for 820); the copies, some 20,000
    pairs for 2,800, are not."""
    long = [sweep.Span(n, {t: 10 for t in range(100)}, 100) for n in range(20)]
    pads = [sweep.Span(20 + n, {n % 100: 999}, 50) for n in range(800)]
    assert sweep._cut([10**6] * 100, long + pads) is None
    assert sweep._cut([10**6] * 100, long[:16] + pads) is not None     # a front of 16: nothing to cut
