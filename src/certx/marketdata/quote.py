"""Quotes from the engine's state: which products a batch changed, and each one's quote after it. Pure.

A batch's events say which products it changed. An event that names a product changes that product, and a 24/7
match's `gec.allocated` those of its trades (if any); an event that names none but can move every book or band of
the market changes them all: a cancel or an expiry (whose order could be in any book), a session opening or closing
(a new day, new bands, books emptied), GEC certificates expiring (their lots withdrawn, G2). An issuance may list a
new product (CCER, P2), so it counts too. Refusals change nothing (DOMAIN: a refused command changes no state), nor
do accounts and cash, which no quote shows.

Each changed product gets one quote, conflated over the batch, with the `seq` of the last event of the batch that
changed it. Since every change to what a quote shows comes with such an event, the quote equals the one a batch
ending with that event's command would give: the feed of any batching (the matcher's fetches) is, quote for
quote, byte for byte, a subsequence of the feed of one command a batch (`certx replay --quotes`), and a replay
of the log gives the same quotes.
"""
from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Iterable

from certx.books.listing import Side
from certx.money import Fen
from certx.wire import events as e
from certx.wire.marketdata import DEPTH, VERSION, Band, Cheapest, Level, Quote

if TYPE_CHECKING:
    from certx.engine import Engine
    from certx.engine.product import Product

# `issued`: a CCER issuance lists its product in the market when it is new (P2); rare enough to quote each time
_NAMED = frozenset((e.OrderAccepted, e.Trade, e.ProductListed, e.Issued))
_EVERY = frozenset((e.OrderCancelled, e.OrderExpired, e.SessionOpened, e.SessionClosed, e.CertificatesExpired))


class Changes:
    """What one batch of one market changed: product -> the seq of the last event that changed it, and the seq of
    the last event that changed every product (-1: none)."""

    __slots__ = ("last", "every")

    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self.every = -1

    def note(self, events: Iterable[e.Event]) -> None:
        """Take in one command's events (in order, after `Engine.apply` has numbered them)."""
        for event in events:
            kind = type(event)
            if kind in _NAMED:
                self.last[event.product] = event.seq
            elif kind in _EVERY:
                self.every = event.seq
            elif kind is e.Allocated:           # a 24/7 match: its trades take from the book like any other's
                for trade in event.trades:
                    self.last[trade.product] = event.seq

    def seqs(self, products: Iterable[str]) -> list[tuple[int, str]]:
        """(seq, product) of each changed product among `products`, in stream order."""
        every, last = self.every, self.last
        out = []
        for name in products:
            seq = max(last.get(name, -1), every)
            if seq >= 0:
                out.append((seq, name))
        out.sort()
        return out


def quotes(engine: Engine, changes: Changes) -> list[Quote]:
    """One quote for each product the batch changed, in the order of the events that last changed them (a
    product listed in this batch, or changed only by `every`, comes in the order of its seq, then its name)."""
    changed = changes.seqs(engine.products)
    if not changed:
        return []
    gec = _gec_sides(engine) if engine.market == "GEC" else None
    out = []
    for seq, name in changed:
        product = engine.products[name]
        if gec is not None:
            bids, asks, lots = gec
        else:
            bids, asks, lots = _levels(product.book.bids), _levels(product.book.asks), None
        out.append(_quote(engine, product, seq, bids, asks, lots))
    return out


def _quote(engine: Engine, product: Product, seq: int, bids: list[Level], asks: list[Level],
           lots: list[Cheapest] | None) -> Quote:
    day = product.day
    is_open = engine.date is not None
    return Quote(
        version=VERSION, market=engine.market, product=product.name, seq=seq,
        date=engine.date if is_open else engine.last_date, session="open" if is_open else "closed",
        bids=bids, asks=asks, last=_fen(day.last), last_quantity=day.last_quantity,
        open=_fen(product.opening()), high=_fen(day.high), low=_fen(day.low),
        listing_volume=day.listing_volume, block_volume=day.block_volume, auction_volume=day.auction_volume,
        listing_band=_band(product.listing_bps, product.listing_limits),
        block_band=_band(product.block_bps, product.block_limits),
        lots=lots)


def _fen(value: int | None) -> Fen | None:
    return None if value is None else Fen(value)


def _band(bps: int | None, limits: tuple[int, int] | None) -> Band | None:
    # bps None: the market has no band (GEC), and the engine's limits are then (0, 2^62), which no one should read
    # as prices; limits None: no reference price yet (B4)
    if bps is None or limits is None:
        return None
    return Fen(limits[0]), Fen(limits[1])


def _levels(side: Side) -> list[Level]:
    """The best levels of a listing book's side, each with the quantity and the number of orders it counts: not
    read from its queue, which may still hold any number of dead orders (remaining 0, skipped when they reach the
    front): a broker resting and cancelling orders behind one at the best price made every quote read them all."""
    out = []
    levels, sign = side.levels, side.sign
    for key in islice(reversed(side.keys), DEPTH):
        price = sign * key
        level = levels[price]
        out.append((Fen(price), level.quantity, level.live))
    return out


def _gec_sides(engine: Engine) -> tuple[list[Level], list[Level], list[Cheapest]]:
    """GEC has no single ladder (P3): its asks are the public lots by price, its bids the resting bids by price
    whatever their filters, and `lots` the cheapest public lot of each (province, technology) with the quantity at
    that price. Its bids and asks may overlap: a bid's filter may refuse the cheaper lots (G4). Read from the book's
    ladder (`certx.books.gec.Ladder`), which counts them as orders come and go: the best few levels, not every
    resting order. Addressed lots (M5) are their counterparty's business and never quoted."""
    ladder = engine.lots.ladder
    bids, asks = ladder.bids, ladder.asks
    return ([(Fen(p), *bids[p]) for p in islice(reversed(bids), DEPTH)],
            [(Fen(p), *asks[p]) for p in islice(asks, DEPTH)],
            [(province, technology, Fen(price), level[0])
             for (province, technology), kind in sorted(ladder.kinds.items())
             for price, level in islice(kind.items(), 1)])
