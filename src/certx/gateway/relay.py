"""The commands the gateway writes in answer to engine events: a surrender's second phase (DOMAIN C1, see
certx.engine.compliance). Pure: one event in, the commands it calls for out, so the gateway writes them in the
same transaction as its position in `certx.events`, exactly once, and the embedded replay runs the same relay.

- The CCER leg's answer (`surrender.held`, or its `command.rejected`) goes to the home market, CEA, as a
  `surrender.vote`. (A refusal does not say whether the surrender had a CEA leg; CEA ignores a refused vote for
  a surrender it holds nothing of.)
- The home market's `surrender.decided` goes to each other leg as a `surrender.decide`.
"""
from __future__ import annotations

import msgspec

from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.codec import decode_event
from certx.wire.routing import misplaced

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


def called_for(raw: bytes, partition: int) -> list[tuple[str, c.LoggedCommand]] | str:
    """The commands an event record read from `partition` of `certx.events` calls for, or why it cannot be read.
    Only the matcher may write there; but a record the gateway cannot read (a later version's event, a bug, a
    forged record) must not stop the exchange's intake, read again and again after each restart: it is dead-
    lettered and the gateway reads on. One from another market's partition relays nothing: a vote or decision
    is only what the market that gave it published."""
    try:
        event = decode_event(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return str(exc)[:300]
    return misplaced(event, partition) or relay(event)


def may_call_for_commands(raw: bytes) -> bool:
    """A cheap look at an encoded event before decoding it: the gateway reads every event, few matter."""
    return b'"type":"surrender.' in raw or b'"command":"surrender"' in raw
