"""The 24/7 allocation's cost when every hour is matched as fully as the supply allows: a sharper bound, and a
better answer, hour set by hour set (certx.hours.allocation states the problem; this is its LP path's last stage).

Why it holds. Hour h can match at most D_h = min(L_h, S_h) kWh, S_h being what every eligible class brings to it
at its most (`upper`). An answer whose energy is Σ_h D_h, as the LP path's is without a binding budget, matches D_h
in every hour, so every allocation that matches as much must cover each hour: Σ_c m_c,h·x_c ≥ D_h. Cutting such
an allocation's counts down to `upper` keeps it covering (a class is cut only where `upper` is fewer than all of
it, and then as many as fill each of its hours alone) and costs no more, so the least cost is reached within
`upper`; a budget only narrows the allocations, so what bounds them without it bounds them with it. Then:
- an hour that needs all its supply (S_h ≤ L_h) takes every class reaching it at its most: those are fixed, and
  what they bring lowers the other hours' needs;
- the other classes and the hours that still need energy fall into sets joined by the classes that span them;
  no row and no class is shared between two sets, so the least cost is the fixed classes' plus each set's least.
Each set is a small covering problem, solved by a sweep over its hours (certx.hours.sweep), or where the sweep does
not take it, as a MIP at HiGHS's root node: either's bound is a bound on that set's least cost, so their sum (plus
the fixed cost) bounds the cost of any allocation matching that energy; and a set's solution that covers its hours
for less than the answer's classes there replaces them, leaving every hour as full. On the benchmark's year the
sets' bounds close what the LP relaxation leaves open, where that pays for fractions of certificates, to 0.06%
(figures in allocation's docstring)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from certx.hours import sweep
from certx.hours.program import MIP_PAIRS, Program

if TYPE_CHECKING:
    from certx.hours.allocation import Supply

# A set's solve when the sweep does not take it: its root node only, whose cuts give the bound (branching barely moves it: a set of 338 hours
# gained 0.08% of its cost in 300 s of nodes), and not stopped at 0.1% but at 0.01%, for the sets' sum to be nearer.
# Without the feasibility-jump heuristic, measured on the benchmark: 33 s of CPU instead of 37, and a cheaper answer
# (RINS and RENS find the good ones: without them 16 s, but 0.15% dearer).
SETTINGS: dict[str, object] = {"mip_max_nodes": 1, "mip_rel_gap": 0.0001, "mip_heuristic_run_feasibility_jump": False}


def cover(loads: Sequence[int], supply: Sequence[Supply], members: list[int], upper: list[int],
          taken: list[int]) -> float | None:
    """The bound (fen) on the cost of any allocation that matches every hour's most, with `taken` made cheaper set
    by set in place where a solve finds how; None, and `taken` untouched, unless `taken` matches every hour's most.
    `members` are the eligible classes (supply indices), `upper` their most useful counts."""
    hours = len(loads)
    reach = [[(h, kwh) for h, kwh in supply[i].mix if 0 <= h < hours and loads[h]] for i in members]
    most, now = [0] * hours, [0] * hours
    for k, pairs in enumerate(reach):
        for h, kwh in pairs:
            most[h] += upper[k] * kwh
            now[h] += taken[members[k]] * kwh
    need = [min(load, s) for load, s in zip(loads, most)]
    if any(n < d for n, d in zip(now, need)):
        return None
    bound, free = 0.0, []
    for k, pairs in enumerate(reach):
        if any(most[h] <= loads[h] for h, _ in pairs):          # an hour that needs all its supply
            bound += upper[k] * supply[members[k]].price
            for h, kwh in pairs:
                need[h] -= upper[k] * kwh
        else:
            free.append(k)
    sets: dict[int, list[int]] = {}
    for k, root in zip(free, _joined(free, reach, need)):
        if root is None:                                        # its hours are full without it
            taken[members[k]] = 0
        else:
            sets.setdefault(root, []).append(k)
    budget = sweep.Budget()
    for ks in sets.values():                                    # in order of their first class: deterministic
        classes, most = [members[k] for k in ks], [upper[k] for k in ks]
        found = sweep.least(supply, classes, most, need, sum(taken[i] * supply[i].price for i in classes), budget)
        if found is None:
            least = _cheaper(supply, classes, most, need, taken)
        else:
            least = found.bound
            if found.counts:
                _keep(supply, classes, found.counts, _room(supply, classes, need), taken)
        bound += 0.0 if least is None else max(least, 0.0)      # no set costs less than nothing
    return bound


def _joined(free: list[int], reach: list[list[tuple[int, int]]], need: list[int]) -> list[int | None]:
    """For each free class, a root hour naming its set (None when none of its hours still needs energy): two
    classes share a set when a chain of classes, each sharing a needy hour with the next, joins them."""
    parent: dict[int, int] = {}

    def find(h: int) -> int:
        while parent.setdefault(h, h) != h:
            parent[h] = parent[parent[h]]
            h = parent[h]
        return h

    needy = [[h for h, _ in reach[k] if need[h] > 0] for k in free]
    for hs in needy:
        for h in hs[1:]:
            parent[find(h)] = find(hs[0])
    return [find(hs[0]) if hs else None for hs in needy]


def _cheaper(supply: Sequence[Supply], classes: list[int], upper: list[int], need: list[int],
             taken: list[int]) -> float | None:
    """One set solved as the least cost covering its hours' needs: its bound (fen), and `taken` changed on its
    classes when the solve, a MIP up to MIP_PAIRS, covers them, checked in integers, for less."""
    room = _room(supply, classes, need)
    # the needs' exact total, which with each hour at most its need forces every hour to it: presolve then leaves
    # the rows Σ_c m_c,h·x_c ≥ need_h, whose cuts are sharper (asking 0.5 kWh less, as the whole path does, left
    # the hours' columns free and gave 0.38% on the benchmark, against 0.33%)
    integral = sum(len(supply[i].mix) for i in classes) <= MIP_PAIRS      # a larger set: its LP relaxation's bound
    program = Program(supply, classes, upper, room, None, integral, SETTINGS if integral else None)
    values, least = program.least_cost(sum(room.values()))
    if values is not None and integral:
        _keep(supply, classes, [min(u, max(0, round(v))) for u, v in zip(upper, values)], room, taken)
    return least


def _room(supply: Sequence[Supply], classes: list[int], need: list[int]) -> dict[int, int]:
    """The set's hours that still need energy, and how much."""
    return {h: need[h] for i in classes for h, _ in supply[i].mix if h in range(len(need)) and need[h] > 0}


def _keep(supply: Sequence[Supply], classes: list[int], counts: list[int], room: dict[int, int],
          taken: list[int]) -> None:
    """`counts` of the set's classes in `taken`, if they cover its hours (checked in integers) for less."""
    into = dict.fromkeys(room, 0)
    for i, n in zip(classes, counts):
        for h, kwh in supply[i].mix:
            if h in into:
                into[h] += n * kwh
    cost = sum(n * supply[i].price for i, n in zip(classes, counts))
    if all(into[h] >= room[h] for h in room) and cost < sum(taken[i] * supply[i].price for i in classes):
        for i, n in zip(classes, counts):
            taken[i] = n
