"""The 24/7 allocation (issue 13, item 3): which whole certificates a buyer's hourly load takes from the supply.

The problem. Hourly loads L_h in kWh, h = 0..H-1 counted from the period's first hour, meet supply classes. A class c
is a_c interchangeable whole certificates at p_c fen each; one certificate's 1,000 kWh spread over hours as its mix
m_c,h (hours outside 0..H-1 match nothing). Choose whole x_c in 0..a_c, no class dearer than the cap and
Σ_c x_c·p_c within the budget, to maximise first the matched energy Σ_h min(L_h, Σ_c x_c·m_c,h) and then to
minimise the cost Σ_c x_c·p_c. The answer is a function of the input, byte for byte: the greedy path breaks ties
by the caller's order of the classes (cheapest, then oldest), the LP path by its fixed settings.

The greedy path. When every class sits within one hour and only a cap limits the price, taking hour by hour the
cheapest certificates until they cover the load (the last may be partly used) is optimal. Proof: the objective is
then a sum of per-hour terms that share no variable and no constraint, so each hour may be optimised alone; in one
hour the matched energy min(L, 1000·n) depends only on the number n taken and is at its most from n* =
min(⌈L/1000⌉, available) on (fewer match less, more only cost), and n* certificates cost least as the n* cheapest.

A budget couples the hours, and cheapest-first is then wrong: each hour's last certificate, partly used, is worth
less than a whole one, so spending cheapest-first can buy a fraction and then miss a whole certificate (a knapsack).
So the greedy answer under the cap alone is computed first: if it fits the budget, the budget binds nothing and that
answer stands, optimal; if it does not, the problem goes to the LP path.

The LP path (classes spanning hours, or a binding budget). The program over the eligible classes: columns x_c
(whole certificates) and y_h (MWh matched), rows y_h ≤ Σ_c m_c,h·x_c, bounds y_h ≤ L_h, and the budget row. It is
lexicographic by two solves: the most energy Σ_h y_h; then the least cost with Σ_h y_h at least the first's energy.
A weighted single objective is not exact: one kWh must outweigh every cost the classes could add (Σ_c a_c·p_c,
4·10^9 fen on the benchmark), so over 10^8 kWh it spans 10^17, past a double's 2^53 and the solver's tolerances. HiGHS runs single-threaded
with a fixed seed, fixed presolve and dual simplex, a node limit and no time limit (a time limit would make the
answer depend on the machine's speed), so the same input gives the same answer.
- Up to FULL_MIP eligible classes with at most MIP_PAIRS (hour, kWh) pairs (certx.hours.program's measures say
  why; the covering sets below keep to it too): the whole MIP, each solve within mip_rel_gap 0.001 ("optimal or
  within a 0.1% gap"), its gaps from HiGHS's bounds.
- Beyond: the MIP is too slow. Measured on the benchmark's year (loadtest/allocation_bench.py, results in
  loadtest/results/allocation.json: 10^5 classes, half of them across two or more hours): the whole MIP takes
  306 s of CPU and stops at its node limit 0.47% from its bound on the cost (its root node alone takes 77-200 s);
  40,000 classes take 55 s, 10,000 take 0.5 s. So beyond FULL_MIP the LP relaxation (two solves, about 1.5 s) gives the
  bounds and a first answer, rounded down and filled. Its cost bound is weak (it pays for fractions of
  certificates, about half of one an hour: 2.5% below the answer on the benchmark), so a second stage follows.
  - When that answer fills every hour as far as the supply can (always, unless a budget binds), every allocation
    matching as much must cover each hour's most, and the problem splits into sets of hours joined by the classes
    spanning them (certx.hours.covering, whose docstring proves it). Each set is solved by a sweep over its hours
    (certx.hours.sweep): exactly where few certificates span the sweep's front, else bounded by cutting some of them
    into pieces priced hour by hour (a Lagrangian relaxation); the sets' bounds' sum bounds the cost, and a set's
    answer replaces the answer's classes there when cheaper. On the benchmark (38 sets, the largest 1,856 hours and
    13,712 classes): 23 s of CPU in all, the energy the LP's bound (gap 0), the cost proved within 0.06% of the
    optimum (cost_gap). Before the sweep, HiGHS's root nodes on the same sets took 33 s and proved 0.32%, for a
    cost 0.11% dearer; branching hardly moved their bounds (a set of 338 hours, given 300 s of nodes, gained
    0.08%), and a set of 391 hours given 193 s of branching found an answer dearer than the sweep's. A set the
    sweep does not take (a spanning class of more than one certificate, or its work budget spent) is still solved
    at HiGHS's root node.
  - Otherwise a large-neighbourhood search solves again, window by window of WINDOW hours, the classes that reach
    the window as a small MIP with the rest fixed, and keeps each answer that matches more or as much for less,
    until the windows' MIPs have held SEARCH_PAIRS (hour, kWh) pairs in all; its cost bound stays the LP
    relaxation's. (On the benchmark, in place of the sets, it took about 35 s, for a cost 0.03% above theirs.)
Whatever a solver returns is made exact in integers: rounded, cut back to the budget if a tolerance let it over,
filled (cheapest first, each class as long as one more certificate matches more) and trimmed (dearest first, every
certificate whose removal matches no less). The gaps are measured on that final answer against the solver's
bounds: `gap` on the energy, `cost_gap` on the cost given at least that energy.

Limits, so that hostile input is refused as data (`AllocationError`) rather than run: at most MAX_HOURS hours of
load, MAX_CLASSES classes and MAX_MIX_ENTRIES (hour, kWh) pairs over all mixes; see the constants.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import msgspec

from certx.hours.covering import cover
from certx.hours.curve import KWH
from certx.hours.program import MIP_PAIRS, MIP_REL_GAP, Program
from certx.money import Amount, Price
from certx.wire.commands import MAX_QUANTITY

MAX_HOURS = 8_784               # a leap year of hourly loads
MAX_LOAD = 10**9                # kWh in one hour of one buyer: 1 TWh, China's whole consumption in an hour
MAX_CLASSES = 200_000           # twice the benchmark's 10^5 classes
# (hour, kWh) pairs over all classes. The benchmark's 10^5 classes have 182,695; the solver's time grows with them,
# so the limit is low. The red team's shapes within it, a month's load against classes of one certificate over
# many hours, as measured now (CPU): 3,000 over 133 hours 1.2 s (180 s before MIP_PAIRS sent them from the whole
# MIP to the LP path), over 66 hours 0.6 s (over 300 s), 4,000 over 100 hours 1.1 s, or 16 s under a binding budget
# (212 s before SEARCH_PAIRS); the answers' gaps say how far from optimal (3.4-5.0% on the cost for the first two).
MAX_MIX_ENTRIES = 400_000
MAX_HOUR = 2**31                # a mix's hours lie in [-MAX_HOUR, MAX_HOUR): past that it is not an hour

Method = Literal["greedy", "lp"]
Status = Literal["optimal", "within_gap", "bounded", "heuristic"]


class AllocationError(ValueError):
    """Input the allocation refuses; the message says what, for the engine's rejection."""


class Supply(msgspec.Struct, frozen=True):
    """A supply class: `available` interchangeable whole certificates at `price` fen each, each spreading its
    1,000 kWh over the load's hours as `mix`, (hour, kWh) pairs in increasing hour. `key` is the caller's (a lot
    and a serial sub-range) and is carried untouched."""

    key: str
    available: int
    price: int
    mix: tuple[tuple[int, int], ...]


class Allocation(msgspec.Struct, frozen=True):
    """The answer. `taken` follows the classes' order; `matched` is kWh per hour of the load. `gap` is the matched
    energy's relative gap to the solver's bound and `cost_gap` the cost's to its bound given that energy (both 0.0
    when proved optimal, None when no bound is known)."""

    method: Method
    status: Status
    gap: float | None
    cost_gap: float | None
    taken: tuple[int, ...]
    matched: tuple[int, ...]
    matched_total: int
    load_total: int
    cost: int

    @property
    def score(self) -> float:
        """The hourly matching score: matched energy over the load's, in [0, 1]."""
        return self.matched_total / self.load_total


def allocate(loads: Sequence[int], supply: Sequence[Supply], cap: int | None = None, budget: int | None = None,
             *, path: Method | None = None) -> Allocation:
    """The allocation of `supply` to `loads` under a price `cap` (fen per certificate) and/or a `budget` (fen).
    `path` forces one path (tests, benchmark); by default the greedy path when it is proved optimal."""
    _check(loads, supply, cap, budget)
    single = all(len(s.mix) == 1 for s in supply)
    if path == "greedy" and not single:
        raise AllocationError("the greedy path needs every class within a single hour")
    if path != "lp" and single:
        taken = _greedy(loads, supply, cap)
        answer = _answer("greedy", "optimal", 0.0, 0.0, loads, supply, taken)
        if budget is None or answer.cost <= budget:
            return answer
        if path == "greedy":
            raise AllocationError("the greedy path cannot keep to a budget that binds")
    return _lp(loads, supply, cap, budget)


def check_loads(loads: Sequence[int]) -> None:
    """Hourly loads as the allocation and the evidence take them: 1 to MAX_HOURS whole kWh, not all zero."""
    if not 1 <= len(loads) <= MAX_HOURS:
        raise AllocationError(f"the load must have 1 to {MAX_HOURS} hours, got {len(loads)}")
    for h, load in enumerate(loads):
        if type(load) is not int or not 0 <= load <= MAX_LOAD:
            raise AllocationError(f"the load of hour {h} must be a whole number of kWh in 0..{MAX_LOAD}, "
                                  f"got {load!r:.40}")
    if not any(loads):
        raise AllocationError("the load is zero in every hour: nothing to match")


def mix_kwh(pairs: object, lowest: int, what: str, error: type[AllocationError] = AllocationError) -> int:
    """The kWh of (hour, kWh) pairs, checked: hours whole, increasing and in lowest..MAX_HOUR - 1, kWh whole and
    positive; else `error`, naming `what` (a class's mix here, a leg's hours in the evidence)."""
    total, previous = 0, lowest - 1
    for pair in pairs:
        if type(pair) is not tuple or len(pair) != 2:
            raise error(f"{what}: hours are (hour, kWh) pairs")
        hour, kwh = pair
        if type(hour) is not int or not previous < hour < MAX_HOUR:
            raise error(f"{what}: hours must be whole, increasing and in {lowest}..{MAX_HOUR - 1}")
        if type(kwh) is not int or kwh < 1:
            raise error(f"{what}: an hour's kWh must be whole and positive")
        total += kwh
        previous = hour
    return total


def _check(loads: Sequence[int], supply: Sequence[Supply], cap: int | None, budget: int | None) -> None:
    check_loads(loads)
    if not 1 <= len(supply) <= MAX_CLASSES:
        raise AllocationError(f"the supply must have 1 to {MAX_CLASSES} classes, got {len(supply)}")
    if cap is None and budget is None:
        raise AllocationError("a price cap or a budget is needed")
    for name, value, top in (("cap", cap, Price.MAX), ("budget", budget, Amount.MAX)):
        if value is not None and (type(value) is not int or not 1 <= value <= top):
            raise AllocationError(f"the {name} must be a whole number of fen in 1..{top}, got {value!r:.40}")
    entries = 0
    for i, s in enumerate(supply):
        if type(s) is not Supply or type(s.key) is not str or type(s.mix) is not tuple:
            raise AllocationError(f"class {i} is not a Supply (a str key, a tuple mix)")
        if type(s.available) is not int or not 1 <= s.available <= MAX_QUANTITY:
            raise AllocationError(f"class {i}: available must be 1..{MAX_QUANTITY} certificates")
        if type(s.price) is not int or not 1 <= s.price <= Price.MAX:
            raise AllocationError(f"class {i}: the price must be 1..{Price.MAX} fen")
        entries += len(s.mix)
        if entries > MAX_MIX_ENTRIES:
            raise AllocationError(f"the mixes have more than {MAX_MIX_ENTRIES} (hour, kWh) pairs in all")
        total = mix_kwh(s.mix, -MAX_HOUR, f"class {i}")
        if total != KWH:
            raise AllocationError(f"class {i}: one certificate's mix must sum to {KWH} kWh, got {total}")


def _greedy(loads: Sequence[int], supply: Sequence[Supply], cap: int | None) -> list[int]:
    """Hour by hour, the cheapest certificates that cover the load (proof in the module docstring)."""
    hours = len(loads)
    top = Price.MAX if cap is None else cap
    by_hour: dict[int, list[int]] = {}
    for i, s in enumerate(supply):
        hour = s.mix[0][0]
        if 0 <= hour < hours and loads[hour] and s.price <= top:
            by_hour.setdefault(hour, []).append(i)
    taken = [0] * len(supply)
    for hour, members in by_hour.items():
        members.sort(key=lambda i: supply[i].price)        # a stable sort: the caller's order breaks ties
        need = -(-loads[hour] // KWH)
        for i in members:
            n = min(supply[i].available, need)
            taken[i] = n
            need -= n
            if not need:
                break
    return taken


def _supplied(loads: Sequence[int], supply: Sequence[Supply], taken: Sequence[int]) -> list[int]:
    """kWh the taken certificates bring to each hour of the load, exactly."""
    hours = len(loads)
    supplied = [0] * hours
    for i, n in enumerate(taken):
        if n:
            for hour, kwh in supply[i].mix:
                if 0 <= hour < hours:
                    supplied[hour] += n * kwh
    return supplied


def _answer(method: Method, status: Status, gap: float | None, cost_gap: float | None, loads: Sequence[int],
            supply: Sequence[Supply], taken: Sequence[int]) -> Allocation:
    matched = tuple(min(load, s) for load, s in zip(loads, _supplied(loads, supply, taken)))
    cost = sum(n * s.price for n, s in zip(taken, supply))
    return Allocation(method, status, gap, cost_gap, tuple(taken), matched, sum(matched), sum(loads), cost)


# ---- the LP path -------------------------------------------------------------------------------------------------

# Eligible classes up to which the whole MIP is solved (see the docstring). Its time depends on the instance more
# than on its size: 0.5 s for the benchmark's 10,000 classes, but 133 s for the 5,659 classes of
# certx.sample.hourly.year(projects=12, load_kw=400) (each certificate over several hours), where the relaxation
# path takes 9.3 s of CPU for the same energy (its cost bounded at 0.59%); 2,889 of year()'s take 1.1 s. The matcher
# stops for a match, so the bound is low.
FULL_MIP = 3_000
SWEEPS = 1                             # sweeps of the windows, each offset by WINDOW / SWEEPS hours
WINDOW = 6                             # hours a neighbourhood spans
# (hour, kWh) pairs the windows' MIPs may hold in all; the search skips the windows past that, a bound on its work
# that reads no clock. Classes over many hours put each in many windows' MIPs: 4,000 over 100 hours of a month's
# load under a binding budget took 212 s without it, 16 s with it, for the same answer.
SEARCH_PAIRS = 1_000_000
# ... and the windows' solves may cost this much in all (`Program.work`, simplex iterations x nonzeros, about 8 ns
# each): dense windows cost far more than their pairs say. 1,600 classes of one certificate over 66 of 200 hours
# under a binding budget (102,555 pairs) took 200 s in windows of some 40,000 pairs each (10-19 s a solve); the
# benchmark's windows, a few hundred pairs each, cost some 10^8 in all.
SEARCH_WORK = 1_000_000_000


def _lp(loads: Sequence[int], supply: Sequence[Supply], cap: int | None, budget: int | None,
        full_mip: int = FULL_MIP, full_pairs: int = MIP_PAIRS) -> Allocation:
    """The LP path: the MIP over every eligible class when they are at most `full_mip` with at most `full_pairs`
    (hour, kWh) pairs; beyond, its LP relaxation for the bounds and a first answer, made whole, then bounded and
    improved set by set of hours (`cover`) when it fills every hour as far as the supply can, else improved window
    by window by small MIPs."""
    members, upper = _eligible(loads, supply, cap)
    if not members:
        return _answer("lp", "optimal", 0.0, 0.0, loads, supply, [0] * len(supply))
    integral = len(members) <= full_mip and sum(len(supply[i].mix) for i in members) <= full_pairs
    program = Program(supply, members, upper, dict(enumerate(loads)), budget, integral)
    values, energy_bound = program.most_energy()
    taken = _whole(loads, supply, members, upper, budget, values, integral)
    # the second solve asks for the energy a whole answer reached (the MIP's) or the LP's optimum, whichever is known
    need = _answer("lp", "optimal", None, None, loads, supply, taken).matched_total
    if energy_bound is not None and not integral:
        need = energy_bound
    values, cost_bound = program.least_cost(need - 0.5)
    again = _whole(loads, supply, members, upper, budget, values, integral)
    if _rank(loads, supply, again) > _rank(loads, supply, taken):
        taken = again
    if not integral:
        full = cover(loads, supply, members, upper, taken)     # None unless every hour is as full as it can be
        if full is None:
            _improve(loads, supply, members, upper, budget, taken)
        else:
            _finish(loads, supply, members, upper, budget, taken)
            cost_bound = full if cost_bound is None else max(cost_bound, full)
    answer = _answer("lp", "optimal", None, None, loads, supply, taken)
    if answer.matched_total < need - 0.5 and cost_bound is not None:   # that bound holds for more energy than this
        _, cost_bound = program.least_cost(answer.matched_total - 0.5)
    gap = None if energy_bound is None else _relative(energy_bound - answer.matched_total, answer.matched_total)
    cost_gap = None if cost_bound is None else _relative(answer.cost - cost_bound, answer.cost)
    status: Status = ("heuristic" if gap is None or cost_gap is None else "optimal" if gap == cost_gap == 0.0
                      else "within_gap" if max(gap, cost_gap) <= MIP_REL_GAP else "bounded")
    return msgspec.structs.replace(answer, status=status, gap=gap, cost_gap=cost_gap)


def _eligible(loads: Sequence[int], supply: Sequence[Supply], cap: int | None) -> tuple[list[int], list[int]]:
    """The classes the LP path offers the solver (supply indices, cheapest, then the caller's order: a stable sort),
    those within the cap with energy in the load's hours, and the most of each worth taking."""
    hours = len(loads)
    top = Price.MAX if cap is None else cap
    members, upper = [], []
    for i in sorted(range(len(supply)), key=lambda i: supply[i].price):
        s = supply[i]
        useful = max((-(-loads[h] // kwh) for h, kwh in s.mix if 0 <= h < hours and loads[h]), default=0)
        if s.price <= top and useful:
            members.append(i)
            upper.append(min(s.available, useful))   # more would saturate every hour of the class on its own
    return members, upper


def _rank(loads: Sequence[int], supply: Sequence[Supply], taken: list[int]) -> tuple[int, int]:
    """The lexicographic objective: more energy, then less cost."""
    matched = sum(min(load, s) for load, s in zip(loads, _supplied(loads, supply, taken)))
    return matched, -sum(n * s.price for n, s in zip(taken, supply))


def _whole(loads: Sequence[int], supply: Sequence[Supply], members: list[int], upper: list[int],
           budget: int | None, values: list[float] | None, integral: bool) -> list[int]:
    """The solver's values as whole certificates (a MIP's rounded to the nearest, an LP's down), then finished."""
    taken = [0] * len(supply)
    if values is not None:
        nudge = 0.5 if integral else 1e-6
        for k, i in enumerate(members):
            taken[i] = min(upper[k], max(0, math.floor(values[k] + nudge)))
    _finish(loads, supply, members, upper, budget, taken)
    return taken


def _relative(excess: float, value: int) -> float:
    """A gap as HiGHS measures it, over the answer's value; float noise below 1 kWh or 1 fen reads as zero."""
    return 0.0 if excess < 1.0 else round(excess / max(value, 1), 9)


def _finish(loads: Sequence[int], supply: Sequence[Supply], members: list[int], upper: list[int],
            budget: int | None, taken: list[int]) -> None:
    """Whole certificates made exact: cut back to the budget if a tolerance let it over (dearest first), filled
    (cheapest first, as many as still match more) and trimmed (dearest first, those whose removal matches no
    less). Gains only fall as supply grows, so after the fill no class can add energy unless the budget stops it."""
    hours = len(loads)
    residual = [load - s for load, s in zip(loads, _supplied(loads, supply, taken))]
    spent = sum(n * s.price for n, s in zip(taken, supply))

    def take(i: int, n: int) -> None:
        nonlocal spent
        taken[i] += n
        spent += n * supply[i].price
        for h, kwh in supply[i].mix:
            if 0 <= h < hours:
                residual[h] -= n * kwh

    for i in reversed(members):
        if budget is None or spent <= budget:
            break
        take(i, -min(taken[i], -(-(spent - budget) // supply[i].price)))
    for k, i in enumerate(members):
        s = supply[i]
        more = max((-(-residual[h] // kwh) for h, kwh in s.mix if 0 <= h < hours and residual[h] > 0), default=0)
        more = min(more, upper[k] - taken[i])
        if budget is not None:
            more = min(more, (budget - spent) // s.price)
        if more > 0:
            take(i, more)
    for i in reversed(members):
        if taken[i]:
            spare = min((-residual[h] // kwh for h, kwh in supply[i].mix if 0 <= h < hours), default=taken[i])
            if spare > 0:
                take(i, -min(spare, taken[i]))


def _improve(loads: Sequence[int], supply: Sequence[Supply], members: list[int], upper: list[int],
             budget: int | None, taken: list[int]) -> None:
    """A large-neighbourhood search: for each window of WINDOW hours (in SWEEPS sweeps, each offset by a share of a
    window), the classes that reach the window are solved again as a small MIP, the rest of the supply fixed; the
    answer is kept when it matches more, or as much for less. Deterministic: windows in order, settings fixed."""
    hours = len(loads)
    reaching: list[list[int]] = [[] for _ in range(hours)]
    for k, i in enumerate(members):
        for h, _ in supply[i].mix:
            if 0 <= h < hours and loads[h]:
                reaching[h].append(k)
    supplied = _supplied(loads, supply, taken)
    spent = sum(n * s.price for n, s in zip(taken, supply))
    work, effort = 0, 0
    for offset in range(0, WINDOW, WINDOW // SWEEPS):
        for first in range(-offset, hours, WINDOW):
            ks = sorted({k for h in range(max(first, 0), min(first + WINDOW, hours)) for k in reaching[h]})
            work += sum(len(supply[members[k]].mix) for k in ks)
            if not ks or work > SEARCH_PAIRS or effort > SEARCH_WORK:
                continue
            window, bounds = [members[k] for k in ks], [upper[k] for k in ks]
            prices = [supply[i].price for i in window]
            own: dict[int, int] = {}
            for i in window:
                for h, kwh in supply[i].mix:
                    if 0 <= h < hours and loads[h]:
                        own[h] = own.get(h, 0) + taken[i] * kwh
            room = {h: max(0, loads[h] - supplied[h] + kwh) for h, kwh in own.items()}
            now = [taken[i] for i in window]
            best = (_gain(supply, window, now, room), -sum(n * p for n, p in zip(now, prices)), now)
            left = None if budget is None else budget - spent - best[1]
            program = Program(supply, window, bounds, room, left, integral=True)
            need = best[0]
            if need < sum(room.values()):                     # some hour still lacks: try to match more first
                values, _ = program.most_energy()
                best = _better(best, _candidate(supply, window, bounds, values, room, prices, left))
                need = best[0]
            values, _ = program.least_cost(need - 0.5)
            best = _better(best, _candidate(supply, window, bounds, values, room, prices, left))
            effort += program.work
            if best[2] is not now:
                for i, n in zip(window, best[2]):
                    if n != taken[i]:
                        for h, kwh in supply[i].mix:
                            if 0 <= h < hours:
                                supplied[h] += (n - taken[i]) * kwh
                        spent += (n - taken[i]) * supply[i].price
                        taken[i] = n


def _better(now: tuple[int, int, list[int]], other: tuple[int, int, list[int]]) -> tuple[int, int, list[int]]:
    """The one that matches more, or as much for less; on a tie the one in hand."""
    return other if other[:2] > now[:2] else now


def _gain(supply: Sequence[Supply], window: list[int], counts: list[int], room: dict[int, int]) -> int:
    """kWh that `counts` of the window's classes match in the room the rest of the supply leaves."""
    into: dict[int, int] = {}
    for i, n in zip(window, counts):
        if n:
            for h, kwh in supply[i].mix:
                if h in room:
                    into[h] = into.get(h, 0) + n * kwh
    return sum(min(room[h], kwh) for h, kwh in into.items())


def _candidate(supply: Sequence[Supply], window: list[int], bounds: list[int], values: list[float] | None,
               room: dict[int, int], prices: list[int], left: int | None) -> tuple[int, int, list[int]]:
    """A solve's values, rounded to whole certificates, ranked as (energy, -cost); nothing if over the budget."""
    if values is None:
        return (-1, 0, [])
    counts = [min(u, max(0, math.floor(v + 0.5))) for u, v in zip(bounds, values)]
    cost = sum(n * p for n, p in zip(counts, prices))
    if left is not None and cost > left:
        return (-1, 0, [])
    return (_gain(supply, window, counts, room), -cost, counts)
