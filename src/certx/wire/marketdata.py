"""Market data: what the matcher publishes on `certx.marketdata` (issue 14), a quote per product.

A quote is the public face of one product's book and day as of a position in its market's event stream: the
best five price levels each side, the day's last listing trade, open, high, low and volumes (D3, D5), today's band
limits (B1, B2), and for GEC the cheapest public lot of each province and technology (M4; addressed lots, M5, are
private and never quoted). It names no account and no order id: anyone may read the feed.

`seq` is the position of the last event that changed the product: a quote holds exactly the state those events
left, so the same log always gives the same quote for the same `seq` (certx.marketdata).
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from certx.money import Fen

VERSION = 1             # the layout of `Quote`; a reader checks it before it reads the rest
DEPTH = 5               # levels a side: as deep as a lift may reach (M1)

Level = tuple[Fen, int, int]                 # price, total quantity, orders
Band = tuple[Fen, Fen]                       # lower and upper limit, both allowed
Cheapest = tuple[str, str, Fen, int]         # province, technology, price, quantity at that price
Depth = Annotated[list[Level], msgspec.Meta(max_length=DEPTH)]


class Quote(msgspec.Struct, tag_field="type", tag="quote", kw_only=True, forbid_unknown_fields=True, gc=False):
    """One product after a batch that changed it. Prices are yuan strings, as everywhere on the wire. Every field
    is always there (null where it has no value), so a reader needs no defaults."""

    version: int
    market: str
    product: str
    date: dt.date | None            # the trading day the figures are of; None before the market's first session
    session: Literal["open", "closed"]  # "open", or "closed": the day's figures stay until the next day opens
    seq: int                        # the last event of the market's stream that changed this product
    bids: Depth                     # best first, at most 5 levels (M1: how deep a lift may go)
    asks: Depth
    last: Fen | None                # today's latest listing trade (block and auction trades never set it)
    last_quantity: int
    open: Fen | None                # D3: today's first listing trade, else the previous close
    high: Fen | None
    low: Fen | None
    listing_volume: int             # today's units traded, by mode (D5)
    block_volume: int
    auction_volume: int
    listing_band: Band | None       # B1 today; None: no band (GEC) or no reference price yet (B4)
    block_band: Band | None         # B2 today, likewise
    lots: list[Cheapest] | None     # GEC: the cheapest public lot of each (province, technology), sorted; else None
