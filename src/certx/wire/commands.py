"""Commands: what brokers, the registry, the bank and the operator send (PROTOCOL.md).

Tagged on `type`. Money fields are `Price` or `Amount` (integer fen inside, decimal strings on the wire).
Every command carries its sender (`actor`) and an `id` unique per sender (`order_id` for orders); its `ref`
is that id, and every event that answers it carries it. `at` is the command time in a `.jsonl` file and on
the operator's replay path; on Kafka the gateway stamps the exchange's time as the record timestamp instead.

The contract is strict (PROTOCOL): an unknown field, a wrong type, a name with a control character or over 128
characters, a number outside its bounds all make a command malformed. The bounds keep every amount the engine
and the settlement read model hold inside a 64-bit integer (see certx.money).
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal, Union

import msgspec
from msgspec import Meta

from certx.money import Amount, Price
from certx.wire.reasons import ReasonText

MAX_QUANTITY = 10**10
Quantity = Annotated[int, Meta(ge=1, le=MAX_QUANTITY)]
Count = Annotated[int, Meta(ge=0, le=MAX_QUANTITY)]
Serial = Annotated[int, Meta(ge=1, le=10**15)]
# Patterns read alike by Python (the door) and ECMA (the published schema): `[0-9]`, since Python's `\d` also
# takes fullwidth or Arabic-Indic digits, and `$(?!\n)`, since Python's `$` also matches before a final newline
# (a ratio "0.2\n" once stopped an engine).
Month = Annotated[str, Meta(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$(?!\n)")]
Ratio = Annotated[str, Meta(pattern=r"^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)$(?!\n)")]
# A name (account, broker, product, id, …): printable, so it can never break a log line, a terminal or a
# database column (a NUL byte once stopped settlement), and short. Nor may it hold what prints as nothing or
# reorders what follows: a zero-width space makes "B1\u200b" look like "B1" on every screen, and a bidi override
# or a line separator rewrites the rest of a log line or a report row. UNSAFE is every control (Cc), format (Cf),
# line (Zl) and paragraph (Zp) separator of the Basic Multilingual Plane, as Unicode 14 lists them (Python 3.11's
# unicodedata), and every code point Unicode calls Default_Ignorable (DerivedCoreProperties: what a renderer
# shows as nothing unless it can do better), which adds the variation selectors ("B1\ufe0f" is "B1"), the
# combining grapheme joiner, the Hangul fillers (a blank that passes for a letter) and the Mongolian selectors.
# The astral ones (ASTRAL_UNSAFE: the tag block's, which spell a hidden "B1" after a name, the astral variation
# selectors, a few format characters, Unicode 15's too) print as nothing as well, but no pattern names an astral
# range so that Python and ECMA, the schemas' readers, both read it: they are left out of NAME_PATTERN.
# UNPRINTABLE is both, for every check of a name in Python. The door makes that check after the decode, once a
# record (certx.wire.codec), so NAME_PATTERN is published in the schemas but not run by msgspec: run on each of a
# command's four to eight names, it was a microsecond of every command's decode, at the door and again in the matcher,
# which reads only what the door let through. (An emoji written with a variation selector or a joiner is refused
# with them: a name is an identifier.)
# (`(?!\n)`: Python's `$` also matches before a final newline; ECMA's does not, and there it is a no-op.)
UNSAFE = (r"\u0000-\u001f\u007f-\u009f\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
          r"\u115f-\u1160\u17b4-\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f"
          r"\ufeff\uffa0\ufff0-\ufffb")
ASTRAL_UNSAFE = ("\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
                 "\U000e0000-\U000e0fff")
UNPRINTABLE = re.compile(f"[{UNSAFE}{ASTRAL_UNSAFE}]")
NAME_PATTERN = rf"^[^{UNSAFE}]*$(?!\n)"
Name = Annotated[str, Meta(min_length=1, max_length=128, extra_json_schema={"pattern": NAME_PATTERN})]
Names = Annotated[list[Name], Meta(max_length=64)]
Market = Literal["CEA", "CCER", "GEC"]
Side = Literal["buy", "sell"]
Mode = Literal["listing", "block"]
Kwh = Annotated[int, Meta(ge=0, le=10**12)]        # energy in an hour (issue 13)
At = Annotated[dt.datetime, Meta(tz=True)]


class Command(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True, gc=False,
              forbid_unknown_fields=True):
    # Optional on a sender's inbound topic, where the gateway takes it from the topic (and refuses a
    # command that names someone else); always set on `certx.commands`.
    actor: Name = ""
    at: At | None = None


class Control(Command, kw_only=True):
    id: Name

    @property
    def ref(self) -> str:
        return self.id


class Order(Command, kw_only=True):
    order_id: Name
    account: Name
    # Optional: the gateway routes a lift, accept, cancel or bid by its target order when it is left out.
    market: Market | None = None

    @property
    def ref(self) -> str:
        return self.order_id


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
    reference_price: Price | None = None


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


class MandateGrant(Control, tag="mandate.grant", kw_only=True):
    """The registry files an owner's mandate to an agent for one project's GECs (issue 13: distributed-PV
    aggregators), valid from one day to another, both included."""

    agent: Name
    owner: Name
    project: Name
    filing_code: Name
    valid_from: dt.date
    valid_to: dt.date


class CurveAttach(Control, tag="curve.attach", kw_only=True):
    """Issue 13: a project-month's hourly production, kWh per hour of the month, China time (UTC+8, 672 to 744
    hours), attested by the registry; it must add up with the GECs issued for that month (certx.hours.overlay)."""

    project: Name
    production_month: Month
    kwh: Annotated[list[Kwh], Meta(min_length=672, max_length=744)]


class Surrender(Control, tag="surrender", kw_only=True):
    account: Name
    compliance_year: Annotated[int, Meta(ge=2000, le=2100)]
    cea: Annotated[dict[Name, Quantity], Meta(max_length=64)] = {}
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
HourOfDay = Annotated[int, Meta(ge=0, le=24)]


class GecFilter(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """What a GEC buyer will accept (DOMAIN G4). Every field left out accepts anything.

    The hours (issue 13), China time, ask of a certificate the hours its energy was produced in, which only an
    attached curve gives (certx.hours): a certificate without one never matches them. `hours` are hour-of-day
    ranges [start, end), in order and apart (00-06 and 18-24: [[0, 6], [18, 24]]); `hours_from` and `hours_to`
    an absolute window [from, to) on whole hours. A certificate matches when `min_share` percent of its kWh or
    more were produced inside both, or all of them with `strict`: an hour filter says which (`hours_fault`)."""

    provinces: Names | None = None
    exclude_provinces: Names | None = None
    technologies: Names | None = None
    subsidised: bool | None = None
    production_from: Month | None = None
    production_to: Month | None = None
    max_age_months: Annotated[int, Meta(ge=1, le=600)] | None = None
    hours: Annotated[list[tuple[HourOfDay, HourOfDay]], Meta(min_length=1, max_length=24)] | None = None
    hours_from: At | None = None
    hours_to: At | None = None
    min_share: Annotated[int, Meta(ge=1, le=100)] | None = None
    strict: bool = False

    @property
    def by_hours(self) -> bool:
        """Whether the filter asks for hours."""
        return self.hours is not None or self.hours_from is not None or self.hours_to is not None


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_HOUR = dt.timedelta(hours=1)


def hours_fault(f: GecFilter) -> str | None:
    """What is wrong with a filter's hours, if anything: the contract's rules that a schema cannot say."""
    if not f.by_hours:
        if f.min_share is not None or f.strict:
            return "`min_share` and `strict` qualify an hour filter: give `hours`, `hours_from` or `hours_to`"
        return None
    if (f.min_share is not None) == f.strict:
        return "an hour filter takes either `min_share` (1-100) or `strict`: how much of a certificate is inside"
    end = 0
    for start, stop in f.hours or ():
        if not start < stop:
            return f"hours [{start}, {stop}]: the start comes before the end (half-open, 0-24)"
        if start < end:
            return f"hours [{start}, {stop}]: ranges in order of the day, none overlapping"
        end = stop
    for name in ("hours_from", "hours_to"):
        at = getattr(f, name)
        if at is not None and (at - _EPOCH) % _HOUR:
            return f"`{name}` is on a whole hour"
    if f.hours_from is not None and f.hours_to is not None and not f.hours_from < f.hours_to:
        return "`hours_from` comes before `hours_to`"
    return None


class Share(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One owner's serial range in a pooled lot."""

    owner: Name
    first_serial: Serial
    last_serial: Serial


MAX_SHARES = 1000


class Pool(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A pooled lot's owners' ranges, under the agent's mandates, and the rule that shares each fill among them."""

    rule: Literal["fifo", "pro_rata"]
    shares: Annotated[list[Share], Meta(min_length=1, max_length=MAX_SHARES)]


class OrderNew(Order, tag="order.new", kw_only=True):
    product: Name
    side: Side
    quantity: Quantity
    price: Price
    mode: Mode = "listing"
    # block offer or GEC lot (M2, M5): addressed to one account, and whether it may be taken in part
    counterparty: Name | None = None
    partial: bool = True
    # GEC sell: the lot
    first_serial: Serial | None = None
    last_serial: Serial | None = None
    # GEC buy
    filter: GecFilter | None = None
    beneficiary: Name | None = None
    # GEC sell, an agent's pooled lot (issue 13): many owners' ranges instead of first_serial/last_serial
    pool: Pool | None = None


# The optional terms of each kind of order (DOMAIN M2, M4, M5). A term set on an order that has no use for it is
# `malformed`, never ignored: a `counterparty` ignored would make a bilateral deal public.
TERMS: dict[tuple[str, str], frozenset[str]] = {
    ("listing", "buy"): frozenset(), ("listing", "sell"): frozenset(),
    ("block", "buy"): frozenset({"counterparty", "partial"}), ("block", "sell"): frozenset({"counterparty", "partial"}),
    ("GEC", "buy"): frozenset({"filter", "beneficiary"}),
    ("GEC", "sell"): frozenset({"first_serial", "last_serial", "counterparty", "partial", "pool"}),
}
UNSET = {"counterparty": None, "partial": True, "first_serial": None, "last_serial": None, "filter": None,
         "beneficiary": None, "pool": None}


def misplaced_term(cmd: OrderNew, market: str | None) -> str | None:
    """What is wrong with the terms an order sets for its kind (its market's for GEC, else its mode), if anything."""
    kind = "GEC" if market == "GEC" else cmd.mode
    allowed = TERMS[kind, cmd.side]
    for term, unset in UNSET.items():
        if term not in allowed and getattr(cmd, term) != unset:
            return f"`{term}` is not a term of a {kind} {cmd.side} order"
    if kind == "GEC" and not cmd.partial and cmd.counterparty is None:
        return "`partial` is a term of an addressed lot (M5): it needs a `counterparty`"
    if cmd.pool is not None and (cmd.first_serial is not None or cmd.last_serial is not None):
        return "a pooled lot names its serials in `pool.shares`, not `first_serial`/`last_serial`"
    return None


class OrderLift(Order, tag="order.lift", kw_only=True):
    target: Name
    quantity: Quantity
    beneficiary: Name | None = None


class OrderAccept(Order, tag="order.accept", kw_only=True):
    target: Name
    quantity: Quantity


class OrderCancel(Order, tag="order.cancel", kw_only=True):
    pass


# A year of hours, a leap year's included: 366 × 24.
MAX_HOURS = 8784


class GecMatch(Order, tag="gec.match", kw_only=True):
    """A 24/7 match (issue 13): the engine allocates GECs from the book to `account`'s hourly load, `loads[h]` kWh
    in the hour `start` + h, from the lots the `filter` admits (provinces, technologies, production months: G4),
    at no more than `price_cap` a certificate and `budget` in all. Settled all or nothing, cancelled in
    `beneficiary`'s name (G1)."""

    start: At                       # a whole hour
    loads: Annotated[list[Kwh], Meta(min_length=1, max_length=MAX_HOURS)]
    filter: GecFilter | None = None
    price_cap: Price | None = None
    budget: Amount | None = None
    beneficiary: Name | None = None


# one-way bidding (DOMAIN M3): the operator, or the seller's broker, opens an auction; buyers' brokers bid
class AuctionOpen(Control, tag="auction.open", kw_only=True):
    auction_id: Name
    product: Name
    seller: Name
    quantity: Quantity
    reserve_price: Price
    closes_at: At
    # Optional: its product names the market.
    market: Market | None = None


class AuctionBid(Order, tag="auction.bid", kw_only=True):
    auction_id: Name
    quantity: Quantity
    price: Price


# What senders may send.
AnyCommand = Union[
    SessionOpen, SessionClose, ProductList, BandSet,
    AccountOpen, IssueCea, IssueCcer, IssueGec, MandateGrant, CurveAttach, Surrender,
    FundsDeposit, FundsWithdraw,
    OrderNew, OrderLift, OrderAccept, OrderCancel, GecMatch,
    AuctionOpen, AuctionBid,
]


class Refusal(Command, tag="gateway.refusal", kw_only=True):
    """Not a sender's command: the gateway's record of one it refused at the door (malformed, or naming an
    actor other than its sender), so that the market's engine answers it on `certx.events` in sequence with
    everything else (PROTOCOL: every refused command is answered). Only the gateway writes `certx.commands`,
    and a sender's inbound decoder does not know this type, so no sender can forge one."""

    ref: str = ""                   # the refused command's id, when it could be read
    command: str = ""               # its type, when it was one of the contract's
    account: str = ""               # an order's account, when it could be read: order.rejected names it
    order: bool = False             # answer with order.rejected (an order command) or command.rejected
    reason: ReasonText
    detail: str = ""


class SurrenderVote(Command, tag="surrender.vote", kw_only=True):
    """Not a sender's command: the gateway carries a surrender leg's answer (`held`, or `refused`) from the
    leg's market to the surrender's home market, which decides for both (C1, two phases through the log)."""

    ref: Name                       # the surrender's id
    market: Market                  # the home market, where the vote goes
    vote: Literal["held", "refused"]
    # what the leg holds, from its `surrender.held` (a refusal says only that it refused)
    account: str = ""
    compliance_year: int = 0
    legs: list[str] = []


class SurrenderDecide(Command, tag="surrender.decide", kw_only=True):
    """Not a sender's command: the gateway carries the home market's decision to a surrender's other leg."""

    ref: Name
    market: Market
    decision: Literal["commit", "release"]


# What the gateway writes to `certx.commands`, and the matcher and the embedded replay apply.
LoggedCommand = Union[AnyCommand, Refusal, SurrenderVote, SurrenderDecide]
