"""What a snapshot holds (format version 2): one market engine's state as plain msgspec Structs, encoded as
msgpack. Data only: decoding it builds lists, strings and numbers, never runs code (DESIGN 2).

A snapshot is a `Snapshot`: the header (version, market, the caller's position, the state's SHA-256), then the
state's encoding compressed with zlib. The state is a `State`: the engine without its listing books
(`Engine`), then those books (`Book`), kept apart because they are the bulk of a busy day and are rebuilt and
checked in a way of their own (see `certx.engine.snapshot`), then, only when there is any, what the hours of
issue 13 add (`Hours`).

A field added to an array-like Struct is written even at its default (msgspec writes every field of an array), so
what issue 13 adds is not in `Engine`, `Lot` or `Filter` but in a part of its own, left out when it is empty: an
engine without curves, lots in several ranges or bids with hours encodes as it did before, and a snapshot from
before decodes (a missing trailing part or field takes its default).

Arrays, not maps (`array_like`): no field names in the bytes, so encoding, decoding and the size stay small;
the version names the layout. Whatever the engine derives is not here: the session windows (from the date and
the rules), the next auction close, the bands (from the close), the issued ranges and the GEC years (from the
batches), a lot's batch (the batch holding its serials), a level's live count and the handler table.
Everything the engine keeps in order is kept in that order; its sets are sorted, so one state has one encoding.
"""
from __future__ import annotations

import datetime as dt

import msgspec

VERSION = 2              # 1 was the pickle of the whole engine, never loaded again

Range = tuple[int, int]  # GEC serials, first and last included


class Stamp(msgspec.Struct, array_like=True, frozen=True, tag="certx.snapshot"):
    """The start every version shares, so that a snapshot of another version is refused for its version."""

    version: int


class Snapshot(msgspec.Struct, array_like=True, frozen=True, tag="certx.snapshot"):
    version: int
    market: str
    position: int            # the caller's: the matcher's next input offset
    state_hash: str          # SHA-256, hex, of the state's encoding (before compression)
    state: bytes             # zlib, level 1, of the state's encoding


# --- accounts ------------------------------------------------------------------------------------------------

class Position(msgspec.Struct, array_like=True):
    product: str
    free: int
    held: int
    locked: int


class Wallet(msgspec.Struct, array_like=True):
    account: str
    broker: str
    cash: int
    cash_held: int
    positions: list[Position]


# --- products and their listing books ------------------------------------------------------------------------

class Day(msgspec.Struct, array_like=True, omit_defaults=True):
    open: int | None
    high: int | None
    low: int | None
    listing_volume: int
    listing_value: int
    block_volume: int
    block_value: int
    auction_volume: int
    auction_value: int
    # The latest listing trade (issue 14). Trailing defaults: a snapshot taken before they existed decodes as a day
    # without one. msgspec writes an array-like struct's defaults too, so such a day does not encode as it did
    # then: the restore's check refuses that older snapshot and the log is replayed instead (DESIGN 2).
    last: int | None = None
    last_quantity: int = 0


class Product(msgspec.Struct, array_like=True):
    name: str
    close: int | None
    listing_bps: int | None
    block_bps: int | None
    pending: dict[str, int]  # band changes for the next day (B3): mode -> bps
    day: Day


class Book(msgspec.Struct, array_like=True, gc=False):
    """A listing book: its level prices, then its live orders oldest first, a column per field, so millions of
    orders decode as a few lists of strings and small numbers. Oldest first is each level's time priority (its
    orders are a level's queue in that order) and the order the close expires them in (D2)."""

    bids: list[int]          # level prices, best first
    asks: list[int]
    order_ids: list[str]
    accounts: list[int]      # indexes into `Engine.wallets`
    remaining: list[int]
    levels: list[int]        # each order's level: an index into `bids`, then `asks`


# --- block offers and auctions --------------------------------------------------------------------------------

class Offer(msgspec.Struct, array_like=True):
    order_id: str
    account: str
    product: str
    is_buy: bool
    price: int
    remaining: int
    counterparty: str | None
    partial: bool


class SealedBid(msgspec.Struct, array_like=True):
    order_id: str
    account: str
    price: int
    quantity: int


class Auction(msgspec.Struct, array_like=True):
    auction_id: str
    product: str
    seller: str
    quantity: int
    reserve: int
    closes_at_ms: int
    bids: list[SealedBid]    # in arrival order


# --- GEC: issuance and the book of lots and bids ---------------------------------------------------------------

class Batch(msgspec.Struct, array_like=True):
    project: str
    province: str
    technology: str
    production_month: str
    subsidised: bool
    first: int
    last: int
    valid_through: int
    expired: bool


class Filter(msgspec.Struct, array_like=True):
    """A bid's filter as the book compiled it (G4): sets as sorted lists, months as month indexes."""

    provinces: list[str] | None
    exclude: list[str]
    technologies: list[str] | None
    subsidised: bool | None
    month_from: int | None
    month_to: int | None
    max_age: int | None


class Lot(msgspec.Struct, array_like=True, tag="lot", omit_defaults=True):
    order_id: str
    account: str
    price: int
    first: int
    last: int
    seq: int
    # M5, an addressed lot. Trailing defaults, so an older snapshot decodes; written for every lot (msgspec writes
    # an array-like struct's defaults), so a snapshot from before M5 is refused by the restore's check and the log
    # replayed instead. New state goes in the trailing optional parts of `State` (hours, pools) instead.
    counterparty: str | None = None
    partial: bool = True


class Bid(msgspec.Struct, array_like=True, tag="bid"):
    order_id: str
    account: str
    price: int
    remaining: int
    filter: Filter
    beneficiary: str
    seq: int


# --- compliance --------------------------------------------------------------------------------------------------

class HeldLeg(msgspec.Struct, array_like=True):
    """A surrender leg held here until its decision (C1)."""

    ref: str
    account: str
    compliance_year: int
    units: dict[str, int]
    legs: list[str]


class Mandate(msgspec.Struct, array_like=True):
    """An agent's mandate for a project's GECs (pooled lots)."""

    agent: str
    owner: str
    project: str
    filing_code: str
    valid_from: dt.date
    valid_to: dt.date


# --- the whole ---------------------------------------------------------------------------------------------------

class Engine(msgspec.Struct, array_like=True):
    """The engine without its listing books; dicts and lists in the engine's own order."""

    commands: int
    seq: int
    trades: int
    date: dt.date | None
    last_date: dt.date | None
    wallets: list[Wallet]                # in opening order
    locked: list[tuple[str, str]]        # (account, product) of each position waiting for T+1 (A3)
    products: list[Product]              # in listing order
    offers: list[Offer]                  # block offers, oldest first
    auctions: list[Auction]              # open auctions, in opening order
    batches: list[Batch]                 # issued GEC, by first serial
    ccer_years: dict[str, list[int]]     # G3: project -> vintages issued as CCER
    serials: dict[str, list[Range]]      # GEC held, per account
    cancelled: list[Range]
    retired: list[Range]
    surrendered: dict[str, int]
    surrenders: list[HeldLeg]            # held legs, in the order they were held
    decided: list[str]                   # the surrenders decided here, their home (sorted)
    gec_orders: list[Lot | Bid]          # the GEC book, oldest first
    order_ids: list[str]                 # accepted today and not resting in a listing book (those add themselves)
    command_ids: dict[str, list[str]]    # actor -> the ids of its accepted non-order commands
    cash_total: int


# --- issue 13: the hours --------------------------------------------------------------------------------------

class Curve(msgspec.Struct, array_like=True):
    """A project-month's curve: the month index, the kWh carried in, the certificates it covers (its month's
    batches), and the cumulative kWh at the end of each hour, little-endian, 2, 4 or 8 bytes each (the narrowest
    that holds the month's total: certx.hours.curve)."""

    project: str
    month: int
    carry_in: int
    serials: list[Range]
    cum: bytes


class HourFilter(msgspec.Struct, array_like=True):
    """A bid's hours as the book compiled them: the hour-of-day mask, the window's first and end hour (absolute;
    None: unbounded) and the kWh of a certificate that must be inside."""

    mask: int
    start: int | None
    end: int | None
    need: int


class Hours(msgspec.Struct, array_like=True):
    """What the hours add: the curves, in the order they were attached; the ranges after the first of each lot
    that is in several (a bid with hours took from its middle), and the hours of each bid with hours, by order
    id, both in the GEC book's order (`Engine.gec_orders`)."""

    curves: list[Curve]
    lots: list[tuple[str, list[Range]]]
    bids: list[tuple[str, HourFilter]]


class PoolPart(msgspec.Struct, array_like=True):
    """What is left of one owner's share in a pooled lot; its batch is the one holding its serials."""

    owner: str
    serials: list[Range]


class PooledLot(msgspec.Struct, array_like=True):
    """A pooled lot's rule and parts, in the order listed. Its price, agent, seq and place in the GEC book are its
    `Lot` in `Engine.gec_orders`, which names its first part's lowest range."""

    order_id: str
    rule: str
    parts: list[PoolPart]


class Pools(msgspec.Struct, array_like=True):
    """What the aggregators add (issue 13): the agents' mandates, by (agent, project) in granting order; the pooled
    lots, in the GEC book's order (`Engine.gec_orders`), written only when there is any, so that a state with
    mandates and no pooled lot keeps the bytes it had before pooled lots."""

    mandates: list[Mandate]
    lots: list[PooledLot] = []


class State(msgspec.Struct, array_like=True):
    engine: Engine
    books: list[Book]                    # the listing book of each product, in `engine.products` order
    hours: Hours | None = None           # written only when there is any (certx.engine.snapshot)
    pools: Pools | None = None           # likewise: a state without hours or pools encodes as it always did


class Parts(msgspec.Struct, array_like=True):
    """A state's encoding in its parts, left encoded: each is decoded, and checked, on its own. `hours` is empty
    in a state without any."""

    engine: msgspec.Raw
    books: msgspec.Raw
    hours: msgspec.Raw = msgspec.Raw(b"")
    pools: msgspec.Raw = msgspec.Raw(b"")
