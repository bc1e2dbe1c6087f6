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


def _one_hour_pieces(pieces: int) -> tuple[list[int], list[Supply]]:
    """One hour needing 1,500 kWh: `pieces` certificates with 999 kWh there and 1 in an hour of no need (each a
    piece of one hour, a copy in the knapsack) and single-hour certificates dearer than them."""
    need = [1_500, 0]
    supply = [Supply("p", 1, 3 + n % 13, ((0, 999), (1, 1))) for n in range(pieces)]
    return need, supply + [Supply("s", 10, 20, ((0, KWH),))]


def test_a_copy_and_an_answers_polish_are_paid_as_measured(monkeypatch):
    """400 one-hour pieces: a sweep's copies cost 7-10 us each (15-19 ns a counted step at COPY = 500), and the
    answer's polish, 1.7 us a span's pair a round, was not counted at all. The set's work now covers both."""
    need, supply = _one_hour_pieces(400)
    works = []
    init = sweep._Sweep.__init__

    def spy(self, *args):
        init(self, *args)
        works.append(self.work)

    monkeypatch.setattr(sweep._Sweep, "__init__", spy)
    budget = sweep.Budget()
    found = sweep.least(supply, list(range(len(supply))), [s.available for s in supply], need, 10**9, budget)
    assert found is not None and found.cost == found.bound == 3 + 3        # the two cheapest pieces
    assert works[0] >= 400 * 1_000
    assert sweep.WORK - budget.left >= works[0] + 400 * sweep.PAIR


def test_a_polish_the_budget_cannot_pay_is_left_out_and_the_answer_still_covers():
    need, supply = _one_hour_pieces(400)
    budget = sweep.Budget(1 + 401 * (1_501 + sweep.COPY) + sweep.HOUR)   # the sweep's work (width 1,501), no more
    found = sweep.least(supply, list(range(len(supply))), [s.available for s in supply], need, 10**9, budget)
    assert found is not None and budget.left >= 0
    brought = sum(n * dict(s.mix).get(0, 0) for n, s in zip(found.counts, supply))
    assert budget.left == 0 and brought >= 1_500 and found.cost == 6
