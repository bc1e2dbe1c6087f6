"""Hand-made events for the report's tests: a few days of a few products, as the engines publish them."""
from __future__ import annotations

import datetime as dt

from certx import money
from certx.money import Fen
from certx.wire import events as e
from certx.wire.routing import market_of_product


def fen(text: str | None) -> Fen | None:
    return None if text is None else money.parse(text)


def listed(product: str, reference: str | None) -> e.ProductListed:
    return e.ProductListed(product=product, reference_price=fen(reference), market=market_of_product(product))


def opened(date: str, market: str = "CEA") -> e.SessionOpened:
    return e.SessionOpened(date=dt.date.fromisoformat(date), market=market)


def day(product: str, date: str, close: str | None, *, high: str | None = None, low: str | None = None,
        listing: int = 0, block: int = 0, auction: int = 0, listing_value: str = "0", block_value: str = "0",
        open_: str | None = None) -> e.DaySummary:
    """A product's day summary (D5); open defaults to the close, high and low to none (no listing trade)."""
    return e.DaySummary(
        product=product, date=dt.date.fromisoformat(date), open=fen(open_ or close), high=fen(high), low=fen(low),
        close=fen(close), listing_volume=listing, listing_value=fen(listing_value), block_volume=block,
        block_value=fen(block_value), auction_volume=auction, auction_value=Fen(0), market=market_of_product(product))
