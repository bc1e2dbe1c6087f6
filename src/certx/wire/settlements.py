"""Settlement events: what the settlement projector publishes on `certx.settlements` (PROTOCOL.md).

`origin` is the position of the engine event that caused it: its market's partition, its `seq` (its place in
that market's event stream; not its offset in `certx.events`, where transaction markers take offsets too), and
the settlement event's index in its output. Stable and unique, so readers drop duplicates by it.
"""
from __future__ import annotations

from typing import Union

from certx.money import Fen
from certx.wire.events import Positioned
from certx.wire.reasons import SettlementReasonText

Ranges = list[tuple[int, int]]


class Settlement(Positioned, kw_only=True):
    """A settlement event, stamped by the ledger (see certx.ledger). `ref` is the engine event's: the id of the
    command it came of (left out when that event has none)."""

    ref: str = ""


class Settled(Settlement, tag="settled"):
    """DOMAIN A4: the buyer's cash and the seller's units moved together."""

    trade_id: str
    product: str
    mode: str
    buyer: str
    seller: str
    price: Fen
    quantity: int
    cash: Fen
    serials: Ranges | None = None


class GecCancelled(Settlement, tag="gec.cancelled"):
    """DOMAIN G1: bought certificates cancelled in the buyer's name, for good."""

    serials: Ranges
    owner: str
    beneficiary: str
    trade_id: str


class GecRetired(Settlement, tag="gec.retired"):
    """DOMAIN G2: expired certificates cancelled."""

    serials: Ranges
    account: str
    reason: str         # "expired": PROTOCOL lists it, so it is always written (a default would be left out)


class UnitsSurrendered(Settlement, tag="units.surrendered"):
    """DOMAIN C1: CEA or CCER handed in for compliance, cancelled."""

    account: str
    compliance_year: int
    units: dict[str, int]


class SettlementRejected(Settlement, tag="settlement.rejected"):
    """A fill the ledger refuses: nothing moved."""

    trade_id: str
    reason: SettlementReasonText
    detail: str = ""


AnySettlement = Union[Settled, GecCancelled, GecRetired, UnitsSurrendered, SettlementRejected]
