"""The GEC book (DOMAIN M4, G4): lots of serial ranges against bids with attribute filters.

There is no single price ladder, since no two lots are the same goods. Lots rest in buckets by the attributes a
filter tests (`certx.books.buckets`), each bucket cheapest first, then oldest; bids highest first, then oldest, and
filed by the provinces and technologies their filters name (`certx.books.bids`). A new bid takes every lot it
crosses in the buckets its filter admits, cheapest then oldest across them; a new lot walks the bids that may want
it. A fill takes the lowest serials of a lot that the bid accepts: all of them for a bid without hours, so its
lowest serials; for a bid with hours (issue 13) those whose production hours meet its hour filter, which may be in
the middle of the lot. Either way a fill splits the lot's ranges.

Finding those hours reads the lot's curve, a step an hour. So a lot rests with its curve's `bounds` (for each hour
of the day, the most and the least kWh any of the month's certificates has from it), the buckets keep the widest
under each branch, and a bid with hours passes by, unread, every branch and lot whose bounds prove that none of
its certificates meets the filter (`certx.hours.mask.HourFilter.may_meet`). They bound every certificate of the
month, so they hold for whatever fills leave of a lot; and a lot's curve cannot change while it rests (a curve
attaches only to certificates not listed), so neither do they.

An aggregator's pooled lot (issue 13, `PooledLot`) is many owners' shares under one price: the book files it as any
public lot, by its uniform attributes, and counts what a bid takes of it; which serials a fill takes, and from whom,
is the pool's rule's (`PooledLot.allot`), not the lowest of the lot. Bids with hours pass pooled lots by.
"""
from __future__ import annotations

from sortedcontainers import SortedDict

from certx.books.buckets import Buckets, Named
from certx.books.bids import Bids, priority
from certx.hours.mask import HourFilter, eligible
from certx.hours.curve import Curve
from certx.hours.overlay import Overlay
from certx.pools.allocation import Rule, shares
from certx.registry.issuance import Batch, month_index
from certx.registry.serials import RangeSet
from certx.wire.commands import GecFilter

Range = tuple[int, int]


_BEFORE, _AFTER = float("-inf"), float("inf")      # no bound on the production month

BucketKey = tuple[str, str, bool, int]


def bucket_of(batch: Batch) -> BucketKey:
    """The attributes of a batch that a bid's filter tests (G4), in the order of the levels of the bucket tree."""
    return batch.province, batch.technology, batch.subsidised, batch.month


class Lot:
    """A seller's certificates at one price; addressed (M5) when it names the one `counterparty` who may lift it,
    in part only if `partial`.

    Listed as one serial range of one batch, a lot is a set of ranges (`serials`) once a bid with hours has taken
    from its middle; `remaining` counts its certificates, every one of `batch` (a pooled lot's are of its parts'
    batches: `PooledLot`)."""

    __slots__ = ("order_id", "account", "price", "serials", "remaining", "batch", "seq", "bucket", "counterparty",
                 "partial", "bounds")

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
        self.bounds: tuple[int, ...] | None = None     # its curve's, once it rests public (None: no hours)

    def batches(self) -> list[Batch]:
        """The batches its certificates are of."""
        return [self.batch]


class Part:
    """One share of a pooled lot: an owner's certificates of one batch, what is left of the range it listed."""

    __slots__ = ("owner", "batch", "serials", "remaining")

    def __init__(self, owner: str, batch: Batch, serials: RangeSet) -> None:
        self.owner = owner
        self.batch = batch
        self.serials = serials
        self.remaining = serials.count()


class PooledLot(Lot):
    """An agent's lot made of its principals' shares (issue 13): `account` is the agent, who lists and cancels it;
    `parts` the owners' shares in the order listed, each dropped once sold out; `serials` and `remaining` their
    union and total; `batch` the first part's, for the attributes every part shares (the lot's bucket). Always
    public (never addressed, M5)."""

    __slots__ = ("rule", "parts")

    def __init__(self, order_id: str, agent: str, price: int, rule: Rule, parts: list[Part], seq: int,
                 partial: bool = True) -> None:
        head = parts[0]
        first, last = next(iter(head.serials))
        super().__init__(order_id, agent, price, first, last, head.batch, seq, None, partial)
        self.remaining = 0
        self.serials = RangeSet()
        for part in parts:
            for a, b in part.serials:
                self.serials.add(a, b)
            self.remaining += part.remaining
        self.rule = rule
        self.parts = parts

    def batches(self) -> list[Batch]:
        return [part.batch for part in self.parts]

    def allot(self, quantity: int) -> list[tuple[Part, list[Range]]]:
        """A fill of `quantity`, shared by the pool's rule over what each part has left (`certx.pools.allocation`),
        each part giving its lowest serials. Mutates nothing."""
        parts = self.parts
        return [(part, part.serials.lowest(n))
                for part, n in zip(parts, shares(self.rule, [p.remaining for p in parts], quantity)) if n]


class Eligibility:
    """A bid's filter compiled once into sets, month bounds and its hours (None: it asks for none)."""

    __slots__ = ("provinces", "exclude", "technologies", "subsidised", "month_from", "month_to", "max_age", "hours",
                 "cells")

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
        self.cells: list[tuple[str | None, str | None]] | None = None     # where its bid is filed (`certx.books.bids`)

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


class Ladder:
    """What the market-data feed shows of the book (issue 14), kept as orders come, change and go: the public lots'
    quantity and number at each price, the bids' at each, and the lots' of each (province, technology) at each
    price. A quote reads the best few of each, not every resting order: it read them all, 15 ms a batch at
    100,000 resting lots. Addressed lots (M5) are never in it."""

    __slots__ = ("asks", "bids", "kinds")

    def __init__(self) -> None:
        self.asks: SortedDict = SortedDict()        # price -> [quantity, orders]
        self.bids: SortedDict = SortedDict()
        self.kinds: dict[tuple[str, str], SortedDict] = {}      # (province, technology) -> price -> [quantity, lots]

    def count(self, order: Lot | Bid, quantity: int, orders: int) -> None:
        """Take in (or, with negative numbers, out) `quantity` of a resting order, and `orders` of it."""
        if isinstance(order, Bid):
            _step(self.bids, order.price, quantity, orders)
            return
        price = order.price
        _step(self.asks, price, quantity, orders)
        key = order.bucket[:2]      # (province, technology): a pool's parts all share them
        kind = self.kinds.get(key)
        if kind is None:
            self.kinds[key] = SortedDict({price: [quantity, orders]})
            return
        _step(kind, price, quantity, orders)
        if not kind:
            del self.kinds[key]


def _step(levels: SortedDict, price: int, quantity: int, orders: int) -> None:
    level = levels.get(price)
    if level is None:
        levels[price] = [quantity, orders]
    else:
        level[0] += quantity
        level[1] += orders
        if not level[1]:
            del levels[price]


class GecBook:
    __slots__ = ("lots", "bids", "orders", "overlay", "ladder", "pools", "batches")

    def __init__(self, overlay: Overlay | None = None) -> None:
        self.lots = Buckets()               # the resting lots, in buckets
        self.bids = Bids()                  # the resting bids, highest first, then oldest; and by filter
        self.orders: dict[str, Lot | Bid] = {}       # insertion order: snapshots list them so
        self.overlay = overlay if overlay is not None else Overlay()     # the curves, for bids with hours
        self.ladder = Ladder()              # what a quote shows of them
        # the resting pooled lots by agent, in listing order: a mandate granted again reads its agent's alone, not
        # every resting order (registry syncs of thousands of mandates under a full book)
        self.pools: dict[str, dict[str, PooledLot]] = {}
        # how many of a batch's parts rest in public lots, by its first serial: a curve's attach asks (`listed`),
        # which read every lot of the batch's bucket (a distributed-PV bucket holds tens of thousands)
        self.batches: dict[int, int] = {}

    def rest(self, order: Lot | Bid) -> None:
        # An addressed lot (M5) is no bid's to take: it rests by its id only, for its counterparty to lift.
        # Only a public lot has bounds, for the bids that walk the buckets: a curve may attach under an addressed
        # one (`certx.engine.registry`), which no bid walks to.
        if isinstance(order, Bid):
            self.bids.add(order)
        elif order.counterparty is None:
            order.bounds = self.bounds_of(order)
            self.lots.add(order)
            self._count(order.batches(), 1)
            if isinstance(order, PooledLot):
                self.pools.setdefault(order.account, {})[order.order_id] = order
        else:
            self.orders[order.order_id] = order
            return
        self.ladder.count(order, order.remaining, 1)
        self.orders[order.order_id] = order

    def repool(self, standing: Lot, lot: PooledLot) -> None:
        """A snapshot's restore: the pooled lot `lot` in the place of the plain lot `standing` it rested as."""
        self.lots.remove(standing)
        self.orders[lot.order_id] = lot             # a dict keeps a key's place when its value changes
        self.lots.add(lot)
        self._count(standing.batches(), -1)
        self._count(lot.batches(), 1)
        self.pools.setdefault(lot.account, {})[lot.order_id] = lot

    def remove(self, order: Lot | Bid) -> None:
        if isinstance(order, Bid):
            self.bids.remove(order)
        elif order.counterparty is None:
            self.lots.remove(order)
            self._count(order.batches(), -1)
            if isinstance(order, PooledLot):
                mine = self.pools[order.account]
                del mine[order.order_id]
                if not mine:
                    del self.pools[order.account]
        else:
            del self.orders[order.order_id]
            return
        self.ladder.count(order, -order.remaining, -1)
        del self.orders[order.order_id]

    def fill_bid(self, bid: Bid, quantity: int) -> None:
        """A resting bid gets `quantity`: it wants that much less, and leaves the book once it wants nothing."""
        bid.remaining -= quantity
        self.ladder.count(bid, -quantity, 0)
        if not bid.remaining:
            self.remove(bid)

    def recount(self) -> None:
        """The ladder again from the resting orders (a snapshot's restore, which sets what rests in steps)."""
        self.ladder = self._counted()

    def _counted(self) -> Ladder:
        """A ladder counted afresh from the resting orders; addressed lots (M5) are not in it."""
        ladder = Ladder()
        for order in self.orders.values():
            if isinstance(order, Bid) or order.counterparty is None:
                ladder.count(order, order.remaining, 1)
        return ladder

    def listed(self, batch: Batch) -> bool:
        """Whether some of a batch's certificates rest in a public lot (the lots a bid may take)."""
        return batch.first in self.batches

    def _count(self, batches: list[Batch], step: int) -> None:
        for batch in batches:
            n = self.batches.get(batch.first, 0) + step
            if n:
                self.batches[batch.first] = n
            else:
                del self.batches[batch.first]

    def curve_for(self, batch: Batch) -> Curve | None:
        """The curve that gives a batch's certificates their hours, if any (issue 13)."""
        curve = self.overlay.curve_of(batch.project, batch.month)
        if curve is None or not curve.covers(batch.first, batch.last):     # a batch issued after its month's curve
            return None
        return curve

    def bounds_of(self, lot: Lot) -> tuple[int, ...] | None:
        """What a lot's certificates may offer a bid with hours (`Curve.bounds`): None for one without a curve,
        which offers none, and for a pooled lot, which such bids pass by (`lots_for`)."""
        curve = None if isinstance(lot, PooledLot) else self.curve_for(lot.batch)
        return None if curve is None else curve.bounds()

    def accepted(self, serials: RangeSet, batch: Batch, eligibility: Eligibility, quantity: int) -> list[Range]:
        """The lowest serials of `serials` (of `batch`) that a bid with `eligibility` accepts, at most `quantity`:
        the lowest of all for a bid without hours; for one with hours those whose hours meet them, and none
        without a curve (issue 13)."""
        hours = eligibility.hours
        if hours is None:
            return serials.lowest(quantity)
        curve = self.curve_for(batch)
        return [] if curve is None else eligible(curve, serials, hours, quantity)

    def lots_for(self, bid: Bid, quantity: int, today_month: int) -> list[tuple[Lot, list[Range]]]:
        """The fills a bid would get: eligible lots it crosses, cheapest then oldest, with the serials it would
        take of each. Mutates nothing."""
        fills = []
        accepted, eligibility, hours = self.accepted, bid.eligibility, bid.eligibility.hours
        for lot in self.lots.crossing(eligibility, bid.price, today_month):
            if hours is None:
                take = lot.serials.lowest(quantity)
                quantity -= min(quantity, lot.remaining)
            else:
                # Its bounds first: they rule out a lot without hours and, unread, one whose certificates cannot
                # meet the filter. A pooled lot has none: its fill is its rule's, not the serials whose hours meet
                # a filter, so it is passed by.
                bounds = lot.bounds
                if bounds is None or not hours.may_meet(bounds):
                    continue
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
        price, bucket = lot.price, lot.bucket
        bounds: tuple[int, ...] | None = None
        read = False            # its bounds, read when the first bid with hours admits the lot: most lots meet none
        # best first, so the bids that cross the lot lead: no search for where they end; and only those filed where
        # the lot's province and technology may be wanted (`certx.books.bids`)
        for bid in self.bids.admitting(bucket):
            if bid.price < price:
                break
            eligibility = bid.eligibility
            if not eligibility.admits(bucket, today_month):
                continue
            hours = eligibility.hours
            if hours is not None:           # bids with hours pass by a lot they prove useless, and a pooled lot
                if not read:
                    bounds, read = self.bounds_of(lot), True
                if bounds is None or not hours.may_meet(bounds):
                    continue
            want = min(quantity, bid.remaining)
            if left is None:
                if hours is None:         # the usual way, in one range: no copy of it
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
        taken = 0
        for first, last in ranges:
            lot.serials.remove(first, last)
            taken += last - first + 1
        lot.remaining -= taken
        if self.orders.get(lot.order_id) is lot:        # a new lot never rested
            if lot.counterparty is None:
                self.ladder.count(lot, -taken, 0)
            if not lot.remaining:
                self.remove(lot)

    def take_pooled(self, lot: PooledLot, quantity: int) -> list[tuple[Part, list[Range]]]:
        """Cut a fill of `quantity` off a pooled lot as its rule allots it; returns each part's serials. A part
        sold out leaves the pool, the lot's `batch` follows its first part."""
        allotted = lot.allot(quantity)
        for part, ranges in allotted:
            for first, last in ranges:
                part.serials.remove(first, last)
                part.remaining -= last - first + 1
        if any(not part.remaining for part, _ in allotted):
            if self.orders.get(lot.order_id) is lot:        # resting: its sold-out parts' batches leave it
                self._count([part.batch for part in lot.parts if not part.remaining], -1)
            lot.parts = [part for part in lot.parts if part.remaining]
            if lot.parts:
                lot.batch = lot.parts[0].batch
        self.take_ranges(lot, [r for _, ranges in allotted for r in ranges])
        return allotted

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
                assert order.bounds == (self.bounds_of(order) if order.counterparty is None else None), \
                    f"lot {order_id} rests with the bounds of another curve"
                if isinstance(order, PooledLot):
                    _check_pool(order)
                else:
                    batch = order.batch
                    for first, last in held:
                        assert batch.first <= first <= last <= batch.last, \
                            f"lot {order_id} [{first}, {last}] outside [{batch.first}, {batch.last}]"
                ranges += [(first, last, order_id) for first, last in held]
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
        keys = [priority(b) for b in resting]
        assert keys == sorted(keys), "bids out of priority"
        self.bids.check()
        # the buckets hold exactly the public lots; an addressed lot (M5) rests by its id only
        public = {id(lot) for lot in lots if lot.counterparty is None}
        pooled = [lot for lot in lots if isinstance(lot, PooledLot)]
        counted: dict[int, int] = {}
        for lot in lots:
            if lot.counterparty is None:
                for batch in lot.batches():
                    counted[batch.first] = counted.get(batch.first, 0) + 1
        assert self.batches == counted, "the batches counted are not the public lots'"
        assert [(a, list(mine)) for a, mine in sorted(self.pools.items())] == \
            [(a, [lot.order_id for lot in pooled if lot.account == a]) for a in sorted({lot.account for lot in pooled})] \
            and all(mine[k] is self.orders[k] for mine in self.pools.values() for k in mine), \
            "the pools by agent are not the resting pooled lots"
        assert {id(lot) for lot in self.lots} == public and len(self.lots) == len(public), \
            "the buckets are not the public lots"
        self.lots.check()
        again = self._counted()
        assert (dict(self.ladder.asks), dict(self.ladder.bids)) == (dict(again.asks), dict(again.bids)), \
            "the ladder is not the resting orders'"
        assert {k: dict(v) for k, v in self.ladder.kinds.items()} == {k: dict(v) for k, v in again.kinds.items()}, \
            "the ladder's kinds are not the resting lots'"


def _check_pool(lot: PooledLot) -> None:
    """A pooled lot's parts: each a non-empty set of its batch's serials counting its `remaining`, all of the
    lot's bucket and public; together exactly the lot's serials."""
    assert lot.counterparty is None, f"pooled lot {lot.order_id} is addressed"
    assert lot.parts and lot.batch is lot.parts[0].batch, f"pooled lot {lot.order_id}: its batch is not its first part's"
    union = RangeSet()
    for part in lot.parts:
        held, batch = list(part.serials), part.batch
        assert held and part.remaining == count(held), f"pooled lot {lot.order_id}: {part.owner} counts {part.remaining}"
        assert bucket_of(batch) == lot.bucket, f"pooled lot {lot.order_id}: {batch.project} is not of its attributes"
        for first, last in held:
            assert batch.first <= first <= last <= batch.last, \
                f"pooled lot {lot.order_id}: {part.owner} [{first}, {last}] outside its batch"
            union.add(first, last)          # raises if two parts share a serial
    assert list(union) == list(lot.serials), f"pooled lot {lot.order_id}: its parts are not its serials"


def count(ranges: list[Range]) -> int:
    """How many serials `ranges` hold."""
    if len(ranges) == 1:
        first, last = ranges[0]
        return last - first + 1
    return sum(last - first + 1 for first, last in ranges)
