"""Events: what the matcher publishes on `certx.events` (PROTOCOL.md).

Every event has `seq`, its position in the market's event stream, and `origin`, the position of the
command that caused it: its market's partition, its place in that market's command stream (`offset`: how many
commands of the market came before it; transaction markers in `certx.commands` take no place), and the event's
index within that command's output. `origin` is unique and stable, so downstream readers use it to drop
duplicates, and the embedded replay of the same commands gives the same origins.

Events hold no reference cycles, so they are `gc=False`: cheaper to create, and never scanned by the GC.
"""
from __future__ import annotations

import datetime as dt
from typing import Union

import msgspec

from certx.money import Fen
from certx.wire.reasons import ReasonText


class Origin(msgspec.Struct, frozen=True, gc=False):
    partition: int
    offset: int
    index: int


class Positioned(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True, gc=False):
    """A message with its place: `seq` in its market's stream, `origin` the position of what caused it.
    Always set by whoever publishes it (`Engine.apply`, `Ledger.apply`); the defaults only let messages be
    built before their position is known. The JSON Schema lists all three as required."""

    seq: int = -1
    origin: Origin | None = None
    market: str = ""


class Event(Positioned, kw_only=True):
    """An engine event. `ref` is the id of the command that caused it (`order_id` for orders), so a sender
    matches every answer to what it sent (PROTOCOL); events that a command's time set off (an auction whose
    closing time it reached) carry that command's ref too."""

    ref: str = ""


# orders
class OrderAccepted(Event, tag="order.accepted"):
    order_id: str
    account: str
    product: str
    side: str
    quantity: int
    price: Fen
    mode: str = "listing"
    serials: list[tuple[int, int]] | None = None   # a GEC lot: the range it lists
    auction_id: str | None = None                  # an auction bid (M3): the auction it bids in


class OrderRejected(Event, tag="order.rejected"):
    account: str
    reason: ReasonText
    detail: str = ""


class OrderCancelled(Event, tag="order.cancelled"):
    order_id: str
    account: str
    remaining: int


class OrderExpired(Event, tag="order.expired"):
    order_id: str
    account: str
    remaining: int


class Trade(Event, tag="trade"):
    trade_id: str
    product: str
    mode: str
    price: Fen
    quantity: int
    buy_order: str
    sell_order: str
    buyer: str
    seller: str
    # GEC only: the serial ranges that changed hands, the lot's attributes, and the buyer's claim
    serials: list[tuple[int, int]] | None = None
    project: str | None = None
    province: str | None = None
    technology: str | None = None
    production_month: str | None = None
    subsidised: bool | None = None
    beneficiary: str | None = None
    agent: str | None = None        # a pooled lot's fill: the agent who listed it (the seller is the owner)


class Allocated(Event, tag="gec.allocated"):
    """A 24/7 match (issue 13): the certificates the engine allocated to an account's hourly load, as one event
    so that it settles all or nothing. Each of `trades` is an ordinary GEC trade (seq and origin left out: the
    allocation has them), cancelled in `beneficiary`'s name on settlement (G1). `inputs` is the SHA-256 of the
    command's loads and terms, for the buyer's evidence."""

    allocation_id: str
    account: str
    beneficiary: str
    start: dt.datetime          # the load's first hour
    loads: list[int]            # kWh in each hour from `start`: with the curves, the buyer's evidence needs no more
    trades: list[Trade]
    load_kwh: int
    matched_kwh: int
    cost: Fen
    method: str                 # "greedy" or "lp"
    inputs: str


# one-way bidding (M3)
class AuctionOpened(Event, tag="auction.opened"):
    auction_id: str
    product: str
    seller: str
    quantity: int
    reserve_price: Fen
    closes_at: dt.datetime


class AuctionClosed(Event, tag="auction.closed"):
    """After the auction's trades and the expiry of what its bids did not get: units sold, and unsold
    (returned to the seller's free holding)."""

    auction_id: str
    product: str
    seller: str
    sold: int
    unsold: int


# the trading day
class SessionOpened(Event, tag="session.opened"):
    date: dt.date


class SessionClosed(Event, tag="session.closed"):
    date: dt.date


class DaySummary(Event, tag="day.summary"):
    product: str
    date: dt.date
    open: Fen | None
    high: Fen | None
    low: Fen | None
    close: Fen | None
    listing_volume: int
    listing_value: Fen
    block_volume: int
    block_value: Fen
    auction_volume: int
    auction_value: Fen


class ProductListed(Event, tag="product.listed"):
    product: str
    reference_price: Fen | None = None


class BandScheduled(Event, tag="band.scheduled"):
    product: str
    mode: str
    ratio: str


# registry and bank
class AccountOpened(Event, tag="account.opened"):
    account: str
    broker: str


class Issued(Event, tag="issued"):
    account: str
    product: str
    quantity: int
    project: str | None = None
    vintage: int | None = None
    serials: list[tuple[int, int]] | None = None
    province: str | None = None
    technology: str | None = None
    production_month: str | None = None
    subsidised: bool | None = None


class MandateGranted(Event, tag="mandate.granted"):
    agent: str
    owner: str
    project: str
    filing_code: str
    valid_from: dt.date
    valid_to: dt.date


class CurveAttached(Event, tag="curve.attached"):
    """Issue 13: a project-month's hourly production (kWh per hour of the month from its first hour, China time),
    attached to the certificates `serials` (the month's, in production order) with the kWh carried in from the
    previous month's curve and out to the next. Everything a reader needs to give any of those certificates its
    hours with the engine's own code (certx.hours: `Overlay.curve` and `Overlay.add`), so trades name serials only."""

    project: str
    production_month: str
    serials: list[tuple[int, int]]
    carry_in: int
    carry_out: int
    kwh: list[int]


class FundsDeposited(Event, tag="funds.deposited"):
    account: str
    amount: Fen


class FundsWithdrawn(Event, tag="funds.withdrawn"):
    account: str
    amount: Fen


class CertificatesExpired(Event, tag="certificates.expired"):
    account: str
    serials: list[tuple[int, int]]


class Surrendered(Event, tag="surrendered"):
    """C1: units handed in and cancelled, in this market (one leg of a surrender)."""

    account: str
    compliance_year: int
    units: dict[str, int]


class SurrenderHeld(Event, tag="surrender.held"):
    """C1, a surrender with a CEA and a CCER leg: this market's leg is held (its units are reserved: they can be
    neither sold nor surrendered again) until the surrender's home market decides for both legs."""

    account: str
    compliance_year: int
    units: dict[str, int]
    legs: list[str]


class SurrenderDecided(Event, tag="surrender.decided"):
    """The home market's decision for both legs of a surrender: `commit` when every leg was held, else
    `release`. The gateway carries it to the other leg."""

    account: str
    compliance_year: int
    decision: str
    legs: list[str]


class SurrenderReleased(Event, tag="surrender.released"):
    """A held leg given back to the account's free holding: the other leg could not be surrendered."""

    account: str
    compliance_year: int
    units: dict[str, int]


class CommandRejected(Event, tag="command.rejected"):
    command: str
    reason: ReasonText
    detail: str = ""


AnyEvent = Union[
    OrderAccepted, OrderRejected, OrderCancelled, OrderExpired, Trade, Allocated,
    AuctionOpened, AuctionClosed,
    SessionOpened, SessionClosed, DaySummary, ProductListed, BandScheduled,
    AccountOpened, Issued, MandateGranted, CurveAttached, FundsDeposited, FundsWithdrawn, CertificatesExpired,
    Surrendered,
    SurrenderHeld, SurrenderDecided, SurrenderReleased, CommandRejected,
]
