"""Which market a command is for (PROTOCOL: the gateway routes each command to its market's partition from the
command itself; DESIGN 4: partitions are markets, chosen by number, never by hashing a key).

Cash is per market (DOMAIN A2), so each market is one partition with its own engine. A few registry
commands concern more than one market, and go to each of them:
- `account.open` to all three, so each market knows the account's broker;
- `issue.ccer` and `issue.gec` to CCER and GEC, so both keep the same issuance record for G3 (only the
  home market issues; the other records the period);
- `surrender` to each market it hands units in from (C1).

A lift, accept, cancel or auction bid that does not name its market is for the market of the order it targets:
only the gateway, which saw that order go by, can tell (certx.gateway); `markets` answers None for it.
"""
from __future__ import annotations

from certx.wire import commands as c
from certx.wire import events as e

MARKETS = ("CEA", "CCER", "GEC")
PARTITION = {"CEA": 0, "CCER": 1, "GEC": 2}
MARKET_OF = {p: m for m, p in PARTITION.items()}   # partition -> market

_PRODUCT_MARKET: dict[str, str | None] = {}


def market_of_product(product: str) -> str | None:
    """CEA21 -> CEA, CCER (or CCER-<project>-<vintage>) -> CCER, GEC -> GEC."""
    market = _PRODUCT_MARKET.get(product, "")
    if market == "":
        # CCER before CEA: keep the longer prefix first.
        market = next((m for m in ("CCER", "CEA", "GEC") if product.startswith(m)), None)
        if len(_PRODUCT_MARKET) < 10_000:     # bounded: product names come from senders
            _PRODUCT_MARKET[product] = market
    return market


def markets(cmd: c.LoggedCommand) -> tuple[str, ...] | None:
    """The markets a command is for, read from its own fields: () if they name no market, None if only the
    order it targets can tell."""
    match cmd:
        case c.OrderNew() | c.AuctionOpen():
            m = cmd.market or market_of_product(cmd.product)
            return (m,) if m else ()
        case c.OrderLift() | c.OrderAccept() | c.OrderCancel() | c.AuctionBid():
            return (cmd.market,) if cmd.market else None
        case c.AccountOpen():
            return MARKETS
        case c.IssueCcer() | c.IssueGec():
            return ("CCER", "GEC")
        case c.IssueCea():
            return ("CEA",)
        case c.GecMatch() | c.MandateGrant() | c.CurveAttach():
            return ("GEC",)
        case c.Surrender():
            legs = (("CEA",) if cmd.cea else ()) + (("CCER",) if cmd.ccer else ())
            return legs or ("CEA",)
        case c.BandSet():
            m = market_of_product(cmd.product)
            return (m,) if m else ()
        case c.Refusal():
            return None
        case _:
            return (cmd.market,)


def home(cmd: c.LoggedCommand) -> str | None:
    """For a command sent to several markets, the one that answers it; None for a one-market command.

    The others apply it silently (or refuse it silently: they check the same rules on the same state), so a
    command gets exactly one answer however many partitions it reaches."""
    match cmd:
        case c.AccountOpen():
            return "CEA"
        case c.IssueCcer():
            return "CCER"
        case c.IssueGec():
            return "GEC"
        case c.Surrender():
            return markets(cmd)[0]
    return None


def misplaced(event: e.Event, partition: int) -> str | None:
    """Why an event cannot have come from this `certx.events` partition, if it cannot: the matcher publishes each
    market's events to its own partition, and what reads them keys its marks by it (the projector's ledger its
    duplicates' mark by the origin's partition and its journal its offset by the market's; the gateway relays a
    surrender's answers by the market that gave them)."""
    if event.origin is None:
        return "an event without its origin"
    if event.market not in PARTITION or PARTITION[event.market] != partition or event.origin.partition != partition:
        return (f"an event of market {event.market[:20]!r} from partition {event.origin.partition}, read from "
                f"partition {partition}")
    return None
