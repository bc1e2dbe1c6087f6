"""Commands: what brokers, the registry, the bank and the operator send on `certx.commands`.

Tagged on `type`. Money fields are `Amount` (integer fen inside, decimal strings on the wire). Every command
carries its sender (`actor`) and an `id` unique per sender (`order_id` for orders). `at` is the command
time: in a `.jsonl` file it is a field, on Kafka it is the record timestamp (DOMAIN U3).
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Union

import msgspec
from msgspec import Meta

from certx.money import Amount

Quantity = Annotated[int, Meta(ge=1, le=10**15)]
Count = Annotated[int, Meta(ge=0, le=10**15)]
Serial = Annotated[int, Meta(ge=1, le=2**62)]
Month = Annotated[str, Meta(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Ratio = Annotated[str, Meta(pattern=r"^(0(\.\d{1,4})?|1(\.0{1,4})?)$")]
Name = Annotated[str, Meta(min_length=1, max_length=128)]
Market = Literal["CEA", "CCER", "GEC"]
Side = Literal["buy", "sell"]
Mode = Literal["listing", "block"]
At = Annotated[dt.datetime, Meta(tz=True)]


class Command(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True, gc=False):
    actor: Name
    at: At | None = None


class Control(Command, kw_only=True):
    id: Name


class Order(Command, kw_only=True):
    order_id: Name
    account: Name
    # Routes a lift, accept or cancel in a `.jsonl` file; on Kafka the record key does it.
    market: Market | None = None


# operator
class SessionOpen(Control, tag="session.open", kw_only=True):
    market: Market
    date: dt.date


class SessionClose(Control, tag="session.close", kw_only=True):
    market: Market
    date: dt.date


class ProductList(Control, tag="product.list", kw_only=True):
    market: Market
    product: Name
    reference_price: Amount | None = None


class BandSet(Control, tag="band.set", kw_only=True):
    product: Name
    mode: Mode
    ratio: Ratio


# registry
class AccountOpen(Control, tag="account.open", kw_only=True):
    account: Name
    broker: Name


class IssueCea(Control, tag="issue.cea", kw_only=True):
    account: Name
    product: Name
    quantity: Quantity


class IssueCcer(Control, tag="issue.ccer", kw_only=True):
    account: Name
    product: Name
    project: Name
    vintage: Annotated[int, Meta(ge=2000, le=2100)]
    quantity: Quantity


class IssueGec(Control, tag="issue.gec", kw_only=True):
    account: Name
    project: Name
    province: Name
    technology: Name
    production_month: Month
    subsidised: bool
    first_serial: Serial
    last_serial: Serial
    issue_date: dt.date | None = None


class Surrender(Control, tag="surrender", kw_only=True):
    account: Name
    compliance_year: Annotated[int, Meta(ge=2000, le=2100)]
    cea: dict[Name, Quantity] = {}
    ccer: Count = 0


# bank
class FundsDeposit(Control, tag="funds.deposit", kw_only=True):
    account: Name
    market: Market
    amount: Amount


class FundsWithdraw(Control, tag="funds.withdraw", kw_only=True):
    account: Name
    market: Market
    amount: Amount


# broker
class GecFilter(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """What a GEC buyer will accept (DOMAIN G4). Every field left out accepts anything."""

    provinces: list[Name] | None = None
    exclude_provinces: list[Name] | None = None
    technologies: list[Name] | None = None
    subsidised: bool | None = None
    production_from: Month | None = None
    production_to: Month | None = None
    max_age_months: Annotated[int, Meta(ge=1, le=600)] | None = None


class OrderNew(Order, tag="order.new", kw_only=True):
    product: Name
    side: Side
    quantity: Quantity
    price: Amount
    mode: Mode = "listing"
    # block: an offer addressed to one account, and whether it may be taken in part
    counterparty: Name | None = None
    partial: bool = True
    # GEC sell: the lot
    first_serial: Serial | None = None
    last_serial: Serial | None = None
    # GEC buy
    filter: GecFilter | None = None
    beneficiary: Name | None = None


class OrderLift(Order, tag="order.lift", kw_only=True):
    target: Name
    quantity: Quantity
    beneficiary: Name | None = None


class OrderAccept(Order, tag="order.accept", kw_only=True):
    target: Name
    quantity: Quantity


class OrderCancel(Order, tag="order.cancel", kw_only=True):
    pass


# one-way bidding (DOMAIN M3): the operator, or the seller's broker, opens an auction; buyers' brokers bid
class AuctionOpen(Control, tag="auction.open", kw_only=True):
    auction_id: Name
    product: Name
    seller: Name
    quantity: Quantity
    reserve_price: Amount
    closes_at: At
    # Routes it in a `.jsonl` file (default: the product's market); on Kafka the record key does it.
    market: Market | None = None


class AuctionBid(Order, tag="auction.bid", kw_only=True):
    auction_id: Name
    quantity: Quantity
    price: Amount


AnyCommand = Union[
    SessionOpen, SessionClose, ProductList, BandSet,
    AccountOpen, IssueCea, IssueCcer, IssueGec, Surrender,
    FundsDeposit, FundsWithdraw,
    OrderNew, OrderLift, OrderAccept, OrderCancel,
    AuctionOpen, AuctionBid,
]
