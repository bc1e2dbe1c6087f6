"""One HiGHS program of the 24/7 allocation (certx.hours.allocation, whose docstring states the problem): the
classes' whole certificates against the hours' room, solved for the most energy, then for the least cost, with
the fixed settings (OPTIONS) that make the answer a function of the input.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import highspy
import numpy as np

from certx.hours.curve import KWH

if TYPE_CHECKING:
    from certx.hours.allocation import Supply

MIP_REL_GAP = 0.001             # "optimal or within a 0.1% gap" (issue 13)
MIP_MAX_NODES = 2_000           # branch-and-bound nodes per solve: a bound on the work that does not read a clock
# ... and no more nodes than this over the program's nonzeros ((hour, kWh) pairs and the budget's): each node
# solves an LP as wide as the program again, some 0.25 us a nonzero, so a dense program pays for every node many
# times over. The red team's whole MIP of 1,500 classes of one certificate over 66 of 200 hours (96,148 pairs)
# took 47 s of CPU for its 2,000 nodes; with 104 nodes, 9.5 s, the cost 0.37% from its bound (0.25% before).
NODE_PAIRS = 10_000_000
# (hour, kWh) pairs up to which a program over many classes is solved as a MIP; beyond, its LP relaxation alone. A
# MIP's root node has no bound on its work but the MIP's size, and dense ones are slow: 3,000 classes over 66 hours
# each of a month (198,000 pairs) took over 300 s as the whole MIP and 76 s as one covering set; 3,000 over 33 hours
# took 0.9 s, 1,500 over 66 0.3 s, year()'s 2,889 classes (44,843 pairs) 1.1 s; the benchmark's largest covering set
# has 25,007. The time is not monotone in the size (3,000 over 100 hours: 0.6 s), so this bounds what was measured.
MIP_PAIRS = 100_000

OPTIONS: dict[str, object] = {
    "output_flag": False,
    "threads": 1,
    "parallel": "off",
    "random_seed": 0,
    "presolve": "on",
    "simplex_strategy": 1,             # dual simplex, serial
    "mip_rel_gap": MIP_REL_GAP,
    "mip_max_nodes": MIP_MAX_NODES,
}
_STOPPED = {highspy.HighsModelStatus.kSolutionLimit, highspy.HighsModelStatus.kIterationLimit}   # the node limit


class Program:
    """One HiGHS program over `members` (supply indices), with the rest of the supply fixed, which only lowers
    the loads to `room` (kWh each hour can still match). Energy in MWh and money in yuan, so that the
    coefficients sit near 1. Columns x_c (certificates; integer when `integral`) then y_h (MWh matched in each
    hour that a member reaches); rows y_h - Σ_c m_c,h·x_c ≤ 0, then the budget's. `settings` change some of OPTIONS
    for this program."""

    def __init__(self, supply: Sequence[Supply], members: list[int], upper: list[int], room: dict[int, int],
                 budget: int | None, integral: bool, settings: dict[str, object] | None = None) -> None:
        self.members, self.integral = members, integral
        self.prices = [supply[i].price / 100 for i in members]
        rows: dict[int, int] = {}
        starts, index, value = [0], [], []
        for i in members:
            for h, kwh in supply[i].mix:
                if room.get(h, 0) > 0:
                    index.append(rows.setdefault(h, len(rows)))
                    value.append(-kwh / KWH)
            if budget is not None:
                index.append(-1)                              # the budget row, numbered once the rows are known
                value.append(supply[i].price / 100)
            starts.append(len(index))
        n, m = len(members), len(rows)
        index = [m if r < 0 else r for r in index]
        for r in range(m):
            index.append(r)
            value.append(1.0)
            starts.append(len(index))
        self.columns = n + m
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n + m, m + (budget is not None)
        lp.col_cost_ = np.array([0.0] * n + [1.0] * m)
        lp.col_lower_ = np.zeros(n + m)
        lp.col_upper_ = np.array([float(u) for u in upper] + [room[h] / KWH for h in rows])
        lp.row_lower_ = np.full(lp.num_row_, -highspy.kHighsInf)
        lp.row_upper_ = np.array([0.0] * m + ([budget / 100] if budget is not None else []))
        lp.sense_ = highspy.ObjSense.kMaximize
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value)
        if integral:
            lp.integrality_ = [highspy.HighsVarType.kInteger] * n + [highspy.HighsVarType.kContinuous] * m
        self.h = highspy._Highs()  # the core class: the public wrapper prints a banner before options can stop it
        self.nonzeros = len(index)
        self.work = 0                       # simplex iterations x nonzeros over its solves: what it cost, no clock
        options = OPTIONS | (settings or {})
        options["mip_max_nodes"] = max(1, min(options["mip_max_nodes"], NODE_PAIRS // max(self.nonzeros, 1)))
        for name, option in options.items():
            self.h.setOptionValue(name, option)
        self.h.setOptionValue("solver", "choose" if integral else "simplex")
        self.h.passModel(lp)
        self.energy_row: int | None = None

    def most_energy(self) -> tuple[list[float] | None, float | None]:
        """The first solve: the members' values and the bound on the energy they add (kWh)."""
        return self._run(KWH)

    def least_cost(self, energy: float) -> tuple[list[float] | None, float | None]:
        """The second solve, again with another `energy` (kWh) as often as asked: the members' values and the
        bound on their cost (fen) when they add at least `energy`."""
        h, n = self.h, len(self.members)
        if self.energy_row is None:
            h.changeObjectiveSense(highspy.ObjSense.kMinimize)
            h.changeColsCost(self.columns, np.arange(self.columns, dtype=np.int32),
                             np.array(self.prices + [0.0] * (self.columns - n)))
            h.addRow(energy / KWH, highspy.kHighsInf, self.columns - n,
                     np.arange(n, self.columns, dtype=np.int32), np.ones(self.columns - n))
            self.energy_row = h.getNumRow() - 1
        else:
            h.changeRowBounds(self.energy_row, energy / KWH, highspy.kHighsInf)
        return self._run(100)

    def _run(self, unit: int) -> tuple[list[float] | None, float | None]:
        h = self.h
        h.run()
        status, info = h.getModelStatus(), h.getInfo()
        self.work += max(info.simplex_iteration_count, 0) * self.nonzeros
        optimal = status == highspy.HighsModelStatus.kOptimal
        # a MIP's dual bound holds wherever its search stopped; an LP's objective is a bound only when optimal
        bound = info.mip_dual_bound * unit if self.integral else info.objective_function_value * unit
        if not (optimal or self.integral and status in _STOPPED):
            bound = math.nan
        found = optimal or (self.integral and info.primal_solution_status == 2)   # 2: a feasible incumbent
        values = list(h.getSolution().col_value[:len(self.members)]) if found else None
        return values, bound if math.isfinite(bound) else None
