"""The bound and the better answer of certx.hours.covering: when an answer matches every hour as fully as the
supply allows, the least cost of doing so is bounded set by set of hours, and never above the true least cost.

The reference is brute force on tiny instances (every choice of whole certificates) and, on larger ones, the whole
MIP's answer, which is an allocation matching as much: no bound may exceed its cost."""
from __future__ import annotations

from hypothesis import given, note, settings
from hypothesis import strategies as st

from certx.hours import allocation, covering, sweep
from certx.hours.allocation import KWH, Supply
from certx.hours.program import Program

from .test_allocation import brute, check_answer, classes, loads_, lp, spread


def full(loads, supply, cap) -> tuple[list[int], list[int], list[int]]:
    """The eligible classes, their most useful counts, and an answer filling every hour (the LP path's, forced
    past the whole MIP: with no budget its energy is every hour's most)."""
    members, upper = allocation._eligible(loads, supply, cap)
    answer = lp(loads, supply, cap, None, full_mip=0)
    return members, upper, list(answer.taken)


def most(loads, supply, members, upper) -> int:
    """Σ_h min(L_h, S_h): the energy when every hour matches as much as all the eligible supply could give it."""
    supplied = allocation._supplied(loads, supply, [0] * len(supply))
    for i, u in zip(members, upper):
        for h, kwh in supply[i].mix:
            if 0 <= h < len(loads):
                supplied[h] += u * kwh
    return sum(min(load, s) for load, s in zip(loads, supplied))


@settings(max_examples=300, deadline=None)
@given(loads_, classes(single=False), st.integers(1, 40))
def test_the_bound_never_exceeds_the_brute_force_least_cost(loads, supply, cap):
    members, upper, taken = full(loads, supply, cap)
    before = allocation._answer("lp", "optimal", None, None, loads, supply, taken)
    bound = covering.cover(loads, supply, members, upper, taken)
    after = allocation._answer("lp", "optimal", None, None, loads, supply, taken)
    note(f"bound {bound}, before {before}, after {after}")
    energy, cost = brute(loads, supply, cap, None)
    assert energy == before.matched_total == most(loads, supply, members, upper)
    assert bound is not None and 0 <= bound <= cost + 1e-6
    check_answer(after, loads, supply, cap, None)
    assert after.matched_total == energy and cost <= after.cost <= before.cost


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 6_000), min_size=30, max_size=30).filter(any), st.lists(spread(), min_size=1,
                                                                                      max_size=40),
       st.integers(1, 3_000))
def test_the_bound_never_exceeds_the_whole_mips_answer(loads, supply, cap):
    """30 hours and up to 40 classes: the whole MIP's answer, when it matches every hour's most, costs at least the
    least cost, so at least the bound; and the covered answer keeps every rule."""
    members, upper, taken = full(loads, supply, cap)
    bound = covering.cover(loads, supply, members, upper, taken)
    whole = lp(loads, supply, cap)
    note(f"bound {bound}, whole {whole}")
    assert bound is not None
    check_answer(allocation._answer("lp", "optimal", None, None, loads, supply, taken), loads, supply, cap, None)
    if whole.matched_total == most(loads, supply, members, upper):
        assert bound <= whole.cost + 1e-6


def test_an_hour_that_needs_all_its_supply_fixes_its_classes_and_lowers_the_next_hours_need():
    """Hour 0 can have only 900 kWh (a: 600, c: 300), so both are taken and bring 1,100 kWh to hour 1, which then
    needs 400 more: one single at 7 fen. The least cost is 10 + 20 + 7; a bound that ignored what the fixed classes
    bring to hour 1 would ask two singles there (44 fen), above it."""
    loads = [1_000, 1_500]
    supply = [Supply("a", 1, 10, ((0, 600), (1, 400))), Supply("c", 1, 20, ((0, 300), (1, 700))),
              Supply("d", 3, 7, ((1, KWH),))]
    members, upper, taken = full(loads, supply, 100)
    assert covering.cover(loads, supply, members, upper, taken) == 37 == brute(loads, supply, 100, None)[1]
    assert taken == [1, 1, 1]


def test_an_answer_short_of_an_hours_most_is_left_alone():
    """With a budget the answer may not fill every hour; then no covering set is solved and nothing is bounded."""
    loads = [1_000, 1_000]
    supply = [Supply("a", 2, 10, ((0, KWH),)), Supply("b", 2, 10, ((0, 500), (1, 500)))]
    members, upper = allocation._eligible(loads, supply, 100)
    taken = [1, 0]
    assert covering.cover(loads, supply, members, upper, taken) is None and taken == [1, 0]


def test_the_lp_path_reports_the_sets_bound():
    """Forced past the whole MIP, the LP path's cost gap is the covering sets' (0 here: the one set is solved), not
    the LP relaxation's, which pays for half a certificate (15 fen for 1,500 kWh where two whole ones cost 20)."""
    loads, supply = [1_500], [Supply("a", 3, 10, ((0, KWH),))]
    relaxed = Program(supply, [0], [2], {0: 1_500}, None, integral=False)
    relaxed.most_energy()
    assert relaxed.least_cost(1_500 - 0.5)[1] < 15 + 1e-6
    answer = lp(loads, supply, 100, None, full_mip=0)
    assert (answer.matched_total, answer.cost, answer.status, answer.cost_gap) == (1_500, 20, "optimal", 0.0)


def test_a_set_past_the_mip_size_is_bounded_by_its_relaxation(monkeypatch):
    """A set the sweep does not take (its budget spent here) and with more (hour, kWh) pairs than MIP_PAIRS is
    not solved as a MIP (its root's work has no other bound): its bound is its LP relaxation's, 15 fen for 1,500
    kWh, and the answer's classes stay."""
    monkeypatch.setattr(sweep, "WORK", 0)
    monkeypatch.setattr(covering, "MIP_PAIRS", 0)
    loads, supply = [1_500], [Supply("a", 3, 10, ((0, KWH),))]
    members, upper, taken = full(loads, supply, 100)
    assert abs(covering.cover(loads, supply, members, upper, taken) - 15) < 1e-6 and taken == [2]
    answer = lp(loads, supply, 100, None, full_mip=0)
    assert (answer.cost, answer.status, answer.cost_gap) == (20, "bounded", 0.25)
