"""The commands the gateway writes in answer to engine events: a surrender's second phase (DOMAIN C1, see
certx.engine.compliance). Pure: one event in, the commands it calls for out, so the gateway writes them in the
same transaction as its position in `certx.events`, exactly once, and the embedded replay runs the same relay.

- The CCER leg's answer (`surrender.held`, or its `command.rejected`) goes to the home market, CEA, as a
  `surrender.vote`. (A refusal does not say whether the surrender had a CEA leg; CEA ignores a refused vote for
  a surrender it holds nothing of.)
- The home market's `surrender.decided` goes to each other leg as a `surrender.decide`.
"""
from __future__ import annotations

from certx.wire import commands as c
from certx.wire import events as e

HOME = "CEA"          # a two-leg surrender's legs are CEA (its home: routing.home) and CCER


def relay(event: e.Event) -> list[tuple[str, c.LoggedCommand]]:
    """(market, command) pairs for the command log; most events call for none."""
    match event:
        case e.SurrenderHeld() if event.market != HOME:
            return [(HOME, c.SurrenderVote(actor="gateway", ref=event.ref, market=HOME, vote="held",
                                           account=event.account, compliance_year=event.compliance_year,
                                           legs=event.legs))]
        case e.CommandRejected() if event.command == "surrender" and event.market == "CCER" and event.ref:
            return [(HOME, c.SurrenderVote(actor="gateway", ref=event.ref, market=HOME, vote="refused"))]
        case e.SurrenderDecided():
            return [(m, c.SurrenderDecide(actor="gateway", ref=event.ref, market=m, decision=event.decision))
                    for m in event.legs if m != event.market]
    return []


def may_call_for_commands(raw: bytes) -> bool:
    """A cheap look at an encoded event before decoding it: the gateway reads every event, few matter."""
    return b'"type":"surrender.' in raw or b'"command":"surrender"' in raw
