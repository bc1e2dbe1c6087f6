"""A covering set's least cost found by a sweep over its hours (the sets of certx.hours.covering, whose docstring
says why each can be solved alone; certx.hours.allocation states the problem).

The set. Hours t = 0..T-1 (its hours that still need energy, in time order) with needs D_t kWh; classes of whole
certificates each wholly inside one hour (1,000 kWh there, interchangeable, the cheapest taken first); and
spanning certificates, each taken or not, whose kWh reach hours first..last of the set.

The sweep. Going through the hours in order, all the past leaves to the hours ahead is which of the spanning
certificates across the sweep's front were taken. So the least cost up to hour t, for each subset of the front,
follows from the one before (dynamic programming): hour t adds the certificates that start there (their price) and
pays for the fewest single-hour certificates, cheapest first, that cover what the spanning ones leave of D_t. At the
end the front is empty and the least cost is the set's, exactly. The work is the number of subsets, 2 to the size
of the front, at each hour.

The relaxation. Where more than FRONT certificates would be across the front, some are cut there into pieces: the
hours before, the hour itself, the hours after (those bringing the hour the least kWh first, then the longest). Each
piece is taken or not on its own at a share of its certificate's price (the shares summing to the price); a piece
of one hour is decided in that hour, a small knapsack with its single-hour certificates. Whatever the shares, that
sweep's least cost is at most the set's (a Lagrangian relaxation: an answer to the set is one to the relaxation at
the same cost), so it bounds the set's cost from below. The shares then move towards the pieces that were taken and
away from the others (subgradient steps of θ·(best answer - bound)/|g|²), which raises the bound, for at most STEPS
sweeps or until the bound is within STOP_GAP of the best answer. Answers come from sweeps with each cut certificate
fixed, taken when its taken pieces hold at least half of its kWh, then bettered one certificate at a time.
Measured on the benchmark's year (loadtest/allocation_bench.py): 38 sets, the largest 1,856 hours and 13,712
classes, fronts of up to 31 certificates; 23 s of CPU in all, the sets' costs within 0.06% of their bounds, where
HiGHS's root nodes left 0.32% in 33 s (and a set of 391 hours given 193 s of branching found an answer dearer than
the sweep's).

A certificate whose kWh reach one hour of the set only is such a piece from the start, at its whole price, so it is
decided exactly. The sweep leaves a set to the caller (HiGHS's root node) where a spanning class holds more than one
certificate (the book's classes never do), where it would cut the certificates into more than PIECES pieces each
(or copy more than CUT times their (hour, kWh) pairs cutting them) or a sweep would keep more than KEPT bytes to go
back, or once a sweep would pass the Budget of WORK. Everything is in a fixed order and reads no clock, so the same
set gives the same answer and bound.
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from certx.hours.curve import KWH

if TYPE_CHECKING:
    from certx.hours.allocation import Supply

FRONT = 16                 # pieces across the front, at most, that the sweep keeps exactly
STEPS = 16                 # sweeps of the relaxation, at most, for one set
STOP_GAP = 0.0005          # a set's bound this near its best answer (relative) ends its steps
# The work the sweeps of one allocation may do in all, counted in subsets of a front and knapsack cells, with COPY
# for each knapsack's and HOUR for each hour's own (about 10 ns each, measured on the benchmark's sets and on fronts
# of 16 at every hour), and PAIR for each (hour, kWh) pair of the spans in each round of an answer's polish: a
# bound that reads no clock, for any set's shape. The benchmark's year does about 2.5 billion.
WORK = 3_000_000_000
HOUR = 5_000
# A copy of few cells costs 7-10 us (160,000 pieces of one hour, 400 an hour: 1.2-1.6 s a sweep); at 500 such
# sweeps did 15-19 ns a step.
COPY = 1_000
PAIR = 200                 # a polish round: 1.7 us a pair (4 rounds over 160,000 one-hour certificates took 1.1 s)
KEPT = 256 * 2**20         # bytes a sweep may keep for going back (the benchmark's sets: 34 MB at most)
THETA = 1.0                # the first step's share of the gap; halved after STALL steps that did not raise the bound
STALL = 2
POLISH = 4                 # rounds of single changes that better an answer
# Pieces a set may be cut into, at most, for each spanning certificate. Where far more certificates span each hour
# than FRONT, nearly all are cut hour by hour: the relaxation is then the weak one of single hours, and the sweeps
# cost more than HiGHS's root node, which bounds such sets better (a month of 3,000 certificates each over 66-133
# hours: 40-80 s, against 4-7 s). The benchmark's densest set has 1.5 pieces a certificate.
PIECES = 2
# (hour, kWh) pairs the cuts may copy, at most, for each pair of the spans. A piece cut at each hour of its own copies
# its hours left each time: 130 certificates over 1,000 hours, with 134,000 others over one hour of the set keeping
# the pieces under PIECES each, took 7 s of cutting (65 million pairs) before the set was refused; the benchmark's
# sets copy 1.14 pairs a pair at most.
CUT = 4


class Span(NamedTuple):
    """A spanning certificate of the set: its position in the set's classes, its kWh in each of its hours (t),
    and its price (fen)."""

    k: int
    kwh: dict[int, int]
    price: int


class Piece(NamedTuple):
    """Part of a span: the span (index), its kWh in consecutive hours of the set, and its first and last hour."""

    span: int
    kwh: dict[int, int]
    first: int
    last: int


class Budget:
    """The work the sweeps of one allocation have left (see WORK)."""

    def __init__(self, left: int | None = None) -> None:
        self.left = WORK if left is None else left

    def spend(self, work: int) -> bool:
        """Whether `work` is left; if so, it is spent."""
        if work > self.left:
            return False
        self.left -= work
        return True


class Found(NamedTuple):
    """The sweep's result: the bound on the set's least cost (fen), and the cheapest whole answer found (counts
    in the set's classes' order, empty if none) with its cost."""

    bound: float
    counts: list[int]
    cost: int


class _Pass(NamedTuple):
    value: float                       # the sweep's least cost (the bound, for a relaxed sweep)
    taken: dict[int, int]              # piece -> 0/1
    residual: list[int]                # kWh each hour left to its single-hour certificates


def least(supply: Sequence[Supply], classes: list[int], upper: list[int], need: Sequence[int],
          ceiling: int, budget: Budget) -> Found | None:
    """The set of `classes` (supply indices; `upper` their most useful counts) covering `need` (kWh by hour of the
    load, > 0 where the set must cover): the bound on its least cost and its best answer found, the steps ending
    once the bound is near `ceiling` (fen, an answer already in hand) or the best found; None when the sweep does
    not take the set (see the module docstring) or `budget` has not enough left for one sweep."""
    hours = sorted({h for i in classes for h, _ in supply[i].mix if 0 <= h < len(need) and need[h] > 0})
    at = {h: t for t, h in enumerate(hours)}
    singles: list[list[tuple[int, int, int]]] = [[] for _ in hours]        # (price, count, k) by hour
    spans: list[Span] = []
    for k, i in enumerate(classes):
        reach = {at[h]: kwh for h, kwh in supply[i].mix if h in at}
        if not reach or not upper[k]:
            continue
        if len(supply[i].mix) == 1:                                          # 1,000 kWh in one hour
            singles[next(iter(reach))].append((supply[i].price, upper[k], k))
        elif upper[k] != 1:
            return None
        else:
            spans.append(Span(k, reach, supply[i].price))
    pieces = _cut([need[h] for h in hours], spans)
    if pieces is None:
        return None
    return _Sweep([need[h] for h in hours], singles, spans, pieces).run(len(classes), ceiling, budget)


def _piece(span: int, kwh: dict[int, int]) -> Piece:
    return Piece(span, kwh, min(kwh), max(kwh))


def _cut(need: list[int], spans: list[Span]) -> list[Piece] | None:
    """Each span as one piece, cut where more than FRONT pieces would be across the front: at such an hour the
    pieces there that bring it the least kWh go first, then the longest, then the latest; each is cut into the hours
    before, the hour itself (a piece of one hour, if it brings any) and the hours after. None past PIECES, or once
    the cuts have copied more than CUT pairs for each of the spans'."""
    pieces = [_piece(n, s.kwh) for n, s in enumerate(spans)]
    most = PIECES * len(spans)
    copying = CUT * sum(len(s.kwh) for s in spans)
    starting: list[list[int]] = [[] for _ in need]
    for p, piece in enumerate(pieces):
        if piece.first < piece.last:
            starting[piece.first].append(p)
    live: list[int] = []
    for t in range(len(need)):
        live = [p for p in live if pieces[p].last >= t] + starting[t]
        if len(live) <= FRONT:
            continue
        live.sort(key=lambda p: (pieces[p].kwh.get(t, 0), t - pieces[p].last, p))
        for p in live[:len(live) - FRONT]:
            piece = pieces[p]
            copying -= len(piece.kwh)
            before = {h: kwh for h, kwh in piece.kwh.items() if h < t}
            after = {h: kwh for h, kwh in piece.kwh.items() if h > t}
            parts = [part for part in (before, {t: piece.kwh[t]} if t in piece.kwh else {}, after) if part]
            pieces[p] = _piece(piece.span, parts[0])
            for part in parts[1:]:
                pieces.append(_piece(piece.span, part))
                if pieces[-1].first < pieces[-1].last:        # it starts after t: it joins the front there
                    starting[pieces[-1].first].append(len(pieces) - 1)
            if len(pieces) > most or copying < 0:
                return None
        live = [p for p in live if pieces[p].first <= t <= pieces[p].last and pieces[p].first < pieces[p].last]
    return pieces


class _Sweep:
    """The set's needs, single-hour certificates and spans, the spans cut into pieces where the front is full."""

    def __init__(self, need: list[int], singles: list[list[tuple[int, int, int]]], spans: list[Span],
                 pieces: list[Piece]) -> None:
        self.need, self.spans = need, spans
        self.singles = [sorted(row, key=lambda s: s[0]) for row in singles]   # stable: the classes' order on a tie
        self.brings = [0] * len(need)                                  # kWh the spans can bring each hour
        for span in spans:
            for t, kwh in span.kwh.items():
                self.brings[t] += kwh
        # each hour needs at least (need - brings) // KWH of its single-hour certificates: the costs from there on
        self.first = [max(0, (d - b) // KWH) for d, b in zip(need, self.brings)]
        self.cheapest = [_cheapest(row, first, -(-d // KWH))
                         for row, first, d in zip(self.singles, self.first, need)]
        self.pieces = pieces
        self.of: list[list[int]] = [[] for _ in spans]                 # each span's pieces
        for p, piece in enumerate(self.pieces):
            self.of[piece.span].append(p)
        self.split = [n for n, ps in enumerate(self.of) if len(ps) > 1]
        self.order = {p: (-piece.last, p) for p, piece in enumerate(self.pieces)}   # the front's order (_pass)
        whole = [p for p in range(len(self.pieces)) if len(self.of[self.pieces[p].span]) == 1]
        self.lists = {False: self._lists(range(len(self.pieces))), True: self._lists(whole)}
        (self.work, self.kept), (self.work_fixed, _) = (self._cost(*self.lists[fixed]) for fixed in (False, True))

    def _cost(self, starting: list[list[int]], copies: list[list[int]]) -> tuple[int, int]:
        """One sweep's work and the bytes it keeps for going back, at most. Its work: at each hour the front's
        subsets, the knapsack's cells (its width, what the pieces there can bring, and COPY, once for the
        single-hour certificates and once for each copy), and HOUR. What it keeps: each hour's choices over the
        bits that end there (fewer than its subsets) and its copies' take arrays (one byte a cell)."""
        ends = [0] * (len(self.need) + 1)
        brings = self.brings
        for ps in starting:
            for p in ps:
                ends[self.pieces[p].last + 1] += 1
        work, kept, front = 0, 0, 0
        for t, need in enumerate(self.need):
            front += len(starting[t]) - ends[t]
            width = min(need, brings[t]) + 1
            work += (1 << front) + (1 + len(copies[t])) * (width + COPY) + HOUR
            kept += (1 << front) + len(copies[t]) * width
        return work, kept

    def _lists(self, pieces: Iterable[int]) -> tuple[list[list[int]], list[list[int]]]:
        """The pieces that join the front at each hour (those over two hours or more) and each hour's copies
        (those in one hour, decided there in its knapsack)."""
        starting: list[list[int]] = [[] for _ in self.need]
        copies: list[list[int]] = [[] for _ in self.need]
        for p in pieces:
            piece = self.pieces[p]
            (copies if piece.first == piece.last else starting)[piece.first].append(p)
        return starting, copies

    def run(self, count: int, ceiling: int, budget: Budget) -> Found | None:
        """The bound and the best answer (see the module docstring), or None if `budget` has not one sweep or a
        sweep would keep more than KEPT bytes."""
        if self.kept > KEPT or not budget.spend(self.work):
            return None
        if not self.split:
            exact = self._pass({}, {})
            counts, cost = self._answer(exact, {}, count, budget)
            return Found(exact.value, counts, cost)
        spans, pieces = self.spans, self.pieces
        shares = {}
        for n in self.split:
            total = sum(spans[n].kwh.values())
            for p in self.of[n]:
                shares[p] = spans[n].price * sum(pieces[p].kwh.values()) / total
        bound, best, theta, stalled = -math.inf, None, THETA, 0
        tried: list[dict[int, int]] = []
        for sweeps in range(STEPS):
            if sweeps and not budget.spend(self.work):
                break
            relaxed = self._pass(shares, None)
            if relaxed.value > bound:
                bound, stalled = relaxed.value, 0
            else:
                stalled += 1
                if stalled >= STALL:
                    theta, stalled = theta / 2, 0
            fixed = {n: int(2 * sum(sum(pieces[p].kwh.values()) for p in self.of[n] if relaxed.taken[p])
                            >= sum(spans[n].kwh.values())) for n in self.split}
            if fixed not in tried and budget.spend(self.work_fixed):    # the same rounding gives the same answer
                tried.append(fixed)
                answer = self._pass({}, fixed)
                if math.isfinite(answer.value):
                    counts, cost = self._answer(answer, fixed, count, budget)
                    if best is None or cost < best[1]:
                        best = (counts, cost)
            top = min(ceiling, best[1]) if best is not None else ceiling
            if top - bound <= STOP_GAP * top:
                break
            moves, norm = {}, 0.0
            for n in self.split:
                mean = sum(relaxed.taken[p] for p in self.of[n]) / len(self.of[n])
                for p in self.of[n]:
                    moves[p] = relaxed.taken[p] - mean
                    norm += moves[p] ** 2
            if norm == 0:                    # every piece agreed: that answer is the relaxation's, so optimal
                break
            step = theta * max(top - relaxed.value, 1.0) / norm
            for p, move in moves.items():
                shares[p] += step * move
        if best is None:
            return Found(bound, [], 0)
        return Found(bound, *best)

    def _pass(self, shares: dict[int, float], fixed: dict[int, int] | None) -> _Pass:
        """One sweep: the pieces of the cut spans priced by `shares`, or, with `fixed`, those spans taken as it
        says. Its least cost and, by going back, what it took.

        The front's subsets are a flat array, the front's pieces latest ending first, the first one's bit the most
        significant: a piece that starts (and so ends late) goes in near the top, where numpy's loops are long,
        and the pieces that end at an hour are the lowest bits, whose least is taken a bit at a time."""
        pieces, steps = self.pieces, []
        starting, copying = self.lists[fixed is not None]
        given = [0] * len(self.need)                  # kWh the fixed spans bring
        value = 0.0
        for n, x in (fixed or {}).items():
            if x:
                value += self.spans[n].price
                for t, kwh in self.spans[n].kwh.items():
                    given[t] += kwh
        front: list[int] = []
        cost = np.zeros(1)
        for t, need in enumerate(self.need):
            for p in starting[t]:                     # each new piece's axis goes in at its place in the order
                at = bisect.bisect(front, self.order[p], key=self.order.__getitem__)
                price = shares.get(p, self.spans[pieces[p].span].price)
                cost = (cost.reshape(1 << at, 1, -1) + np.array([0.0, price])[None, :, None]).ravel()
                front.insert(at, p)
            brought = _sums([pieces[p].kwh.get(t, 0) for p in front])
            r0 = need - given[t]
            copies = [(p, pieces[p].kwh[t], shares.get(p, self.spans[pieces[p].span].price)) for p in copying[t]]
            low = max(0, r0 - int(brought[-1]) - sum(a for _, a, _ in copies))   # brought[-1]: all of them
            table, takes = _hour(self.cheapest[t], self.first[t], low, max(r0, low), copies)
            cost = cost + table[np.maximum(r0 - brought, low) - low]
            cost, chosen = _halve(cost, sum(1 for p in front if pieces[p].last == t))
            steps.append((front, chosen, low, takes, r0))
            front = front[:len(front) - len(chosen)]
        value += float(cost[0])
        taken: dict[int, int] = {}
        residual = [0] * len(self.need)
        row = 0                                       # the subset of the front after hour t, as its index
        for t in range(len(self.need) - 1, -1, -1):
            front, chosen, low, takes, r0 = steps[t]
            whole = row
            for bits in reversed(chosen):
                whole = (whole << 1) | int(bits[whole])
            brought, row, bit = 0, 0, len(front)
            for p in front:
                bit -= 1
                x = (whole >> bit) & 1
                taken[p] = x
                brought += x * pieces[p].kwh.get(t, 0)
                if pieces[p].first < t:               # carried from the hour before: its bit in that front
                    row = (row << 1) | x
            r = max(r0 - brought, low)
            for p, a, take in reversed(takes):
                taken[p] = int(take[r - low])
                if take[r - low]:
                    r = max(r - a, 0)
            residual[t] = max(r, 0)
        return _Pass(value, taken, residual)

    def _answer(self, done: _Pass, fixed: dict[int, int], count: int, budget: Budget) -> tuple[list[int], int]:
        """A fixed sweep's answer, bettered span by span (`_polish`, paid from `budget`), as counts of the set's
        classes, and its cost (fen)."""
        x = [fixed[n] if n in fixed else done.taken[self.of[n][0]] for n in range(len(self.spans))]
        residual = self._polish(x, budget)
        counts, cost = [0] * count, 0
        for n, s in enumerate(self.spans):
            counts[s.k] = x[n]
            cost += x[n] * s.price
        for t, r in enumerate(residual):
            left = -(-max(r, 0) // KWH)
            for price, n, k in self.singles[t]:
                counts[k] = min(n, left)
                left -= counts[k]
                cost += counts[k] * price
        return counts, cost

    def _polish(self, x: list[int], budget: Budget) -> list[int]:
        """Spans taken or left, one at a time in order, while that lowers the cost (each hour then takes the
        fewest cheapest single-hour certificates it needs), for at most POLISH rounds, each while `budget` has
        PAIR for each pair of the spans; the kWh each hour is left to its single-hour certificates."""
        residual = list(self.need)
        for n, s in enumerate(self.spans):
            if x[n]:
                for t, kwh in s.kwh.items():
                    residual[t] -= kwh
        cheapest, first = self.cheapest, self.first

        def hour(t: int, r: int) -> float:
            n = -(-max(r, 0) // KWH) - first[t]                # r is at least need - brings: n >= 0
            return float(cheapest[t][n]) if n < len(cheapest[t]) else math.inf

        pairs = sum(len(s.kwh) for s in self.spans)
        for _ in range(POLISH):
            if not budget.spend(PAIR * pairs):
                break
            better = False
            for n, s in enumerate(self.spans):
                sign = -1 if x[n] else 1                   # take it (kWh off the residual) or leave it
                change = sign * s.price
                for t, kwh in s.kwh.items():
                    change += hour(t, residual[t] - sign * kwh) - hour(t, residual[t])
                if change < 0:
                    x[n] = 1 - x[n]
                    for t, kwh in s.kwh.items():
                        residual[t] -= sign * kwh
                    better = True
            if not better:
                break
        return residual


def _cheapest(row: list[tuple[int, int, int]], first: int, most: int) -> np.ndarray:
    """The cost of the n cheapest of an hour's single-hour certificates (`row`, (price, count, k) by price), for
    n = `first` up to all of them or `most`, the most the hour can need: never the whole row's certificates, which
    a hostile hour's need of 10^9 kWh and classes of 10^6 each would make gigabytes."""
    prices = np.array([p for p, _, _ in row], dtype=np.int64)
    cum = np.minimum(np.cumsum([min(n, most) for _, n, _ in row], dtype=np.int64), most)   # certificates so far
    spent = np.concatenate(([0], np.cumsum(np.diff(cum, prepend=0) * prices)))
    top = int(cum[-1]) if row else 0
    n = np.arange(first, max(top, first) + 1)               # one entry at least: past `top` it is out of reach
    k = np.searchsorted(cum, n)                             # the class of the n-th cheapest (k = 0 for n = 0)
    cost = (spent[k] + (n - np.concatenate(([0], cum))[k]) * np.append(prices, 0)[k]).astype(float)
    cost[n > top] = np.inf
    return cost


def _sums(values: list[int]) -> np.ndarray:
    """The sums of every subset of `values`, in the order of the subsets' bits with the first value the most
    significant: the sweep's layout of a front."""
    out = np.empty(1 << len(values), dtype=np.int32)      # a front's kWh in one hour: at most FRONT * 1,000
    out[0], size = 0, 1
    for v in reversed(values):
        np.add(out[:size], v, out=out[size:2 * size])
        size *= 2
    return out


def _halve(cost: np.ndarray, ending: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The least of `cost` over its `ending` lowest bits, one bit at a time, and for each bit where taking it
    was cheaper (a tie leaves it out), for going back."""
    chosen = []
    for _ in range(ending):
        pairs = cost.reshape(-1, 2)
        chosen.append(pairs[:, 1] < pairs[:, 0])
        cost = np.minimum(pairs[:, 0], pairs[:, 1])
    return cost, chosen


def _hour(cheapest: np.ndarray, first: int, low: int, high: int, copies: list[tuple[int, int, float]]
          ) -> tuple[np.ndarray, list[tuple[int, int, np.ndarray]]]:
    """The least cost of covering r kWh of one hour, r = low..high: the fewest single-hour certificates
    (`cheapest`, the cost of the n cheapest from n = `first`, at most ⌈low / KWH⌉) with, for each copy there
    (piece, kWh, share), the choice of taking it at its share (a 0/1 knapsack; each take array says where taking it
    was cheaper, for going back). Taking a copy reads the table kWh lower, at most down to 0 kWh: below low + the
    copies' kWh the table may be too high, and the sweep never reads there."""
    n = -(-np.arange(low, high + 1) // KWH) - first          # single-hour certificates needed for r kWh
    table = np.full(len(n), np.inf)
    np.take(cheapest, n, out=table, mode="clip")
    table[n >= len(cheapest)] = np.inf                       # more than the hour has
    takes = []
    for piece, kwh, share in copies:
        alternative = np.empty_like(table)
        shift = min(kwh, len(table))
        alternative[:shift] = table[0]                       # r - kWh at or below low (0 kWh when low is 0)
        alternative[shift:] = table[:len(table) - shift]
        alternative += share
        take = alternative < table
        np.minimum(table, alternative, out=table)
        takes.append((piece, kwh, take))
    return table, takes
