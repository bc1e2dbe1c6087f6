"""Trades that add up exactly to an official day: volume to the unit, value to the fen.

A day's statistics are sums (DOMAIN D3-D5): listing volume and value, block volume and value, auction volume and
value. Any set of trades with the right sums, the right first price (the open) and the right extremes (the high
and the low) gives the official day, and the close follows, since the engine computes it as the listing VWAP
rounded half-up. So each solver here draws a realistic head of trades (a price path with noise, sizes from a
lognormal, most in round lots), steers the head's prices until what is left has its mean price near the close,
and ends with a tail solved exactly:

- listing and auctions: the two neighbouring fen prices around the tail's mean. If the tail must be worth
  V·m + r fen for V units (0 <= r < V), r units at m + 1 and V - r at m are exactly that, and both prices lie
  within [low, high] whenever the mean does. Always solvable, whatever the figures;
- block: every offer must trade at least the block minimum (S1), so the tail is one or two offers whose
  quantities are solved for their prices: pa·qa + pb·(V - qa) = X has the integer solution
  qa = (X - pb·V) / (pa - pb) whenever pa - pb divides X - pb·V, searched over small price gaps.

Pure functions of a seeded `random.Random`: the same seed gives the same trades.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

from certx.rules import DEFAULT

# S1, from the rule table: a CEA listing order's largest size and a block offer's smallest.
LISTING_MAX = DEFAULT.cea.listing_sizes.maximum
BLOCK_MIN = DEFAULT.cea.block_sizes.minimum
BLOCK_MAX = 3_000_000          # the largest single block trade drawn (the files' busiest days need no more)


def neighbours(volume: int, value: int) -> list[tuple[int, int]]:
    """`volume` units worth exactly `value` fen at two neighbouring prices: r units at m + 1, the rest at m,
    where value = m·volume + r. One price when the mean is a whole fen."""
    m, r = divmod(value, volume)
    return [(p, q) for p, q in ((m + 1, r), (m, volume - r)) if q]


def spread(rng: random.Random, total: int, n: int, lo: int, hi: int, *, sigma: float = 0.9,
           unit: int = 1) -> list[int]:
    """`n` sizes within [lo, hi] adding up to `total`, lognormal, three in four rounded to `unit`."""
    if not n * lo <= total <= n * hi:
        raise ValueError(f"{total} does not split into {n} sizes within [{lo}, {hi}]")
    weights = [rng.lognormvariate(0.0, sigma) for _ in range(n)]
    scale = total / sum(weights)
    sizes = []
    for w in weights:
        q = w * scale
        if unit > 1 and rng.random() < 0.75:
            q = round(q / unit) * unit
        sizes.append(min(hi, max(lo, int(q))))
    residue = total - sum(sizes)
    for k in sorted(range(n), key=lambda k: -sizes[k]):        # the residue goes to the largest first
        if not residue:
            break
        room = hi - sizes[k] if residue > 0 else lo - sizes[k]
        step = min(residue, room) if residue > 0 else max(residue, room)
        sizes[k] += step
        residue -= step
    return sizes


def pieces(rng: random.Random, quantity: int, maximum: int) -> list[int]:
    """One trade's quantity cut into trades of at most `maximum` (S1), in round hundreds where it can."""
    if quantity <= maximum:
        return [quantity]
    n = -(-quantity // (maximum - maximum // 10))
    return spread(rng, quantity, n, 1, maximum, sigma=0.3, unit=100)


def steer(rng: random.Random, trades: list[list[int]], goal: int, low: int, high: int, pinned: set[int],
          limits: tuple[int | None, ...] = (12, 60, None)) -> int:
    """Move the prices of the unpinned trades within [low, high] until their value reaches `goal` fen, or as
    near as the prices allow: first by small steps (the path keeps its shape), then by any. Returns what is
    still missing (goal - value). Quantities never change."""
    free = [i for i in range(len(trades)) if i not in pinned]
    missing = goal - sum(p * q for p, q in trades)
    for limit in limits:
        order = free[:]
        rng.shuffle(order)
        for i in order:
            if not missing:
                return 0
            p, q = trades[i]
            step = max(low - p, min(high - p, round(missing / q)))
            if limit is not None:
                step = max(-limit, min(limit, step))
            trades[i][0] = p + step
            missing -= q * step
    return missing


# --- listing ----------------------------------------------------------------------------------------------

def trade_count(volume: int, marks: int, maximum: int) -> int:
    """How many listing trades a day of `volume` has: one per ~7,500 t (from 6 to 140), most of them at least
    100 t, never fewer than its marks (open, high, low) nor than the size cap allows."""
    n = max(6, min(140, volume // 7_500))
    n = min(n, max(1, volume // 100))
    return min(volume, max(n, marks, -(-volume // (maximum - maximum // 10)) + 2))


def _path(rng: random.Random, n: int, first: int, marks: list[int], close: int, low: int, high: int
          ) -> tuple[list[int], set[int]]:
    """`n` prices: the first at `first`, each mark reached once at a place of its own, drifting towards the close
    at the end, with noise; every price within [low, high]. Returns the prices and the pinned places."""
    places = sorted(rng.sample(range(1, n), len(marks))) if marks else []
    if len(places) == 2 and rng.random() < 0.5:
        marks = marks[::-1]
    ends = [(0, first)] + list(zip(places, marks))
    if ends[-1][0] < n - 1:
        ends.append((n - 1, close))
    prices = [first] * n
    for (i0, p0), (i1, p1) in zip(ends, ends[1:]):
        for i in range(i0, i1 + 1):
            prices[i] = round(p0 + (p1 - p0) * (i - i0) / max(1, i1 - i0))
    pinned = {0, *places}
    for i in range(1, n):
        if i in pinned:
            continue
        if i - 1 not in pinned and rng.random() < 0.12:
            prices[i] = prices[i - 1]                          # now and then the same price again
        else:
            prices[i] = min(high, max(low, prices[i] + round(rng.gauss(0, 7))))
    for i, mark in zip(places, marks):
        prices[i] = mark
    return prices, pinned


def listing_trades(rng: random.Random, volume: int, value: int, *, open_: int, high: int, low: int,
                   close: int, maximum: int = LISTING_MAX) -> list[tuple[int, int]]:
    """(price, quantity) of every listing trade of a day, in order: the first at the open (D3), the extremes at
    the high and the low, `volume` units worth `value` fen in all, each within 1..`maximum` (S1). The last
    trades sit at the two fen prices around the mean of what is left, which the head is steered to bring
    near the close.

    Three tries, the last of which always succeeds on real figures: (1) the drawn head; (2) the marks (open,
    high, low) traded a unit each, so that the free trades can carry the value; (3) only the marks, a unit
    each, and the rest in the tail: whatever the real day traded beyond one unit at each mark was priced
    within [low, high], so the rest's mean is too."""
    if not volume:
        return []
    if not (low <= open_ <= high and low * volume <= value <= high * volume):
        raise ValueError(f"{volume} units for {value} fen cannot open at {open_} within [{low}, {high}]")
    marks = [m for m in dict.fromkeys((high, low)) if m != open_]
    cap = maximum - maximum // 10               # room for the tail's pieces
    n = trade_count(volume, 1 + len(marks), maximum)
    head_n = max(1 + len(marks), n - 2)
    tail = rng.randint(30_000, 90_000) if volume > 400_000 else volume // 10
    tail = max(0 if volume == head_n else 1, min(tail, volume - head_n))
    prices, pinned = _path(rng, head_n, open_, marks, close, low, high)
    free = [i for i in range(head_n) if i not in pinned]
    sizes = spread(rng, volume - tail, head_n, 1, cap, sigma=0.95, unit=100)
    tries = [sizes]
    spare = volume - tail - len(pinned)
    if free and len(free) <= spare <= len(free) * maximum:
        small = [1] * head_n
        for i, s in zip(free, spread(rng, spare, len(free), 1, maximum, unit=100)):
            small[i] = s
        tries.append(small)
    for sizes in tries:
        head = [[p, q] for p, q in zip(prices, sizes)]
        rest = volume - sum(sizes)
        goal = min(value - rest * low, max(value - rest * high, value - rest * close))
        steer(rng, head, goal, low, high, pinned)
        out = _with_tail(rng, head, volume, value, low, high, maximum)
        if out is not None:
            return out
    out = _with_tail(rng, _marks_alone(open_, high, low), volume, value, low, high, maximum)
    if out is None:
        raise ValueError(f"no listing trades give {volume} units for {value} fen within [{low}, {high}]")
    return out


def marks_fit(volume: int, value: int, open_: int, high: int, low: int) -> bool:
    """Whether `listing_trades` can meet these marks: the open, high and low traded a unit each leave the rest a
    mean within [low, high] (its last try). Not so when the day's mean sits on a mark with the others beyond it:
    10,000 units worth 85,500,000 fen cannot open at 85.60 with a low of 85.50."""
    head = _marks_alone(open_, high, low)
    rest_volume, rest_value = volume - sum(q for _, q in head), value - sum(p * q for p, q in head)
    return rest_value == 0 if rest_volume == 0 else low * rest_volume <= rest_value <= high * rest_volume


def _marks_alone(open_: int, high: int, low: int) -> list[list[int]]:
    return [[open_, 1]] + [[m, 1] for m in dict.fromkeys((high, low)) if m != open_]


def _with_tail(rng: random.Random, head: list[list[int]], volume: int, value: int, low: int, high: int,
               maximum: int) -> list[tuple[int, int]] | None:
    """The head and the exact tail after it, or None if the tail's mean falls outside [low, high]."""
    tail_volume = volume - sum(q for _, q in head)
    tail_value = value - sum(p * q for p, q in head)
    if tail_volume == 0:
        return [(p, q) for p, q in head] if tail_value == 0 else None
    if not low * tail_volume <= tail_value <= high * tail_volume:
        return None
    out = [(p, q) for p, q in head if q]
    for price, quantity in neighbours(tail_volume, tail_value):
        out += [(price, q) for q in pieces(rng, quantity, maximum)]
    return out


# --- block ------------------------------------------------------------------------------------------------

@dataclass
class BlockOffer:
    price: int
    accepts: list[int]                         # the quantities accepted, in order (each a trade)
    leftover: int = 0                          # offered but never taken (expires, or is withdrawn)


def block_pair(volume: int, value: int, low: int, high: int, minimum: int = BLOCK_MIN,
               gaps: int = 400) -> list[tuple[int, int]] | None:
    """One or two block trades of at least `minimum` each, within [low, high], worth exactly `value` fen.
    Two trades at pb + d and pb: qa = (value - pb·volume) / d, searched over small gaps d first."""
    if value % volume == 0 and low <= value // volume <= high:
        return [(value // volume, volume)]
    if volume < 2 * minimum:
        return None
    mean = value / volume
    for d in range(1, gaps + 1):
        lo = max(low, -(-(value - (volume - minimum) * d) // volume))
        hi = min(high - d, (value - minimum * d) // volume)
        for pb in sorted(range(lo, hi + 1), key=lambda p: abs(p + d / 2 - mean)):
            num = value - pb * volume
            if num % d == 0:
                qa = num // d
                return [(pb + d, qa), (pb, volume - qa)]
    return None


def block_offers(rng: random.Random, volume: int, value: int, *, low: int, high: int,
                 minimum: int = BLOCK_MIN) -> list[BlockOffer]:
    """Block offers whose accepted quantities add up to `volume` worth `value` fen, every price within the
    block band [low, high] (B2), every offer trading at least `minimum` (S1)."""
    if not volume:
        return []
    if volume < minimum or not low * volume <= value <= high * volume:
        raise ValueError(f"{volume} units for {value} fen do not fit block offers within [{low}, {high}]")
    mean = value / volume
    sd = max(5.0, mean * 0.025)
    for attempt in range(30):
        tail = volume
        if volume >= 5 * minimum and attempt < 25:
            tail = min(volume, rng.randint(3, 9) * minimum)
            if volume - tail < minimum:
                tail = volume
        head_volume = volume - tail
        offers: list[BlockOffer] = []
        if head_volume:
            n = max(1, min(head_volume // minimum, round(head_volume / rng.uniform(250_000, 500_000))))
            n = max(n, -(-head_volume // BLOCK_MAX))
            sizes = spread(rng, head_volume, n, minimum, BLOCK_MAX, sigma=0.8, unit=10_000)
            cells = [[min(high, max(low, round(rng.gauss(mean, sd)))), q] for q in sizes]
            goal = round(value - tail * mean)
            steer(rng, cells, goal, low, high, set(), limits=(round(sd), None))
            offers = [BlockOffer(p, [q]) for p, q in cells]
        tail_value = value - sum(o.price * o.accepts[0] for o in offers)
        solved = block_pair(tail, tail_value, low, high, minimum)
        if solved is not None:
            offers += [BlockOffer(p, [q]) for p, q in solved]
            rng.shuffle(offers)
            for o in offers:                             # some offers are taken in two parts
                q = o.accepts[0]
                if q >= 2 * minimum and rng.random() < 0.2:
                    first = rng.randint(minimum // 10_000, (q - minimum) // 10_000) * 10_000
                    o.accepts = [first, q - first]
            return offers
    raise ValueError(f"no block offers give {volume} units for {value} fen within [{low}, {high}]")


# --- one-way bidding -------------------------------------------------------------------------------------

def auction_bids(rng: random.Random, volume: int, value: int) -> list[tuple[int, int]]:
    """(price, quantity) of the winning bids of an auction that sold `volume` units for `value` fen: a few bids
    near the mean, and two at the neighbouring fen prices around what is left (M3: each bid pays its own
    price). Every bid at most the auction's quantity (it is)."""
    if not volume:
        return []
    mean = value / volume
    head_n = min(volume // 1_000, rng.randint(0, 4))
    if not head_n:
        return neighbours(volume, value)
    low, high = math.floor(mean * 0.985), math.ceil(mean * 1.015)
    for _ in range(10):
        tail = max(1, round(volume * rng.uniform(0.2, 0.4)))
        sizes = spread(rng, volume - tail, head_n, 1, volume, sigma=0.6, unit=1_000)
        head = [[rng.randint(low, high), q] for q in sizes]
        steer(rng, head, round(value - tail * mean), low, high, set())
        out = _with_tail(rng, head, volume, value, low, high, volume)
        if out is not None:
            return out
    return neighbours(volume, value)
