"""Why a command, a settlement or a record was refused: the machine-readable `reason` of the contract (DOMAIN
"Reject reasons", README "Fields added").

One vocabulary for each thing refused (PROTOCOL): `Reason` is what an engine or the gateway's door says of a
sender's command (`order.rejected`, `command.rejected`, `gateway.refusal`); `SettlementReason` is what the
settlement projector says of an engine event it will not settle (`settlement.rejected`); `DeadLetterReason` is why
a service put a record on `certx.dlq`. Where two mean the same thing they share the word, written once here.

The members are `str`s whose values are the words on the wire, so an event encodes exactly as the bare word did.
The Structs keep `reason` a plain string, so a reader decodes reasons it does not know yet; the schemas list
these values (certx.wire.schema).
"""
from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import msgspec


class Reason(StrEnum):
    """What an engine (or the door, before it) answers a refused command with."""

    # the contract and the market's own rules
    malformed = "malformed"                           # PROTOCOL: breaks the strict contract, or says nonsense
    wrong_market = "wrong_market"                     # sent to an engine whose market it is not for
    duplicate_command = "duplicate_command"           # a registry, bank or operator id already used
    not_authorised = "not_authorised"                 # A1
    # sessions and products (D1, B4)
    market_closed = "market_closed"
    session_already_open = "session_already_open"
    stale_date = "stale_date"
    date_ahead = "date_ahead"                         # a session opened for a date after its command's next day
    unknown_product = "unknown_product"
    duplicate_product = "duplicate_product"
    no_reference_price = "no_reference_price"
    # accounts, cash and holdings (A2)
    unknown_account = "unknown_account"
    duplicate_account = "duplicate_account"
    insufficient_funds = "insufficient_funds"
    insufficient_holdings = "insufficient_holdings"
    over_limit = "over_limit"                         # a market's cash past 2^62 fen
    # orders (U1, S1, S2, B1, B2, D2, M1-M3)
    unknown_order = "unknown_order"
    duplicate_order_id = "duplicate_order_id"
    mode_not_allowed = "mode_not_allowed"
    tick_size = "tick_size"
    lot_size = "lot_size"
    price_out_of_band = "price_out_of_band"
    beyond_lift_depth = "beyond_lift_depth"           # M1
    below_reserve = "below_reserve"                   # M3
    # certificates (G1-G3, C1)
    double_issuance = "double_issuance"
    already_cancelled = "already_cancelled"
    expired_certificate = "expired_certificate"
    offset_cap_exceeded = "offset_cap_exceeded"
    # hourly curves (issue 13)
    curve_exists = "curve_exists"                     # a second curve for a project-month
    curve_out_of_order = "curve_out_of_order"         # a project's curves attach in production order
    curve_mismatch = "curve_mismatch"                 # does not add up with the GECs issued for the month
    certificates_listed = "certificates_listed"       # a curve for certificates resting in a lot
    allocation_too_large = "allocation_too_large"     # a 24/7 match whose one event would pass the record limit


class SettlementReason(StrEnum):
    """What the settlement projector answers a fill, issuance or cancellation it refuses with (A4, G1)."""

    malformed = Reason.malformed
    double_issuance = Reason.double_issuance
    insufficient_funds = Reason.insufficient_funds
    insufficient_holdings = Reason.insufficient_holdings
    already_cancelled = Reason.already_cancelled
    duplicate_trade = "duplicate_trade"               # the same trade settled twice
    not_held = "not_held"                             # serials the seller does not hold


class DeadLetterReason(StrEnum):
    """Why a service could not read a record and put it on `certx.dlq` (DESIGN 7)."""

    malformed = Reason.malformed                      # not a JSON object, or not an event the reader can take
    not_a_command = "not_a_command"                   # on `certx.commands`, not a command of the log


def _listed(reasons: type[StrEnum]) -> dict:
    return {"enum": [r.value for r in reasons], "description": f"certx.wire.reasons.{reasons.__name__}"}


# `reason` as the Structs type it: any string when decoding, the enumeration's words in the schemas.
ReasonText = Annotated[str, msgspec.Meta(extra_json_schema=_listed(Reason))]
SettlementReasonText = Annotated[str, msgspec.Meta(extra_json_schema=_listed(SettlementReason))]
DeadLetterReasonText = Annotated[str, msgspec.Meta(extra_json_schema=_listed(DeadLetterReason))]
