"""The 24/7 allocation (issue 13, item 3): maximise the matched energy Σ_h min(load, matched), then minimise the
cost, with whole certificates, under a price cap and/or a budget.

The reference is brute force: every choice of whole certificates on tiny instances (2-3 classes, a few hours),
ranked (most energy, then least cost). Both paths must reach it: the greedy path on single-hour classes, and the LP
path both ways it runs (the whole MIP, and the LP relaxation improved window by window, forced with full_mip=0)."""
from __future__ import annotations

import itertools

import msgspec
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from certx.hours import allocation
from certx.hours.allocation import KWH, Allocation, AllocationError, Supply, allocate

HOURS = 4


def lp(loads, supply, cap=None, budget=None, full_mip=allocation.FULL_MIP) -> Allocation:
    allocation._check(loads, supply, cap, budget)
    return allocation._lp(loads, supply, cap, budget, full_mip=full_mip)


@st.composite
def mixes(draw, single: bool) -> tuple[tuple[int, int], ...]:
    """One certificate's 1,000 kWh over hours -1..HOURS (hours outside the load's 0..HOURS-1 match nothing)."""
    if single:
        return ((draw(st.integers(-1, HOURS)), KWH),)
    hours = sorted(draw(st.sets(st.integers(-1, HOURS), min_size=1, max_size=3)))
    cuts = sorted(draw(st.sets(st.integers(1, KWH - 1), min_size=len(hours) - 1, max_size=len(hours) - 1)))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, KWH])]
    return tuple(zip(hours, parts))


def classes(single: bool, most: int = 3) -> st.SearchStrategy[list[Supply]]:
    one = st.builds(Supply, st.sampled_from(["L1:1-3", "L2:7-9", "L3:4-4"]), st.integers(1, 3),
                    st.integers(1, 40), mixes(single))
    return st.lists(one, min_size=1, max_size=most)


loads_ = st.lists(st.integers(0, 2_500), min_size=HOURS, max_size=HOURS).filter(any)
limits = st.one_of(st.tuples(st.integers(1, 40), st.none()), st.tuples(st.none(), st.integers(1, 200)),
                   st.tuples(st.integers(1, 40), st.integers(1, 200)))


def brute(loads, supply, cap, budget) -> tuple[int, int]:
    """The optimum (matched energy, cost) over every choice of whole certificates."""
    best = (-1, 0)
    for counts in itertools.product(*(range(s.available + 1) for s in supply)):
        if cap is not None and any(n and s.price > cap for n, s in zip(counts, supply)):
            continue
        cost = sum(n * s.price for n, s in zip(counts, supply))
        if budget is not None and cost > budget:
            continue
        supplied = [0] * len(loads)
        for n, s in zip(counts, supply):
            for h, kwh in s.mix:
                if 0 <= h < len(loads):
                    supplied[h] += n * kwh
        matched = sum(min(load, x) for load, x in zip(loads, supplied))
        best = max(best, (matched, -cost))
    return best[0], -best[1]


def check_answer(answer: Allocation, loads, supply, cap, budget) -> None:
    """What every answer keeps to, whichever path gave it."""
    assert len(answer.taken) == len(supply) and len(answer.matched) == len(loads)
    assert all(0 <= n <= s.available for n, s in zip(answer.taken, supply))
    if cap is not None:
        assert all(s.price <= cap for n, s in zip(answer.taken, supply) if n)
    assert answer.cost == sum(n * s.price for n, s in zip(answer.taken, supply))
    if budget is not None:
        assert answer.cost <= budget
    supplied = [0] * len(loads)
    for n, s in zip(answer.taken, supply):
        for h, kwh in s.mix:
            if 0 <= h < len(loads):
                supplied[h] += n * kwh
    assert list(answer.matched) == [min(load, x) for load, x in zip(loads, supplied)]
    assert all(0 <= m <= load for m, load in zip(answer.matched, loads))
    assert answer.matched_total == sum(answer.matched) and answer.load_total == sum(loads)
    assert 0.0 <= answer.score <= 1.0


@settings(max_examples=300, deadline=None)
@given(loads_, classes(single=True), limits)
def test_greedy_reaches_the_brute_force_optimum(loads, supply, limit):
    """Issue 13, item 3: on single-hour classes the greedy path (under a cap, or a budget it fits) is optimal."""
    cap, budget = limit
    answer = allocate(loads, supply, cap, budget)
    note(repr(answer))
    check_answer(answer, loads, supply, cap, budget)
    assert (answer.matched_total, answer.cost) == brute(loads, supply, cap, budget)
    if budget is None:
        assert answer.method == "greedy"


@settings(max_examples=300, deadline=None)
@given(loads_, classes(single=False), limits, st.sampled_from([allocation.FULL_MIP, 0]))
def test_lp_path_reaches_the_brute_force_optimum(loads, supply, limit, full_mip):
    """Issue 13, item 3: classes across hours, the whole MIP and the windowed search alike."""
    cap, budget = limit
    answer = lp(loads, supply, cap, budget, full_mip)
    note(repr(answer))
    check_answer(answer, loads, supply, cap, budget)
    assert (answer.matched_total, answer.cost) == brute(loads, supply, cap, budget)
    assert answer.method == "lp" and answer.gap is not None and answer.gap >= 0.0


@settings(max_examples=200, deadline=None)
@given(loads_, classes(single=True), st.integers(1, 40), st.sampled_from([allocation.FULL_MIP, 0]))
def test_greedy_and_lp_agree_on_single_hour_classes(loads, supply, cap, full_mip):
    """The two paths, on what both can solve, match the same energy at the same cost."""
    greedy, linear = allocate(loads, supply, cap), lp(loads, supply, cap, None, full_mip)
    assert greedy.method == "greedy" and linear.method == "lp"
    assert (greedy.matched_total, greedy.cost) == (linear.matched_total, linear.cost)


@settings(max_examples=150, deadline=None)
@given(loads_, classes(single=False, most=2), classes(single=False, most=2), limits)
def test_more_supply_never_matches_less(loads, supply, more, limit):
    """Adding classes can only add choices: the matched energy never falls."""
    cap, budget = limit
    before, after = allocate(loads, supply, cap, budget), allocate(loads, supply + more, cap, budget)
    assert after.matched_total >= before.matched_total


@settings(max_examples=100, deadline=None)
@given(loads_, classes(single=False), limits)
def test_the_same_input_gives_the_same_bytes(loads, supply, limit):
    """Replaying the same command must give the same allocation, byte for byte."""
    cap, budget = limit
    first = msgspec.json.encode(allocate(loads, supply, cap, budget))
    again = msgspec.json.encode(allocate(list(loads), [msgspec.structs.replace(s) for s in supply], cap, budget))
    assert first == again
    assert msgspec.json.decode(first, type=Allocation) == allocate(loads, supply, cap, budget)


def test_a_budget_is_a_knapsack_and_goes_to_the_lp_path():
    """Cheapest-first would spend the budget on hour 0's partly used certificate (500 kWh for 10 fen) and could then
    not afford hour 1's whole one (1,000 kWh for 95 fen); the optimum skips the cheap fraction."""
    loads = [500, 1_000]
    supply = [Supply("cheap", 1, 10, ((0, KWH),)), Supply("whole", 1, 95, ((1, KWH),))]
    answer = allocate(loads, supply, budget=100)
    assert answer.method == "lp" and answer.taken == (0, 1) and answer.matched_total == 1_000
    assert allocate(loads, supply, budget=105).method == "greedy"      # a budget that does not bind


def test_a_certificate_partly_used_still_counts():
    """min(load, matched) gains from a last certificate that the load only partly uses: 2,500 kWh take three."""
    answer = allocate([2_500], [Supply("a", 5, 100, ((0, KWH),))], cap=100)
    assert answer.taken == (3,) and answer.matched == (2_500,) and answer.cost == 300


def test_hours_outside_the_load_match_nothing():
    answer = allocate([1_000, 1_000], [Supply("before", 4, 1, ((-1, KWH),)), Supply("in", 1, 9, ((1, KWH),))],
                      cap=10)
    assert answer.taken == (0, 1) and answer.matched == (0, 1_000)


def test_the_lp_path_reports_its_status_and_gaps():
    loads = [800, 700, 600]
    supply = [Supply("a", 2, 30, ((0, 600), (1, 400))), Supply("b", 2, 20, ((1, 300), (2, 700))),
              Supply("c", 3, 50, ((0, KWH),))]
    answer = allocate(loads, supply, cap=100)
    assert answer.method == "lp" and answer.status == "optimal" and answer.gap == answer.cost_gap == 0.0
    assert answer.matched_total == brute(loads, supply, 100, None)[0]


GOOD = Supply("a", 1, 100, ((0, KWH),))


@pytest.mark.parametrize("loads, supply, cap, budget, says", [
    ([], [GOOD], 100, None, "1 to 8784 hours"),
    ([0] * (allocation.MAX_HOURS + 1), [GOOD], 100, None, "1 to 8784 hours"),
    ([0, 0], [GOOD], 100, None, "zero in every hour"),
    ([-5, 10], [GOOD], 100, None, "hour 0"),
    ([10, 1.5], [GOOD], 100, None, "hour 1"),
    ([True], [GOOD], 100, None, "hour 0"),
    ([10**10], [GOOD], 100, None, "hour 0"),
    ([10], [], 100, None, "classes"),
    ([10], [GOOD], None, None, "cap or a budget"),
    ([10], [GOOD], 0, None, "cap"),
    ([10], [GOOD], 100, -1, "budget"),
    ([10], [GOOD], 100.0, None, "cap"),
    ([10], [Supply("a", 1, 100, ((0, 999),))], 100, None, "sum to 1000"),
    ([10], [Supply("a", 1, 100, ((0, 600), (0, 400)))], 100, None, "increasing"),
    ([10], [Supply("a", 1, 100, ((1, 600), (0, 400)))], 100, None, "increasing"),
    ([10], [Supply("a", 1, 100, ((2**31, KWH),))], 100, None, "increasing"),
    ([10], [Supply("a", 1, 100, ((0, 1_200), (1, -200)))], 100, None, "positive"),
    ([10], [Supply("a", 1, 100, ())], 100, None, "sum to 1000"),
    ([10], [Supply("a", 0, 100, ((0, KWH),))], 100, None, "available"),
    ([10], [Supply("a", 1, 0, ((0, KWH),))], 100, None, "price"),
    ([10], [("a", 1, 100, ((0, KWH),))], 100, None, "not a Supply"),
    ([10], [Supply(7, 1, 100, ((0, KWH),))], 100, None, "not a Supply"),
    ([10], [Supply("a", 1, 100, [(0, KWH)])], 100, None, "not a Supply"),
    ([10], [Supply("a", 1, 100, ((0, KWH, 1),))], 100, None, "pairs"),
    ([10], [Supply("a", 1, 100, (7,))], 100, None, "pairs"),
])
def test_hostile_input_is_refused_as_data(loads, supply, cap, budget, says):
    """Bad input gets an answer the engine can turn into a rejection, never a crash or a solve."""
    with pytest.raises(AllocationError, match=says):
        allocate(loads, supply, cap, budget)


def test_too_many_classes_or_mix_entries_are_refused(monkeypatch):
    monkeypatch.setattr(allocation, "MAX_CLASSES", 2)
    with pytest.raises(AllocationError, match="1 to 2 classes"):
        allocate([10], [GOOD] * 3, cap=100)
    monkeypatch.setattr(allocation, "MAX_MIX_ENTRIES", 3)
    spread = Supply("a", 1, 100, ((0, 250), (1, 250), (2, 250), (3, 250)))
    with pytest.raises(AllocationError, match="more than 3"):
        allocate([10], [spread], cap=100)


def test_the_greedy_path_can_be_forced_only_where_it_is_optimal():
    with pytest.raises(AllocationError, match="single hour"):
        allocate([10, 10], [Supply("a", 1, 1, ((0, 500), (1, 500)))], cap=10, path="greedy")
    with pytest.raises(AllocationError, match="budget"):
        allocate([500, 1_000], [Supply("c", 1, 10, ((0, KWH),)), Supply("w", 1, 95, ((1, KWH),))], budget=100,
                 path="greedy")


@st.composite
def spread(draw) -> Supply:
    """A class over 1-4 consecutive hours of a 30-hour load, as a project's production cuts its certificates."""
    weights = draw(st.lists(st.integers(1, 9), min_size=1, max_size=4))
    first = draw(st.integers(-2, 30))
    parts = [KWH * w // sum(weights) for w in weights]
    parts[-1] += KWH - sum(parts)
    return Supply("L", draw(st.integers(1, 6)), draw(st.integers(1, 3_000)),
                  tuple((first + k, p) for k, p in enumerate(parts) if p))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 6_000), min_size=30, max_size=30).filter(any), st.lists(spread(), min_size=1,
                                                                                      max_size=40), limits)
def test_larger_instances_keep_every_rule_on_both_lp_ways(loads, supply, limit):
    """30 hours and up to 40 classes over consecutive hours: the whole MIP and the windowed search both keep to
    the availability, the cap, the budget and the loads, and neither matches more than the other's bound allows."""
    cap, budget = limit
    whole, windowed = lp(loads, supply, cap, budget), lp(loads, supply, cap, budget, full_mip=0)
    for answer in (whole, windowed):
        check_answer(answer, loads, supply, cap, budget)
    assert windowed.matched_total <= whole.matched_total / (1 - allocation.MIP_REL_GAP) + 1
    assert whole.matched_total <= windowed.matched_total * (1 + windowed.gap) + 1


def test_the_window_search_skips_the_windows_past_its_work_bound(monkeypatch):
    """Under a binding budget the rounded LP answer takes two of c (34 fen, mostly in hour 1, which one fills) and
    one single of a; the window search finds that one c and two singles match more. With no (hour, kWh) pairs
    allowed it solves no window: the rounded answer stands, and its gap says how far it may be from the most."""
    loads = [1_917, 669, 985, 719]
    supply = [Supply("a", 3, 39, ((0, KWH),)), Supply("b", 1, 29, ((0, 474), (2, 526))),
              Supply("c", 3, 34, ((0, 35), (1, 965)))]
    searched = lp(loads, supply, None, 145, full_mip=0)
    assert (searched.matched_total, searched.cost) == (3_112, 141) == brute(loads, supply, None, 145)
    monkeypatch.setattr(allocation, "SEARCH_PAIRS", 0)
    stopped = lp(loads, supply, None, 145, full_mip=0)
    check_answer(stopped, loads, supply, None, 145)
    assert stopped.matched_total < 3_112 and stopped.status != "optimal"
    assert stopped.matched_total * (1 + stopped.gap) >= 3_112


def test_a_dense_program_gets_fewer_nodes_and_the_window_search_stops_at_its_work(monkeypatch):
    """Red team: the solver's work was bounded by its nodes (2,000 a solve) and the windows' pairs, not by what a
    node costs, which grows with the program's nonzeros. 1,500 classes of one certificate over 66 of 200 hours, the
    whole MIP, took 47 s of CPU (now 10.5 s); 1,600 under a binding budget took 200 s in the window search's MIPs
    (now 16 s). Now a program gets at most NODE_PAIRS / its nonzeros nodes, and the window search stops once its
    solves have cost SEARCH_WORK (simplex iterations x nonzeros, counted by HiGHS: no clock)."""
    from certx.hours import program as solver
    dense = [Supply(f"c{i}", 2, 100 + i, tuple((h, 20) for h in range(i % 10, i % 10 + 50))) for i in range(300)]
    loads = [5_000] * 60
    members = list(range(len(dense)))
    made = solver.Program(dense, members, [2] * len(dense), dict(enumerate(loads)), None, integral=True)
    assert made.nonzeros == 300 * 50 + 59               # the pairs, and an hour's y_h in each of hours 0-58
    assert made.h.getOptionValue("mip_max_nodes")[1] == solver.NODE_PAIRS // made.nonzeros < solver.MIP_MAX_NODES
    small = solver.Program(dense[:2], [0, 1], [2, 2], {0: 5_000}, None, integral=True)
    assert small.h.getOptionValue("mip_max_nodes")[1] == solver.MIP_MAX_NODES
    # a binding budget over 18 hours, classes across two hours: three windows to search, one solved
    loads = [1_500] * 18
    supply = [Supply(f"s{h}", 3, 30 + h, ((h, 600), (h + 1, 400))) for h in range(17)]
    programs = []

    class Counted(solver.Program):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            programs.append(self)

    monkeypatch.setattr(allocation, "Program", Counted)
    whole = lp(loads, supply, None, 300, full_mip=0)
    assert len(programs) == 1 + 3 and programs[1].work > 0
    programs.clear()
    monkeypatch.setattr(allocation, "SEARCH_WORK", 0)
    stopped = lp(loads, supply, None, 300, full_mip=0)
    assert len(programs) == 1 + 1                       # the whole program's, then the first window's alone
    check_answer(stopped, loads, supply, None, 300)
    assert stopped.matched_total <= whole.matched_total
