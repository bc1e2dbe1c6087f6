"""Which market partition a command belongs to (PROTOCOL: the record key is the market).

Cash is per market (DOMAIN A2), so each market is one partition with its own engine. A few registry
commands concern more than one market, and go to each of them:
- `account.open` to all three, so each market knows the account's broker;
- `issue.ccer` and `issue.gec` to CCER and GEC, so both keep the same issuance record for G3 (only the
  home market issues; the other records the period);
- `surrender` to each market it hands units in from (C1).
"""
from __future__ import annotations

from certx.wire import commands as c

MARKETS = ("CEA", "CCER", "GEC")
PARTITION = {"CEA": 0, "CCER": 1, "GEC": 2}
MARKET_OF = {p: m for m, p in PARTITION.items()}   # partition -> market


def market_of_product(product: str) -> str | None:
    # CCER before CEA: "CCER..." also starts with "C", never with "CEA", but keep the longer prefix first.
    for market in ("CCER", "CEA", "GEC"):
        if product.startswith(market):
            return market
    return None


def route(cmd: c.AnyCommand) -> tuple[str, ...]:
    """The markets whose partitions receive this command; empty if it cannot be routed."""
    match cmd:
        case c.AccountOpen():
            return MARKETS
        case c.IssueCcer() | c.IssueGec():
            return ("CCER", "GEC")
        case c.IssueCea():
            return ("CEA",)
        case c.Surrender():
            legs = (("CEA",) if cmd.cea else ()) + (("CCER",) if cmd.ccer else ())
            return legs or ("CEA",)
        case c.BandSet():
            m = market_of_product(cmd.product)
            return (m,) if m else ()
        case c.OrderNew() | c.AuctionOpen():
            m = cmd.market or market_of_product(cmd.product)
            return (m,) if m else ()
        case c.OrderLift() | c.OrderAccept() | c.OrderCancel() | c.AuctionBid():
            return (cmd.market,) if cmd.market else ()
        case _:
            return (cmd.market,)


def home(cmd: c.AnyCommand) -> str | None:
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
            return route(cmd)[0]
    return None


def answers(cmd: c.AnyCommand, market: str) -> bool:
    return home(cmd) in (None, market)
