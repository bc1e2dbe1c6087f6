"""The listing book (DOMAIN M1): price-time priority for one CEA or CCER product.

Each side keeps a dict of price levels and a sorted list of level keys whose *last* element is the best
price (bids keyed by price, asks by -price), so the best level is popped in O(1). A level is a deque in
time order. Cancels are O(1): the order is marked dead and skipped when it reaches the front, as
exchange-core does with its order-id index beside price buckets.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from operator import attrgetter, call

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
    """One price's orders in time order, with how many are live and the quantity they still hold: a quote reads
    these two (`certx.marketdata`), never the queue, which may hold any number of dead orders."""

    __slots__ = ("queue", "live", "quantity")

    def __init__(self) -> None:
        self.queue: deque[Resting] = deque()
        self.live = 0
        self.quantity = 0


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
        level.quantity += order.remaining
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
                    level.quantity -= rem
                    del self.orders[o.order_id]
                else:
                    fills.append((o, quantity))
                    o.remaining = rem - quantity
                    level.quantity -= quantity
                    quantity = 0
            if not level.live:
                del levels[price]
                keys.pop()
        return fills, quantity

    def take(self, order: Resting, quantity: int) -> None:
        """Fill part or all of one named order (a lift)."""
        order.remaining -= quantity
        side = self.bids if order.is_buy else self.asks
        side.levels[order.price].quantity -= quantity
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
        level.quantity -= order.remaining
        order.remaining = 0
        if not level.live:
            del side.levels[order.price]
            key = side.sign * order.price
            del side.keys[bisect_left(side.keys, key)]

    def refill(self, bids: list[int], asks: list[int], orders: list[Resting], levels: list[int]) -> None:
        """Fill an empty book at once (a snapshot's restore): each side's level prices from the best, then the live
        orders oldest first, each with its level (an index into `bids`, then `asks`) and that level's side and
        price. Oldest first is the time priority within each level, and the order of `orders`, which the close
        expires them in (D2). ValueError unless the prices are in priority order, each level gets an order and
        no order id comes twice."""
        if any(a <= b for a, b in zip(bids, bids[1:])) or any(a >= b for a, b in zip(asks, asks[1:])):
            raise ValueError(f"{self.product}: level prices out of priority order")
        places = [(self.bids, price) for price in bids] + [(self.asks, price) for price in asks]
        queues = []
        for side, price in places:
            level = side.levels[price] = Level()
            queues.append(level.queue)
        # Each order to the back of its level's queue, the loop run in C: millions of orders may rest.
        deque(map(call, map([queue.append for queue in queues].__getitem__, levels), orders), maxlen=0)
        for side, price in places:
            level = side.levels[price]
            level.live = len(level.queue)
            level.quantity = sum(o.remaining for o in level.queue)
            if not level.live:
                raise ValueError(f"{self.product}: no order at {price}")
        for side, prices in ((self.bids, bids), (self.asks, asks)):
            side.keys = [side.sign * price for price in reversed(prices)]
        self.orders = dict(zip(map(_ORDER_ID, orders), orders))
        if len(self.orders) != len(orders):
            raise ValueError(f"{self.product}: an order id rests twice")

    def crossed(self) -> bool:
        bid, ask = self.bids.best(), self.asks.best()
        return bid is not None and ask is not None and bid >= ask

    def check(self) -> None:
        """The book's own invariants, for the tests to call after every change (exchange-core's
        `validateInternalState`): each side's keys are its levels', in order; each level counts its live orders,
        all of its side and price, in time priority (the index's insertion order); the index is exactly the live
        orders; the best bid is below the best ask. `assert`s: like a `debug_assert!`, gone under `python -O`."""
        rank = {order_id: i for i, order_id in enumerate(self.orders)}
        live = 0
        for side, is_buy in ((self.bids, True), (self.asks, False)):
            assert side.keys == sorted(set(side.keys)), f"{self.product}: level keys out of order: {side.keys}"
            assert {side.sign * key for key in side.keys} == side.levels.keys(), \
                f"{self.product}: level keys {side.keys} are not the levels {list(side.levels)}"
            for price, level in side.levels.items():
                queued = [o for o in level.queue if o.remaining]
                assert queued, f"{self.product} {price}: an empty level stays"
                assert level.live == len(queued), \
                    f"{self.product} {price}: the level counts {level.live} live orders, holds {len(queued)}"
                assert level.quantity == sum(o.remaining for o in queued), \
                    f"{self.product} {price}: the level counts {level.quantity}, its orders hold another quantity"
                for o in queued:
                    assert o.remaining > 0 and o.is_buy == is_buy and o.price == price, \
                        f"{self.product} {price}: {o} does not belong to this level"
                    assert self.orders.get(o.order_id) is o, f"{self.product}: {o.order_id} rests but is not indexed"
                ranks = [rank[o.order_id] for o in queued]
                assert all(a < b for a, b in zip(ranks, ranks[1:])), \
                    f"{self.product} {price}: orders out of time priority"
                live += len(queued)
        assert live == len(self.orders), f"{self.product}: {len(self.orders)} orders indexed, {live} resting"
        assert not self.crossed(), f"{self.product}: crossed, bid {self.bids.best()} >= ask {self.asks.best()}"
