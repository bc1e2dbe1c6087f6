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


def _its_product(cmd: c.OrderNew | c.AuctionOpen) -> tuple[str, ...]:
    m = cmd.market or market_of_product(cmd.product)
    return (m,) if m else ()


def _its_band(cmd: c.BandSet) -> tuple[str, ...]:
    m = market_of_product(cmd.product)
    return (m,) if m else ()


def _its_target(cmd: c.OrderLift | c.OrderAccept | c.OrderCancel | c.AuctionBid) -> tuple[str, ...] | None:
    return (cmd.market,) if cmd.market else None


def _its_legs(cmd: c.Surrender) -> tuple[str, ...]:
    return (("CEA",) if cmd.cea else ()) + (("CCER",) if cmd.ccer else ()) or ("CEA",)


def _its_market(cmd: c.LoggedCommand) -> tuple[str, ...]:
    return (cmd.market,)


# Keyed by the command's own type, so that the answer is one lookup: the engine and the gateway ask it of every
# command, and a chain of class patterns cost a cancel about a microsecond.
_ROUTE = {
    c.OrderNew: _its_product, c.AuctionOpen: _its_product, c.BandSet: _its_band,
    c.OrderLift: _its_target, c.OrderAccept: _its_target, c.OrderCancel: _its_target, c.AuctionBid: _its_target,
    c.AccountOpen: lambda cmd: MARKETS,
    c.IssueCcer: lambda cmd: ("CCER", "GEC"), c.IssueGec: lambda cmd: ("CCER", "GEC"),
    c.IssueCea: lambda cmd: ("CEA",),
    c.GecMatch: lambda cmd: ("GEC",), c.MandateGrant: lambda cmd: ("GEC",), c.CurveAttach: lambda cmd: ("GEC",),
    c.Surrender: _its_legs,
    c.Refusal: lambda cmd: None,
}


def markets(cmd: c.LoggedCommand) -> tuple[str, ...] | None:
    """The markets a command is for, read from its own fields: () if they name no market, None if only the
    order it targets can tell."""
    return _ROUTE.get(type(cmd), _its_market)(cmd)


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
