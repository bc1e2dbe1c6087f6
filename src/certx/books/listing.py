"""The listing book (DOMAIN M1): price-time priority for one CEA or CCER product.

Each side keeps a dict of price levels and a sorted list of level keys whose *last* element is the best
price (bids keyed by price, asks by -price), so the best level is popped in O(1). A level is a deque in
time order. Cancels are O(1): the order is marked dead and skipped when it reaches the front, as
exchange-core does with its order-id index beside price buckets.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from operator import attrgetter

import msgspec


class Resting(msgspec.Struct, gc=False):
    """An order on the book. `remaining == 0` means filled or cancelled (dead). A msgspec Struct because it
    is built for every resting order: it is created in a third of the time of a slotted class."""

    order_id: str
    account: str
    is_buy: bool
    price: int
    remaining: int


_ORDER_ID = attrgetter("order_id")


class Level:
    __slots__ = ("queue", "live")

    def __init__(self) -> None:
        self.queue: deque[Resting] = deque()
        self.live = 0


class Side:
    __slots__ = ("levels", "keys", "sign")

    def __init__(self, sign: int) -> None:
        self.levels: dict[int, Level] = {}
        self.keys: list[int] = []   # ascending sign*price: the best level is last
        self.sign = sign

    def best(self) -> int | None:
        return self.sign * self.keys[-1] if self.keys else None

    def depth_of(self, price: int) -> int:
        """How many better levels stand ahead of this price (0 = the best level)."""
        return len(self.keys) - 1 - bisect_left(self.keys, self.sign * price)

    def prices(self) -> list[int]:
        """Level prices, best first."""
        return [self.sign * k for k in reversed(self.keys)]


class ListingBook:
    __slots__ = ("product", "bids", "asks", "orders")

    def __init__(self, product: str) -> None:
        self.product = product
        self.bids = Side(1)
        self.asks = Side(-1)
        self.orders: dict[str, Resting] = {}

    def rest(self, order: Resting) -> None:
        side = self.bids if order.is_buy else self.asks
        level = side.levels.get(order.price)
        if level is None:
            level = side.levels[order.price] = Level()
            insort(side.keys, side.sign * order.price)
        level.queue.append(order)
        level.live += 1
        self.orders[order.order_id] = order

    def match(self, is_buy: bool, limit: int, quantity: int) -> tuple[list[tuple[Resting, int]], int]:
        """Take resting orders of the other side that cross `limit`, best price then oldest first.
        Returns the fills (resting order, quantity) and the quantity left over."""
        side = self.asks if is_buy else self.bids
        keys, levels, sign = side.keys, side.levels, side.sign
        fills: list[tuple[Resting, int]] = []
        bound = sign * limit
        while quantity and keys and keys[-1] >= bound:
            price = sign * keys[-1]
            level = levels[price]
            queue = level.queue
            while quantity and queue:
                o = queue[0]
                rem = o.remaining
                if not rem:
                    queue.popleft()
                    continue
                if rem <= quantity:
                    fills.append((o, rem))
                    quantity -= rem
                    o.remaining = 0
                    queue.popleft()
                    level.live -= 1
                    del self.orders[o.order_id]
                else:
                    fills.append((o, quantity))
                    o.remaining = rem - quantity
                    quantity = 0
            if not level.live:
                del levels[price]
                keys.pop()
        return fills, quantity

    def take(self, order: Resting, quantity: int) -> None:
        """Fill part or all of one named order (a lift)."""
        order.remaining -= quantity
        if not order.remaining:
            self._drop(order)

    def cancel(self, order: Resting) -> int:
        """Take a resting order off the book; returns the quantity it still had."""
        remaining = order.remaining
        self._drop(order)
        return remaining

    def _drop(self, order: Resting) -> None:
        """Unlink a dead order: O(1), the deque entry is skipped later."""
        del self.orders[order.order_id]
        side = self.bids if order.is_buy else self.asks
        level = side.levels[order.price]
        level.live -= 1
        order.remaining = 0
        if not level.live:
            del side.levels[order.price]
            key = side.sign * order.price
            del side.keys[bisect_left(side.keys, key)]

    def levels(self, is_buy: bool) -> list[tuple[int, list[Resting]]]:
        """One side's live orders, level by level from the best price, each level in time priority."""
        side = self.bids if is_buy else self.asks
        out = []
        for key in reversed(side.keys):
            price = side.sign * key
            level = side.levels[price]
            queue = level.queue
            out.append((price, list(queue) if level.live == len(queue) else [o for o in queue if o.remaining]))
        return out

    def refill(self, bids: list[tuple[int, list[Resting]]], asks: list[tuple[int, list[Resting]]],
               arrival: list[Resting]) -> None:
        """Fill an empty book at once (a snapshot's restore): each side as `levels` gives it, and every order
        once more in arrival order, which is the order of `orders` and so the order the close expires them in
        (D2). Levels built whole, not order by order: this is what a restore of millions of orders costs."""
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for price, orders in levels:
                level = side.levels[price] = Level()
                level.queue.extend(orders)
                level.live = len(orders)
            side.keys = [side.sign * price for price, _ in reversed(levels)]
        self.orders = dict(zip(map(_ORDER_ID, arrival), arrival))

    def crossed(self) -> bool:
        bid, ask = self.bids.best(), self.asks.best()
        return bid is not None and ask is not None and bid >= ask
