"""A listing market's day as commands (DOMAIN M1, B1, D2, S1): the trades of `certx.days.exact` written as
orders, and a background of orders that never trade. For CEA products and for the pooled CCER book alike.

The matching rule drives the design: a trade is made at the resting order's price (M1), so each trade is built
as a resting order (the maker) followed by an order or a lift that takes exactly it (the taker), back to back in
one strand: an *item*. Some items are sweeps (one taker across two or three makers), some a maker taken by two
takers, some a maker that offered more and withdraws the rest. Nothing else rests inside the crossing range
while an item runs, so the maker is the best level (a lift reaches it, M1(b)) and the taker fills exactly.

The background rests outside the day's range: bids at least 3 fen below the low, asks at least 8 fen above
the high, within the band (B1); a taker's limit never reaches them (see `Levels`). So the background never
trades and the official figures stay exact; a third of it is cancelled later in the day, the rest expires at
the close (D2).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from certx.days.balances import Budget, Fill
from certx.days.script import Script, Stream, yuan

Item = list[tuple[str, dict]]           # commands that run back to back in one strand


class Tickets:
    """The order commands of one product's day, as its accounts' brokers send them, with fresh ids."""

    def __init__(self, script: Script, brokers: dict[str, str], product: str, market: str,
                 prefix: str = "cea") -> None:
        self.script, self.brokers, self.product, self.market, self.prefix = script, brokers, product, market, prefix

    def new(self, account: str, side: str, quantity: int, price: int, oid: str | None = None,
            **extra: Any) -> dict:
        return dict(order_id=oid or self.script.next_id(self.prefix), actor=self.brokers[account],
                    account=account, product=self.product, side=side, quantity=quantity, price=yuan(price),
                    **extra)

    def lift(self, account: str, target: str, quantity: int, **extra: Any) -> dict:
        return dict(order_id=self.script.next_id(self.prefix), actor=self.brokers[account], account=account,
                    market=self.market, target=target, quantity=quantity, **extra)

    def accept(self, account: str, target: str, quantity: int, prefix: str = "blk") -> dict:
        return dict(order_id=self.script.next_id(prefix), actor=self.brokers[account], account=account,
                    market=self.market, target=target, quantity=quantity)

    def cancel(self, account: str, order_id: str) -> dict:
        return dict(order_id=order_id, actor=self.brokers[account], account=account, market=self.market)


@dataclass(frozen=True)
class Levels:
    """Where a day's listing orders may go: the band (B1; None: no band) and the edges of the background.
    Takers improve at most to `ask_bottom - 1` or `bid_top + 1`, so they never meet the background."""

    lo: int
    hi: int
    bid_top: int              # the highest background bid
    ask_bottom: int           # the lowest background ask

    @classmethod
    def around(cls, band: tuple[int, int] | None, low: int, high: int) -> "Levels":
        lo, hi = band if band is not None else (1, 10**8)
        return cls(lo, hi, low - 3, high + 8)


def trade_items(rng: random.Random, trades: list[tuple[int, int]], budget: Budget, tickets: Tickets,
                levels: Levels, fills: list[Fill], maximum: int) -> list[Item]:
    """The items that make `trades`, in order (the first is a lift: the open, D3)."""
    product, market = tickets.product, tickets.market
    order, lift, cancel = tickets.new, tickets.lift, tickets.cancel

    def fill(buyer: str, seller: str, price: int, quantity: int) -> None:
        fills.append(Fill(market, product, buyer, seller, price, quantity))

    items: list[Item] = []
    i = 0
    while i < len(trades):
        p, q = trades[i]
        r = rng.random()
        nxt = trades[i + 1: i + 3]
        if i and r < 0.18 and len(nxt) >= 1:                          # a sweep of two or three makers
            seg = trades[i: i + rng.choice((2, 3))]
            ps = [x[0] for x in seg]
            up, down = ps == sorted(ps), ps == sorted(ps, reverse=True)
            total = sum(x[1] for x in seg)
            if len(seg) > 1 and (up or down) and total <= maximum:
                buy_sweep = up if not (up and down) else rng.random() < 0.5
                item = []
                if buy_sweep:
                    makers = [budget.seller(x[1], product) for x in seg]
                    taker = budget.buyer(max(ps) * total)
                    for (pp, qq), m in zip(seg, makers):
                        item.append(("order.new", order(m, "sell", qq, pp)))
                        fill(taker, m, pp, qq)
                    item.append(("order.new", order(taker, "buy", total, max(ps))))
                else:
                    makers = [budget.buyer(pp * qq) for pp, qq in seg]
                    taker = budget.seller(total, product)
                    for (pp, qq), m in zip(seg, makers):
                        item.append(("order.new", order(m, "buy", qq, pp)))
                        fill(m, taker, pp, qq)
                    item.append(("order.new", order(taker, "sell", total, min(ps))))
                items.append(item)
                i += len(seg)
                continue
        maker_sells = rng.random() < 0.55
        if i and nxt and nxt[0][0] == p and q + nxt[0][1] <= maximum:      # one maker, two takers
            q2 = nxt[0][1]
            if maker_sells:
                m = budget.seller(q + q2, product)
                t1, t2 = budget.buyer(p * q), budget.buyer(p * q2)
                mo = order(m, "sell", q + q2, p)
                items.append([("order.new", mo), ("order.lift", lift(t1, mo["order_id"], q)),
                              ("order.new", order(t2, "buy", q2, p))])
                fill(t1, m, p, q)
                fill(t2, m, p, q2)
            else:
                m = budget.buyer(p * (q + q2))
                t1, t2 = budget.seller(q, product), budget.seller(q2, product)
                mo = order(m, "buy", q + q2, p)
                items.append([("order.new", mo), ("order.new", order(t1, "sell", q, p)),
                              ("order.lift", lift(t2, mo["order_id"], q2))])
                fill(m, t1, p, q)
                fill(m, t2, p, q2)
            i += 2
            continue
        kind = "lift" if i == 0 else rng.choices(("hit", "improve", "lift", "rest"), (45, 15, 28, 12))[0]
        extra = rng.randint(1, 40) * 100 if kind == "rest" and q + 4_000 <= maximum else 0
        if maker_sells:
            m = budget.seller(q + extra, product)
            mo = order(m, "sell", q + extra, p)
            limit = p if kind != "improve" else min(levels.hi, levels.ask_bottom - 1, p + rng.randint(1, 12))
            t = budget.buyer(limit * q)
            take = lift(t, mo["order_id"], q) if kind == "lift" else order(t, "buy", q, limit)
            fill(t, m, p, q)
        else:
            m = budget.buyer(p * (q + extra))
            mo = order(m, "buy", q + extra, p)
            limit = p if kind != "improve" else max(levels.lo, levels.bid_top + 1, p - rng.randint(1, 12))
            t = budget.seller(q, product)
            take = lift(t, mo["order_id"], q) if kind == "lift" else order(t, "sell", q, limit)
            fill(m, t, p, q)
        item = [("order.new", mo), ("order.lift" if kind == "lift" else "order.new", take)]
        if extra:                                           # the maker withdraws what is left
            item.append(("order.cancel", cancel(m, mo["order_id"])))
        items.append(item)
        i += 1
    return items


def background_count(rng: random.Random, trades: int, ratio: float) -> int:
    """Background orders for a day of `trades` trades: `ratio` a trade, and a few even on a quiet day."""
    return round(trades * ratio) + (rng.randint(0, 6) if ratio else 0)


def background_items(rng: random.Random, count: int, budget: Budget, tickets: Tickets, levels: Levels,
                     cancel_every: int = 3) -> tuple[list[Item], list[tuple[int, Item]]]:
    """`count` orders that rest outside the crossing range (near the touch: within 1.50 yuan of it), and the
    cancels of every `cancel_every`-th of them (by the place of the order they cancel)."""
    quiet: list[Item] = []
    cancels: list[tuple[int, Item]] = []
    product = tickets.product
    for k in range(count):
        sells = k % 2 == 1
        q = _size(rng)
        if sells:
            top = min(levels.hi, levels.ask_bottom + 150)
            if levels.ask_bottom > top:
                continue
            price = rng.randint(levels.ask_bottom, top)
            who = budget.seller(q, product)
        else:
            bottom = max(levels.lo, levels.bid_top - 150)
            if levels.bid_top < bottom:
                continue
            price = rng.randint(bottom, levels.bid_top)
            who = budget.buyer(price * q)
        o = tickets.new(who, "sell" if sells else "buy", q, price)
        quiet.append([("order.new", o)])
        if k % cancel_every == cancel_every - 1:
            cancels.append((len(quiet) - 1, [("order.cancel", tickets.cancel(who, o["order_id"]))]))
    return quiet, cancels


def _size(rng: random.Random) -> int:
    """A resting order's size: lognormal around 3,000 t, three in four in round hundreds."""
    q = min(30_000, max(100, int(rng.lognormvariate(0.0, 0.9) * 3_000)))
    return max(100, round(q / 100) * 100) if rng.random() < 0.75 else q


def mingle(rng: random.Random, items: list[Item], quiet: list[Item], cancels: list[tuple[int, Item]]
           ) -> list[Item]:
    """The trades' items with the background spread among them, never before the first (the open), each cancel
    after the order it cancels."""
    if not items:
        rest = list(quiet)
        rng.shuffle(rest)
        for qi, item in cancels:
            pos = next(n for n, it in enumerate(rest) if it is quiet[qi])
            rest.insert(rng.randint(pos + 1, len(rest)), item)
        return rest
    first, rest = items[0], items[1:]
    for item in quiet:
        rest.insert(rng.randint(0, len(rest)), item)
    for qi, item in cancels:
        pos = next(n for n, it in enumerate(rest) if it is quiet[qi])
        rest.insert(rng.randint(pos + 1, len(rest)), item)
    return [first] + rest


def windows(script: Script, sessions: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """A market's session windows (D1: local minutes, from the rule table) in the script's units, each ending
    a minute early so that an item's last commands still land inside it."""
    unit = 60 * script.per_second
    return [(start * unit, (end - 1) * unit) for start, end in sessions]


def schedule(rng: random.Random, stream: Stream, items: list[Item], windows: list[tuple[int, int]],
             step: int) -> None:
    """Spread the items over the session windows (in the script's units), in order, each window taking its
    share by length; an item's commands follow each other by 1 to 12 seconds (`step` units a second), closer
    on a busy day. Raises if a command would fall outside its window (the day is too dense for the unit)."""
    length = sum(end - start for start, end in windows)
    k = 0
    for w, (start, end) in enumerate(windows):
        share = len(items) - k if w == len(windows) - 1 else round(len(items) * (end - start) / length)
        part = items[k: k + share]
        k += share
        if not part:
            continue
        slot = (end - start) // len(part)
        for n, item in enumerate(part):
            t = start + n * slot + rng.randint(0, max(0, slot // 3))
            gap = max(1, min(12 * step, (slot * 2 // 3) // (len(item) + 1)))
            for type_, fields in item:
                stream.at(max(t, stream.t)).emit(type_, **fields)
                t += rng.randint(1, gap)
        if stream.t > end:
            raise ValueError(f"{len(part)} items do not fit in their window: use a finer time unit")
