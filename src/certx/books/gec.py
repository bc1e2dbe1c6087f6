"""The GEC book (DOMAIN M4, G4): lots of serial ranges against bids with attribute filters.

There is no single price ladder, since no two lots are the same goods. Lots rest in buckets by the attributes a
filter tests (`certx.books.buckets`), each bucket cheapest first, then oldest; bids in one list, highest first,
then oldest. A new bid takes every lot it crosses in the buckets its filter admits, cheapest then oldest across
them; a new lot walks the bids. A fill takes the lowest serials of a lot, which splits its range.
"""
from __future__ import annotations

from functools import partial

from sortedcontainers import SortedKeyList

from certx.books.buckets import Buckets, Level
from certx.registry.issuance import Batch, month_index
from certx.wire.commands import GecFilter


_LAST = float("inf")

BucketKey = tuple[str, str, bool, int]


def bucket_of(batch: Batch) -> BucketKey:
    """The attributes of a batch that a bid's filter tests (G4), in the order of the levels of the bucket tree
    and of `Eligibility._TESTS`."""
    return batch.province, batch.technology, batch.subsidised, batch.month


class Lot:
    __slots__ = ("order_id", "account", "price", "first", "last", "batch", "seq", "bucket")

    def __init__(self, order_id: str, account: str, price: int, first: int, last: int, batch: Batch, seq: int) -> None:
        self.order_id = order_id
        self.account = account
        self.price = price
        self.first = first
        self.last = last
        self.batch = batch
        self.seq = seq
        self.bucket = bucket_of(batch)

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

    # G4, one attribute at a time, each written once. `admits` (a bucket) and `accepts` (a batch) ask all four;
    # the bucket tree asks them one level at a time (`levels`), so both find the same lots.

    def _province(self, province: str, today_month: int) -> bool:
        return (self.provinces is None or province in self.provinces) and province not in self.exclude

    def _technology(self, technology: str, today_month: int) -> bool:
        return self.technologies is None or technology in self.technologies

    def _subsidy(self, subsidised: bool, today_month: int) -> bool:
        return self.subsidised is None or subsidised == self.subsidised

    def _month(self, month: int, today_month: int) -> bool:
        """Age is whole months from the production month to the trading month; at most `max_age`."""
        return ((self.month_from is None or month >= self.month_from)
                and (self.month_to is None or month <= self.month_to)
                and (self.max_age is None or today_month - month <= self.max_age))

    _TESTS = (_province, _technology, _subsidy, _month)      # in the order of `bucket_of`

    def admits(self, bucket: BucketKey, today_month: int) -> bool:
        """G4 for a bucket: each of its keys passes its level's test."""
        for test, key in zip(Eligibility._TESTS, bucket):
            if not test(self, key, today_month):
                return False
        return True

    def accepts(self, batch: Batch, today_month: int) -> bool:
        """G4 for a batch: its bucket is admitted."""
        return self.admits(bucket_of(batch), today_month)

    def levels(self, today_month: int) -> tuple[Level, ...]:
        """The filter as the bucket tree applies it, level by level in the order of `bucket_of`: the keys it
        names there, to be looked up rather than scanned (None where it names none), and that level's test."""
        named = (self.provinces, self.technologies, None if self.subsidised is None else (self.subsidised,), None)
        return tuple((keys, partial(test, self, today_month=today_month))
                     for keys, test in zip(named, Eligibility._TESTS))


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


def _bid_priority(bid: Bid) -> tuple[int, int]:
    return -bid.price, bid.seq


class GecBook:
    __slots__ = ("buckets", "bids", "orders")

    def __init__(self) -> None:
        self.buckets = Buckets()
        self.bids: SortedKeyList = SortedKeyList(key=_bid_priority)
        self.orders: dict[str, Lot | Bid] = {}       # insertion order: snapshots list them so

    def rest(self, order: Lot | Bid) -> None:
        (self.buckets if isinstance(order, Lot) else self.bids).add(order)
        self.orders[order.order_id] = order

    def remove(self, order: Lot | Bid) -> None:
        (self.buckets if isinstance(order, Lot) else self.bids).remove(order)
        del self.orders[order.order_id]

    def lots_for(self, bid: Bid, quantity: int, today_month: int) -> list[tuple[Lot, int]]:
        """The fills a bid would get: eligible lots it crosses, cheapest then oldest. Mutates nothing."""
        fills = []
        for lot in self.buckets.crossing(bid.eligibility.levels(today_month), bid.price):
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
            if bid.eligibility.admits(lot.bucket, today_month):
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
