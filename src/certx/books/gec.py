"""The GEC book (DOMAIN M4, G4): lots of serial ranges against bids with attribute filters.

There is no single price ladder, since no two lots are the same goods. Lots rest in buckets by the attributes a
filter tests (`certx.books.buckets`), each bucket cheapest first, then oldest; bids in one list, highest first,
then oldest. A new bid takes every lot it crosses in the buckets its filter admits, cheapest then oldest across
them; a new lot walks the bids. A fill takes the lowest serials of a lot that the bid accepts: all of them for a
bid without hours, so its lowest serials; for a bid with hours (issue 13) those whose production hours meet its
hour filter, which may be in the middle of the lot. Either way a fill splits the lot's ranges.
"""
from __future__ import annotations

from sortedcontainers import SortedKeyList

from certx.books.buckets import Buckets, Named
from certx.hours.mask import HourFilter, eligible
from certx.hours.overlay import Overlay
from certx.registry.issuance import Batch, month_index
from certx.registry.serials import RangeSet
from certx.wire.commands import GecFilter

Range = tuple[int, int]


_LAST = float("inf")
_BEFORE, _AFTER = float("-inf"), float("inf")      # no bound on the production month

BucketKey = tuple[str, str, bool, int]


def bucket_of(batch: Batch) -> BucketKey:
    """The attributes of a batch that a bid's filter tests (G4), in the order of the levels of the bucket tree."""
    return batch.province, batch.technology, batch.subsidised, batch.month


class Lot:
    """A seller's certificates at one price; addressed (M5) when it names the one `counterparty` who may lift it,
    in part only if `partial`.

    Listed as one serial range of one batch, a lot is a set of ranges (`serials`) once a bid with hours has taken
    from its middle; `remaining` counts its certificates. Each range's batch is the one `Issuance.batch_of` gives
    it, so a lot made of several batches' ranges (an aggregator's pooled lot) would need nothing else here but
    its attributes; today every range is of `batch`."""

    __slots__ = ("order_id", "account", "price", "serials", "remaining", "batch", "seq", "bucket", "counterparty",
                 "partial")

    def __init__(self, order_id: str, account: str, price: int, first: int, last: int, batch: Batch, seq: int,
                 counterparty: str | None = None, partial: bool = True) -> None:
        self.order_id = order_id
        self.account = account
        self.price = price
        self.serials = RangeSet.of(first, last)
        self.remaining = last - first + 1
        self.batch = batch
        self.seq = seq
        self.bucket = bucket_of(batch)
        self.counterparty = counterparty
        self.partial = partial


class Eligibility:
    """A bid's filter compiled once into sets, month bounds and its hours (None: it asks for none)."""

    __slots__ = ("provinces", "exclude", "technologies", "subsidised", "month_from", "month_to", "max_age", "hours")

    def __init__(self, f: GecFilter | None) -> None:
        f = f or GecFilter()
        self.provinces = frozenset(f.provinces) if f.provinces else None
        self.exclude = frozenset(f.exclude_provinces or ())
        self.technologies = frozenset(f.technologies) if f.technologies else None
        self.subsidised = f.subsidised
        self.month_from = month_index(f.production_from) if f.production_from else None
        self.month_to = month_index(f.production_to) if f.production_to else None
        self.max_age = f.max_age_months
        self.hours = HourFilter.of(f)

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
        age (whole months from the production month to the trading month); infinite where there is no bound. An
        hour window narrows it to the months that may hold its hours."""
        oldest = _BEFORE if self.month_from is None else self.month_from
        if self.max_age is not None and today_month - self.max_age > oldest:
            oldest = today_month - self.max_age
        newest = _AFTER if self.month_to is None else self.month_to
        if self.hours is not None:
            first, last = self.hours.months()
            return max(oldest, first), min(newest, last)
        return oldest, newest

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
    __slots__ = ("lots", "bids", "orders", "overlay")

    def __init__(self, overlay: Overlay | None = None) -> None:
        self.lots = Buckets()               # the resting lots, in buckets
        self.bids: SortedKeyList = SortedKeyList(key=_bid_priority)
        self.orders: dict[str, Lot | Bid] = {}       # insertion order: snapshots list them so
        self.overlay = overlay if overlay is not None else Overlay()     # the curves, for bids with hours

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

    def listed(self, batch: Batch) -> bool:
        """Whether some of a batch's certificates rest in a public lot (the lots a bid may take)."""
        bucket = self.lots.index.get(bucket_of(batch))
        return bucket is not None and any(lot.batch is batch for lot in bucket.lots)

    def accepted(self, serials: RangeSet, batch: Batch, eligibility: Eligibility, quantity: int) -> list[Range]:
        """The lowest serials of `serials` (of `batch`) that a bid with `eligibility` accepts, at most `quantity`:
        the lowest of all for a bid without hours; for one with hours those whose hours meet them, and none
        without a curve (issue 13)."""
        hours = eligibility.hours
        if hours is None:
            return serials.lowest(quantity)
        curve = self.overlay.curve_of(batch.project, batch.month)
        if curve is None or not curve.covers(batch.first, batch.last):     # a batch issued after its month's curve
            return []
        return eligible(curve, serials, hours, quantity)

    def lots_for(self, bid: Bid, quantity: int, today_month: int) -> list[tuple[Lot, list[Range]]]:
        """The fills a bid would get: eligible lots it crosses, cheapest then oldest, with the serials it would
        take of each. Mutates nothing."""
        fills = []
        accepted, eligibility = self.accepted, bid.eligibility
        for lot in self.lots.crossing(eligibility, bid.price, today_month):
            if eligibility.hours is None:
                take = lot.serials.lowest(quantity)
                quantity -= min(quantity, lot.remaining)
            else:
                take = accepted(lot.serials, lot.batch, eligibility, quantity)
                if not take:
                    continue
                quantity -= count(take)
            fills.append((lot, take))
            if not quantity:
                break
        return fills

    def bids_for(self, lot: Lot, quantity: int, today_month: int) -> list[tuple[Bid, list[Range]]]:
        """The fills a new lot would get: resting bids that cross it and accept it, best then oldest, with the
        serials each would take (each from what the ones before it left). Mutates nothing."""
        fills = []
        first, last = lot.serials.span()
        left: RangeSet | None = None if len(lot.serials) == 1 else lot.serials.copy()   # what fills left of it
        taken = 0           # while `left` is None: the lot is one range, and the fills took its lowest `taken`
        for bid in self.bids.irange_key(max_key=(-lot.price, _LAST)):
            if not bid.eligibility.admits(lot.bucket, today_month):
                continue
            want = min(quantity, bid.remaining)
            if left is None:
                if bid.eligibility.hours is None:         # the usual way, in one range: no copy of it
                    fills.append((bid, [(first + taken, first + taken + want - 1)]))
                    taken += want
                    quantity -= want
                    if not quantity:
                        break
                    continue
                left = RangeSet.of(first + taken, last)
            take = self.accepted(left, lot.batch, bid.eligibility, want)
            if not take:
                continue
            for a, b in take:
                left.remove(a, b)
            fills.append((bid, take))
            quantity -= count(take)
            if not quantity:
                break
        return fills

    def take(self, lot: Lot, quantity: int) -> list[Range]:
        """Cut the lowest `quantity` serials off a lot; returns them as ranges."""
        ranges = lot.serials.lowest(quantity)
        self.take_ranges(lot, ranges)
        return ranges

    def take_ranges(self, lot: Lot, ranges: list[Range]) -> None:
        """Cut the given serials, each range inside one of the lot's, off the lot."""
        for first, last in ranges:
            lot.serials.remove(first, last)
            lot.remaining -= last - first + 1
        if not lot.remaining and self.orders.get(lot.order_id) is lot:   # a new lot never rested
            self.remove(lot)

    def check(self) -> None:
        """The book's own invariants, for the tests, read from the index and the bids (not from how lots are
        stored, then the buckets against them): each order is filed under its id; a lot is a non-empty set of
        ranges of its batch's serials that counts `remaining`, and no serial is in two lots; a bid still wants
        something; the bids are exactly the indexed bids, best then oldest. `assert`s, gone under `python -O`."""
        lots, bids, ranges = [], [], []
        for order_id, order in self.orders.items():
            assert order.order_id == order_id, f"{order.order_id} filed as {order_id}"
            assert order.price > 0, f"{order_id} at {order.price} fen"
            if isinstance(order, Lot):
                held = list(order.serials)
                assert held and order.remaining == count(held), \
                    f"lot {order_id} counts {order.remaining} in {held}"
                batch = order.batch
                for first, last in held:
                    assert batch.first <= first <= last <= batch.last, \
                        f"lot {order_id} [{first}, {last}] outside [{batch.first}, {batch.last}]"
                    ranges.append((first, last, order_id))
                lots.append(order)
            else:
                assert isinstance(order, Bid) and order.remaining > 0, f"{order_id} rests with nothing to buy"
                bids.append(order)
        ranges.sort()
        for a, b in zip(ranges, ranges[1:]):
            assert a[1] < b[0], f"lots {a[2]} and {b[2]} share serials from {b[0]}"
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


def count(ranges: list[Range]) -> int:
    """How many serials `ranges` hold."""
    if len(ranges) == 1:
        first, last = ranges[0]
        return last - first + 1
    return sum(last - first + 1 for first, last in ranges)
