"""The GEC book (DOMAIN M4, G4): lots of serial ranges against bids with attribute filters.

There is no single price ladder, since no two lots are the same goods. Lots rest in buckets by the attributes a
filter tests (`certx.books.buckets`), each bucket cheapest first, then oldest; bids in one list, highest first,
then oldest. A new bid takes every lot it crosses in the buckets its filter admits, cheapest then oldest across
them; a new lot walks the bids. A fill takes the lowest serials of a lot, which splits its range.
"""
from __future__ import annotations

from sortedcontainers import SortedKeyList

from certx.books.buckets import Buckets, Named
from certx.registry.issuance import Batch, month_index
from certx.wire.commands import GecFilter


_LAST = float("inf")
_BEFORE, _AFTER = float("-inf"), float("inf")      # no bound on the production month

BucketKey = tuple[str, str, bool, int]


def bucket_of(batch: Batch) -> BucketKey:
    """The attributes of a batch that a bid's filter tests (G4), in the order of the levels of the bucket tree."""
    return batch.province, batch.technology, batch.subsidised, batch.month


class Lot:
    """A seller's serial range at one price; addressed (M5) when it names the one `counterparty` who may lift it,
    in part only if `partial`."""

    __slots__ = ("order_id", "account", "price", "first", "last", "batch", "seq", "bucket", "counterparty",
                 "partial")

    def __init__(self, order_id: str, account: str, price: int, first: int, last: int, batch: Batch, seq: int,
                 counterparty: str | None = None, partial: bool = True) -> None:
        self.order_id = order_id
        self.account = account
        self.price = price
        self.first = first
        self.last = last
        self.batch = batch
        self.seq = seq
        self.bucket = bucket_of(batch)
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

    def admits(self, bucket: BucketKey, today_month: int) -> bool:
        """G4, for the lots of one bucket."""
        province, technology, subsidised, month = bucket
        if self.provinces is not None and province not in self.provinces:
            return False
        if province in self.exclude:
            return False
        if self.technologies is not None and technology not in self.technologies:
            return False
        if self.subsidised is not None and subsidised != self.subsidised:
            return False
        oldest, newest = self.window(today_month)
        return oldest <= month <= newest

    def window(self, today_month: int) -> tuple[float, float]:
        """G4: the oldest and the newest production month admitted, from the production window and the maximum
        age (whole months from the production month to the trading month); infinite where there is no bound."""
        oldest = _BEFORE if self.month_from is None else self.month_from
        if self.max_age is not None and today_month - self.max_age > oldest:
            oldest = today_month - self.max_age
        return oldest, _AFTER if self.month_to is None else self.month_to

    def accepts(self, batch: Batch, today_month: int) -> bool:
        """G4, for one batch: its bucket is admitted."""
        return self.admits(bucket_of(batch), today_month)

    def named(self) -> Named:
        """The keys this filter names on the levels of the bucket tree, in the order of `bucket_of` (None where
        it names none): every bucket `admits` lets in has one of them at each level where it names any, so the
        tree looks them up instead of scanning every branch. The months, an ordered level, it bounds by `window`."""
        return self.provinces, self.technologies, None if self.subsidised is None else (self.subsidised,), None


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
    __slots__ = ("lots", "bids", "orders")

    def __init__(self) -> None:
        self.lots = Buckets()               # the resting lots, in buckets
        self.bids: SortedKeyList = SortedKeyList(key=_bid_priority)
        self.orders: dict[str, Lot | Bid] = {}       # insertion order: snapshots list them so

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
        for lot in self.lots.crossing(bid.eligibility, bid.price, today_month):
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

    def check(self) -> None:
        """The book's own invariants, for the tests, read from the index and the bids (not from how lots are
        stored, then the buckets against them): each order is filed under its id; a lot is a non-empty range of its batch's serials, and no
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
        # the buckets hold exactly the public lots; an addressed lot (M5) rests by its id only
        public = {id(lot) for lot in lots if lot.counterparty is None}
        assert {id(lot) for lot in self.lots} == public and len(self.lots) == len(public), \
            "the buckets are not the public lots"
        self.lots.check()
