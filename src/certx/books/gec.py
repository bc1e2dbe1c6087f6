"""The GEC book (DOMAIN M4, G4): lots of serial ranges against bids with attribute filters.

There is no single price ladder, since no two lots are the same goods. Lots are kept cheapest first, then
oldest; bids highest first, then oldest. A new bid walks the lots in that order and takes every eligible one
it crosses; a new lot walks the bids. A fill takes the lowest serials of a lot, which splits its range.
"""
from __future__ import annotations

from sortedcontainers import SortedKeyList

from certx.registry.issuance import Batch, month_index
from certx.wire.commands import GecFilter


_LAST = float("inf")


class Lot:
    """A seller's serial range at one price; addressed (M5) when it names the one `counterparty` who may lift it,
    in part only if `partial`."""

    __slots__ = ("order_id", "account", "price", "first", "last", "batch", "seq", "counterparty", "partial")

    def __init__(self, order_id: str, account: str, price: int, first: int, last: int, batch: Batch, seq: int,
                 counterparty: str | None = None, partial: bool = True) -> None:
        self.order_id = order_id
        self.account = account
        self.price = price
        self.first = first
        self.last = last
        self.batch = batch
        self.seq = seq
        self.counterparty = counterparty
        self.partial = partial

    @property
    def remaining(self) -> int:
        return self.last - self.first + 1


class Eligibility:
    """A bid's filter compiled once into sets and month bounds."""

    __slots__ = ("provinces", "exclude", "technologies", "subsidised", "month_from", "month_to", "max_age")

    def __init__(self, f: GecFilter | None) -> None:
        f = f or GecFilter()
        self.provinces = frozenset(f.provinces) if f.provinces else None
        self.exclude = frozenset(f.exclude_provinces or ())
        self.technologies = frozenset(f.technologies) if f.technologies else None
        self.subsidised = f.subsidised
        self.month_from = month_index(f.production_from) if f.production_from else None
        self.month_to = month_index(f.production_to) if f.production_to else None
        self.max_age = f.max_age_months

    def accepts(self, batch: Batch, today_month: int) -> bool:
        """G4. Age is whole months from the production month to the trading month; at most `max_age`."""
        if self.provinces is not None and batch.province not in self.provinces:
            return False
        if batch.province in self.exclude:
            return False
        if self.technologies is not None and batch.technology not in self.technologies:
            return False
        if self.subsidised is not None and batch.subsidised != self.subsidised:
            return False
        if self.month_from is not None and batch.month < self.month_from:
            return False
        if self.month_to is not None and batch.month > self.month_to:
            return False
        if self.max_age is not None and today_month - batch.month > self.max_age:
            return False
        return True


class Bid:
    __slots__ = ("order_id", "account", "price", "remaining", "eligibility", "beneficiary", "seq")

    def __init__(self, order_id: str, account: str, price: int, remaining: int,
                 eligibility: Eligibility, beneficiary: str, seq: int) -> None:
        self.order_id = order_id
        self.account = account
        self.price = price
        self.remaining = remaining
        self.eligibility = eligibility
        self.beneficiary = beneficiary
        self.seq = seq


def _lot_priority(lot: Lot) -> tuple[int, int]:
    return lot.price, lot.seq


def _bid_priority(bid: Bid) -> tuple[int, int]:
    return -bid.price, bid.seq


class GecBook:
    __slots__ = ("lots", "bids", "orders")

    def __init__(self) -> None:
        self.lots: SortedKeyList = SortedKeyList(key=_lot_priority)
        self.bids: SortedKeyList = SortedKeyList(key=_bid_priority)
        self.orders: dict[str, Lot | Bid] = {}

    def rest(self, order: Lot | Bid) -> None:
        # An addressed lot (M5) is no bid's to take: it rests by its id only, for its counterparty to lift.
        if isinstance(order, Bid):
            self.bids.add(order)
        elif order.counterparty is None:
            self.lots.add(order)
        self.orders[order.order_id] = order

    def remove(self, order: Lot | Bid) -> None:
        if isinstance(order, Bid):
            self.bids.remove(order)
        elif order.counterparty is None:
            self.lots.remove(order)
        del self.orders[order.order_id]

    def lots_for(self, bid: Bid, quantity: int, today_month: int) -> list[tuple[Lot, int]]:
        """The fills a bid would get: eligible lots it crosses, cheapest then oldest. Mutates nothing."""
        fills = []
        accepts = bid.eligibility.accepts
        for lot in self.lots.irange_key(max_key=(bid.price, _LAST)):
            if accepts(lot.batch, today_month):
                take = min(quantity, lot.last - lot.first + 1)
                fills.append((lot, take))
                quantity -= take
                if not quantity:
                    break
        return fills

    def bids_for(self, lot: Lot, quantity: int, today_month: int) -> list[tuple[Bid, int]]:
        """The fills a new lot would get: resting bids that cross it and accept it, best then oldest."""
        fills = []
        for bid in self.bids.irange_key(max_key=(-lot.price, _LAST)):
            if bid.eligibility.accepts(lot.batch, today_month):
                take = min(quantity, bid.remaining)
                fills.append((bid, take))
                quantity -= take
                if not quantity:
                    break
        return fills

    def take(self, lot: Lot, quantity: int) -> tuple[int, int]:
        """Cut the lowest `quantity` serials off a lot; returns them as a range."""
        first = lot.first
        lot.first += quantity
        if lot.first > lot.last and self.orders.get(lot.order_id) is lot:   # a new lot never rested
            self.remove(lot)
        return first, first + quantity - 1

    def check(self) -> None:
        """The book's own invariants, for the tests, read from the index and the bids (not from how lots are
        stored): each order is filed under its id; a lot is a non-empty range of its batch's serials, and no
        serial is in two lots; a bid still wants something; the bids are exactly the indexed bids, best then
        oldest. `assert`s, gone under `python -O`."""
        lots, bids = [], []
        for order_id, order in self.orders.items():
            assert order.order_id == order_id, f"{order.order_id} filed as {order_id}"
            assert order.price > 0, f"{order_id} at {order.price} fen"
            if isinstance(order, Lot):
                assert order.batch.first <= order.first <= order.last <= order.batch.last, \
                    f"lot {order_id} [{order.first}, {order.last}] outside [{order.batch.first}, {order.batch.last}]"
                lots.append(order)
            else:
                assert isinstance(order, Bid) and order.remaining > 0, f"{order_id} rests with nothing to buy"
                bids.append(order)
        lots.sort(key=lambda lot: lot.first)
        for a, b in zip(lots, lots[1:]):
            assert a.last < b.first, f"lots {a.order_id} and {b.order_id} share serials from {b.first}"
        resting = list(self.bids)
        assert len(resting) == len(bids) and {id(b) for b in resting} == {id(b) for b in bids}, \
            f"bids {[b.order_id for b in resting]} are not the indexed {[b.order_id for b in bids]}"
        keys = [_bid_priority(b) for b in resting]
        assert keys == sorted(keys), "bids out of priority"
