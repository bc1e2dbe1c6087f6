"""Engine snapshots (DESIGN 2): one market engine's whole state as data, in the versioned format of
`certx.engine.image`, with the state's hash. Reading one decodes data and builds the engine from it; nothing in
a snapshot can run code.

    blob = dump(engine, position)               # position: the caller's, e.g. the matcher's next input offset
    engine, position = load(blob, rules)        # SnapshotError: replay the log instead

`load` refuses bytes that do not decode, another version, a hash that does not verify, an unknown market, and a
state that does not rebuild to itself: the rebuilt engine is captured again and must encode to the very bytes it
was built from. The listing books, and the order ids resting in them, are checked another way, because capturing
millions of resting orders again would add some 40% to the load (loadtest/snapshot_bench.py): they are rebuilt
whole from their columns, under checks that are exactly what makes their capture give the same bytes back:
columns of one length, no order without a remaining quantity, account and level indexes in range, level prices
strictly in priority order, no empty level, no order id twice, and the other order ids sorted and apart. What the
hours of issue 13 add (curves, lots in several ranges, bids with hours: `image.Hours`) is rebuilt under the
overlay's rules and captured again like the engine.
"""
from __future__ import annotations

import hashlib
import zlib
from operator import attrgetter

import msgspec

from certx.accounts import Wallet
from certx.books.auction import Auction, SealedBid
from certx.books.block import Offer
from certx.books.gec import Bid, Eligibility, Lot, Part, PooledLot, bucket_of
from certx.books.listing import ListingBook, Resting
from certx.engine import image
from certx.engine.compliance import HeldLeg
from certx.engine.engine import Engine
from certx.engine.product import Product
from certx.hours.clock import month_hours
from certx.hours.curve import from_bytes, to_bytes
from certx.hours.mask import HourFilter
from certx.pools.mandates import Mandate
from certx.registry.issuance import Batch
from certx.registry.serials import RangeSet
from certx.rules import DEFAULT, Rules
from certx.wire.routing import PARTITION

# Prices from commands are kept as `Price`, an int the wire writes as yuan; here they are the ints they are.
_encode = msgspec.msgpack.Encoder(enc_hook=int).encode
_stamp = msgspec.msgpack.Decoder(image.Stamp).decode
_snapshot = msgspec.msgpack.Decoder(image.Snapshot).decode
_parts = msgspec.msgpack.Decoder(image.Parts).decode
_engine = msgspec.msgpack.Decoder(image.Engine).decode
_books = msgspec.msgpack.Decoder(list[image.Book]).decode
_hours = msgspec.msgpack.Decoder(image.Hours | None).decode
_pools = msgspec.msgpack.Decoder(image.Pools | None).decode

_ORDER_ID, _ACCOUNT, _REMAINING = attrgetter("order_id"), attrgetter("account"), attrgetter("remaining")
_SIDE_AND_PRICE = attrgetter("is_buy", "price")


# A snapshot's state, uncompressed, may be no larger than this: a small record must not make the matcher
# allocate without bound (only the matcher may write snapshots, but a snapshot is checked, not trusted).
MAX_STATE = 4 * 1024**3


class SnapshotError(ValueError):
    """A snapshot that cannot be trusted; the caller replays the log instead (DESIGN 2)."""


def state_hash(market: str, position: int, data: bytes) -> str:
    """The hash covers where the state stands too: a snapshot moved to another market or position fails it."""
    return hashlib.sha256(f"{market}:{position}:".encode() + data).hexdigest()


def dump(engine: Engine, position: int) -> bytes:
    data = state(engine)
    return _encode(image.Snapshot(image.VERSION, engine.market, position, state_hash(engine.market, position, data),
                                  zlib.compress(data, 1)))


def state(engine: Engine) -> bytes:
    """The canonical encoding of the engine's state, with no header: two engines in the same state give the
    same bytes."""
    index = {account: i for i, account in enumerate(engine.wallets)}
    parts = (_capture(engine), [_book(p.book, index) for p in engine.products.values()])
    hours, pools = _hours_of(engine), _pools_of(engine)
    # The optional parts trail, each written only when there is any (an empty one before a written one is nil),
    # so a state without them has the bytes it always had.
    if pools is not None:
        return _encode((*parts, hours, pools))
    return _encode(parts if hours is None else (*parts, hours))


def load(data: bytes, rules: Rules = DEFAULT) -> tuple[Engine, int]:
    """The engine a snapshot holds, and the position its caller stored with it."""
    try:
        version = _stamp(data).version
    except msgspec.DecodeError as e:
        raise SnapshotError(f"not a certx snapshot: {e}") from None
    if version != image.VERSION:
        raise SnapshotError(f"a version {version} snapshot; this engine reads version {image.VERSION}")
    try:
        snap = _snapshot(data)
        inflate = zlib.decompressobj()
        data = inflate.decompress(snap.state, MAX_STATE)
    except (msgspec.DecodeError, zlib.error) as e:
        raise SnapshotError(f"the snapshot does not decode: {e}") from None
    if inflate.unconsumed_tail or not inflate.eof:
        raise SnapshotError(f"the state is truncated, or larger than {MAX_STATE:,} bytes")
    if snap.market not in PARTITION:
        raise SnapshotError(f"no market {snap.market!r}")
    if state_hash(snap.market, snap.position, data) != snap.state_hash:
        raise SnapshotError("the state does not match its hash")
    try:
        parts = _parts(data)
        saved, books = _engine(parts.engine), _books(parts.books)
        hours = _hours(parts.hours) if parts.hours else None
        pools = _pools(parts.pools) if parts.pools else None
        engine = _rebuild(saved, books, hours, snap.market, rules)
        if pools is not None:
            _pools_again(engine, pools)
        engine.lots.recount()
    except (msgspec.DecodeError, LookupError, ValueError, TypeError) as e:
        raise SnapshotError(f"the state does not rebuild: {e}") from None
    if _encode(_capture(engine, saved.order_ids)) != bytes(parts.engine):
        raise SnapshotError("the rebuilt engine is not the one saved")
    if hours is not None and _encode(_hours_of(engine)) != bytes(parts.hours):
        raise SnapshotError("the rebuilt hours are not the ones saved")
    if pools is not None and _encode(_pools_of(engine)) != bytes(parts.pools):
        raise SnapshotError("the rebuilt pools are not the ones saved")
    return engine, snap.position


# --- engine -> image ---------------------------------------------------------------------------------------------

def _capture(engine: Engine, other_ids: list[str] | None = None) -> image.Engine:
    """The engine without its listing books. `other_ids`, the order ids not resting in a listing book, when the
    caller has them already checked (a restore)."""
    owner: dict[int, tuple[str, str]] = {}
    wallets = []
    for w in engine.wallets.values():
        positions = []
        for product, pos in w.positions.items():
            owner[id(pos)] = (w.account, product)
            positions.append(image.Position(product, pos.free, pos.held, pos.locked))
        wallets.append(image.Wallet(w.account, w.broker, w.cash, w.cash_held, positions))
    if other_ids is None:
        other_ids = sorted(engine.order_ids.difference(*(p.book.orders for p in engine.products.values())))
    return image.Engine(
        commands=engine.commands, seq=engine.seq, trades=engine.trades,
        date=engine.date, last_date=engine.last_date,
        wallets=wallets, locked=[owner[id(pos)] for pos in engine.locked],
        products=[image.Product(p.name, p.close, p.listing_bps, p.block_bps, p.pending, _fields(p.day, image.Day))
                  for p in engine.products.values()],
        offers=[_fields(o, image.Offer) for o in engine.blocks.offers.values()],
        auctions=[image.Auction(a.auction_id, a.product, a.seller, a.quantity, a.reserve, a.closes_at_ms,
                                [_fields(b, image.SealedBid) for b in a.bids]) for a in engine.auctions.values()],
        batches=[_fields(b, image.Batch) for b in engine.issuance.batches()],
        ccer_years={project: sorted(years) for project, years in engine.issuance.ccer_years.items()},
        serials={account: list(held) for account, held in engine.serials.items()},
        cancelled=list(engine.cancelled), retired=list(engine.retired), surrendered=engine.surrendered,
        surrenders=[image.HeldLeg(ref, h.account, h.compliance_year, h.units, h.legs)
                    for ref, h in engine.surrenders.items()],
        decided=sorted(engine.decided),
        gec_orders=[_lot(o) if isinstance(o, Lot) else _bid(o) for o in engine.lots.orders.values()],
        order_ids=other_ids,
        command_ids={actor: sorted(ids) for actor, ids in engine.command_ids.items()},
        cash_total=engine.cash_total,
    )


def _pools_of(engine: Engine) -> image.Pools | tuple | None:
    """What the aggregators add, None if nothing; without pooled lots, the mandates alone (as `Pools` was
    written before them: an array-like struct writes its defaults)."""
    mandates = [_fields(m, image.Mandate) for m in engine.mandates.by_pair.values()]
    lots = [image.PooledLot(o.order_id, o.rule, [image.PoolPart(p.owner, list(p.serials)) for p in o.parts])
            for o in engine.lots.orders.values() if isinstance(o, PooledLot)]
    if lots:
        return image.Pools(mandates, lots)
    return (mandates,) if mandates else None


def _pools_again(engine: Engine, pools: image.Pools) -> None:
    for m in pools.mandates:
        engine.mandates.grant(Mandate(m.agent, m.owner, m.project, m.filing_code, m.valid_from, m.valid_to))
    book, issuance = engine.lots, engine.issuance
    for saved in pools.lots:
        # The lot as `gec_orders` rested it: a plain lot of the first part's lowest range, replaced in its place
        # in the book's order (a dict keeps a key's place when its value changes).
        standing = book.orders.get(saved.order_id)
        if type(standing) is not Lot or standing.counterparty is not None or len(standing.serials) != 1 \
                or not saved.parts:
            raise SnapshotError(f"pooled lot {saved.order_id} is not one lot of one range in the GEC book")
        if saved.rule not in ("fifo", "pro_rata"):
            raise SnapshotError(f"pooled lot {saved.order_id}: no rule {saved.rule!r}")
        parts = []
        for p in saved.parts:
            serials = _ranges(p.serials)
            if not serials or p.owner not in engine.wallets or list(serials) != [tuple(r) for r in p.serials]:
                raise SnapshotError(f"pooled lot {saved.order_id}: {p.owner}'s part is not ranges in order, apart")
            first, last = serials.span()
            batch = issuance.batch_of(first, first)
            if batch is None or last > batch.last or bucket_of(batch) != standing.bucket:
                raise SnapshotError(f"pooled lot {saved.order_id}: {p.owner}'s part is not in one batch of its "
                                    f"attributes")
            parts.append(Part(p.owner, batch, serials))
        if list(parts[0].serials)[0] != next(iter(standing.serials)):
            raise SnapshotError(f"pooled lot {saved.order_id}: its first part does not begin its lot")
        lot = PooledLot(standing.order_id, standing.account, standing.price, saved.rule, parts, standing.seq,
                        standing.partial)
        book.repool(standing, lot)


def _hours_of(engine: Engine) -> image.Hours | None:
    """What the hours add to the engine (issue 13), None if nothing: the curves, the ranges after the first of
    the lots in several, the hours of the bids that have them."""
    lots, bids = [], []
    for o in engine.lots.orders.values():
        if isinstance(o, Lot):
            if len(o.serials) > 1 and not isinstance(o, PooledLot):       # a pooled lot's are the pools'
                lots.append((o.order_id, list(o.serials)[1:]))
        elif o.eligibility.hours is not None:
            h = o.eligibility.hours
            bids.append((o.order_id, image.HourFilter(h.mask, h.start, h.end, h.need)))
    curves = [image.Curve(c.project, c.month, c.carry_in, list(c.ranges), to_bytes(c.cum))
              for c in engine.curves.curves.values()]
    return image.Hours(curves, lots, bids) if curves or lots or bids else None


def _fields(obj: object, kind: type[msgspec.Struct]) -> msgspec.Struct:
    """`obj` as the image `kind`: its attributes named as the image's fields."""
    return kind(*[getattr(obj, name) for name in kind.__struct_fields__])


def _lot(lot: Lot) -> image.Lot:
    """A lot with its first range; any others are in the hours' part (`_hours_of`). A pooled lot with its first
    part's first range, the rest in the pools' part (`_pools_of`)."""
    first, last = next(iter(lot.parts[0].serials if isinstance(lot, PooledLot) else lot.serials))
    return image.Lot(lot.order_id, lot.account, lot.price, first, last, lot.seq, lot.counterparty, lot.partial)


def _bid(bid: Bid) -> image.Bid:
    el = bid.eligibility
    return image.Bid(bid.order_id, bid.account, bid.price, bid.remaining,
                     image.Filter(_sorted(el.provinces), sorted(el.exclude), _sorted(el.technologies), el.subsidised,
                                  el.month_from, el.month_to, el.max_age),
                     bid.beneficiary, bid.seq)


def _sorted(names: frozenset[str] | None) -> list[str] | None:
    return None if names is None else sorted(names)


def _book(book: ListingBook, index: dict[str, int]) -> image.Book:
    bids, asks = book.bids.prices(), book.asks.prices()
    level_of = {(True, price): i for i, price in enumerate(bids)}
    level_of.update(((False, price), len(bids) + i) for i, price in enumerate(asks))
    orders = list(book.orders.values())
    return image.Book(bids, asks, list(map(_ORDER_ID, orders)), list(map(index.__getitem__, map(_ACCOUNT, orders))),
                      list(map(_REMAINING, orders)), list(map(level_of.__getitem__, map(_SIDE_AND_PRICE, orders))))


# --- image -> engine ---------------------------------------------------------------------------------------------

def _rebuild(saved: image.Engine, books: list[image.Book], hours: image.Hours | None, market: str,
             rules: Rules) -> Engine:
    engine = Engine(market, rules)
    engine.commands, engine.seq, engine.trades = saved.commands, saved.seq, saved.trades
    engine.set_day(saved.date)
    engine.last_date = saved.last_date
    for w in saved.wallets:
        wallet = engine.wallets[w.account] = Wallet(w.account, w.broker)
        wallet.cash, wallet.cash_held = w.cash, w.cash_held
        for p in w.positions:
            pos = wallet.position(p.product)
            pos.free, pos.held, pos.locked = p.free, p.held, p.locked
    engine.locked = [engine.wallets[account].positions[product] for account, product in saved.locked]
    if len(books) != len(saved.products):
        raise SnapshotError(f"{len(books)} listing books for {len(saved.products)} products")
    accounts = list(engine.wallets)
    engine.products = {}
    for p, book in zip(saved.products, books):
        product = engine.products[p.name] = Product(p.name, p.listing_bps, p.block_bps)
        product.close, product.pending = p.close, p.pending
        for name, value in zip(image.Day.__struct_fields__, msgspec.structs.astuple(p.day)):
            setattr(product.day, name, value)
        product.rebuild_bands()
        _refill(product.book, book, accounts)
    for o in saved.offers:
        engine.blocks.offers[o.order_id] = Offer(o.order_id, o.account, o.product, o.is_buy, o.price, o.remaining,
                                                 o.counterparty, o.partial)
    for a in saved.auctions:
        auction = engine.auctions[a.auction_id] = Auction(a.auction_id, a.product, a.seller, a.quantity, a.reserve,
                                                          a.closes_at_ms)
        auction.bids = [SealedBid(b.order_id, b.account, b.price, b.quantity) for b in a.bids]
    engine.schedule_next_close()
    _reissue(engine, saved)
    if hours is not None:
        _curves_again(engine, hours)        # before the lots, which rest with their curves' bounds
    _rest(engine, saved)
    if hours is not None:
        _hours_again(engine, hours)
    _order_ids(engine, saved.order_ids)
    engine.command_ids = {actor: set(ids) for actor, ids in saved.command_ids.items()}
    engine.cash_total = saved.cash_total
    return engine


def _reissue(engine: Engine, saved: image.Engine) -> None:
    """The registry's record and the holdings. Recording the batches again rebuilds what follows from them (the
    issued ranges, the GEC years)."""
    issuance = engine.issuance
    for b in saved.batches:
        batch = Batch(b.project, b.province, b.technology, b.production_month, b.subsidised, b.first, b.last,
                      b.valid_through)
        batch.expired = b.expired
        issuance.record_gec(batch)
    issuance.ccer_years = {project: set(years) for project, years in saved.ccer_years.items()}
    engine.serials = {account: _ranges(held) for account, held in saved.serials.items()}
    engine.cancelled, engine.retired = _ranges(saved.cancelled), _ranges(saved.retired)
    engine.surrendered = saved.surrendered
    engine.surrenders = {h.ref: HeldLeg(h.account, h.compliance_year, h.units, h.legs) for h in saved.surrenders}
    engine.decided = set(saved.decided)


def _rest(engine: Engine, saved: image.Engine) -> None:
    """The GEC book's lots and bids: a lot's batch is the one holding its serials, the same object (`is`)."""
    issuance = engine.issuance
    for o in saved.gec_orders:
        if isinstance(o, image.Lot):
            batch = issuance.batch_of(o.first, o.last)
            if batch is None:
                raise SnapshotError(f"lot {o.order_id}: [{o.first}, {o.last}] is not inside one batch")
            engine.lots.rest(Lot(o.order_id, o.account, o.price, o.first, o.last, batch, o.seq, o.counterparty,
                                 o.partial))
        else:
            engine.lots.rest(Bid(o.order_id, o.account, o.price, o.remaining, _eligibility(o.filter), o.beneficiary,
                                 o.seq))


def _curves_again(engine: Engine, hours: image.Hours) -> None:
    """The curves (issue 13), each on whole batches of its project-month, under the overlay's rules."""
    issuance = engine.issuance
    for c in hours.curves:
        ranges = [(first, last) for first, last in c.serials]
        for first, last in ranges:
            b = issuance.batch_of(first, last)
            if b is None or (b.project, b.month, b.first, b.last) != (c.project, c.month, first, last):
                raise SnapshotError(f"the curve of {c.project} {c.month}: [{first}, {last}] is not one of its batches")
        engine.curves.restore(c.project, c.month, c.carry_in, ranges, from_bytes(c.cum, month_hours(c.month)))


def _hours_again(engine: Engine, hours: image.Hours) -> None:
    """The lots' other ranges (after the first, in order and apart, in its batch) and the bids' hours (issue 13)."""
    issuance = engine.issuance
    book = engine.lots
    for order_id, more in hours.lots:
        lot = book.orders[order_id]
        if not isinstance(lot, Lot) or not more:
            raise SnapshotError(f"{order_id} has no other ranges to take")
        end = lot.serials.span()[1]
        for first, last in more:
            if first <= end + 1 or last < first or issuance.batch_of(first, last) is not lot.batch:
                raise SnapshotError(f"lot {order_id}: [{first}, {last}] does not follow its other ranges")
            lot.serials.add(first, last)
            lot.remaining += last - first + 1
            end = last
    for order_id, h in hours.bids:
        bid = book.orders[order_id]
        if not isinstance(bid, Bid):
            raise SnapshotError(f"{order_id} is not a bid")
        bid.eligibility.hours = HourFilter(h.mask, h.start, h.end, h.need)


def _ranges(pairs: list[image.Range]) -> RangeSet:
    ranges = RangeSet()
    for first, last in pairs:
        ranges.add(first, last)
    return ranges


def _eligibility(f: image.Filter) -> Eligibility:
    el = Eligibility(None)      # accepts anything; narrowed to the saved filter
    el.provinces = None if f.provinces is None else frozenset(f.provinces)
    el.exclude = frozenset(f.exclude)
    el.technologies = None if f.technologies is None else frozenset(f.technologies)
    el.subsidised, el.month_from, el.month_to, el.max_age = f.subsidised, f.month_from, f.month_to, f.max_age
    return el


def _refill(book: ListingBook, saved: image.Book, accounts: list[str]) -> None:
    """A listing book from its columns, under the checks that stand in for capturing it again (see above); the
    book checks its levels and ids itself."""
    n = len(saved.order_ids)
    places = len(saved.bids) + len(saved.asks)
    if len(saved.accounts) != n or len(saved.remaining) != n or len(saved.levels) != n or n and (
            min(saved.remaining) < 1 or min(saved.accounts) < 0 or max(saved.accounts) >= len(accounts)
            or min(saved.levels) < 0 or max(saved.levels) >= places):
        raise SnapshotError(f"{book.product}: malformed columns of resting orders")
    sides = [True] * len(saved.bids) + [False] * len(saved.asks)
    prices = saved.bids + saved.asks
    orders = list(map(Resting, saved.order_ids, map(accounts.__getitem__, saved.accounts),
                      map(sides.__getitem__, saved.levels), map(prices.__getitem__, saved.levels), saved.remaining))
    book.refill(saved.bids, saved.asks, orders, saved.levels)


def _order_ids(engine: Engine, others: list[str]) -> None:
    """Today's order ids: the others, and the ones resting in the listing books, each once."""
    ids = set(others)
    resting = 0
    for product in engine.products.values():
        ids.update(product.book.orders)
        resting += len(product.book.orders)
    if len(ids) != len(others) + resting or any(a >= b for a, b in zip(others, others[1:])):
        raise SnapshotError("the order ids are not each once and in order")
    engine.order_ids = ids
