"""The gateway's rules for one record, with no I/O.

Who: on Kafka, the sender is the principal whose inbound topic the record came from (`certx.in.<principal>`);
the command's `actor` may be left out, and a command whose `actor` names anyone else is refused
(`not_authorised`). On the operator's replay path (the `certx.replay` topic, or a `.jsonl` file for `certx
replay`), recorded days keep their recorded actors and times, and `at` is required.

When: the exchange's time, given by the caller (when the inbound record reached the exchange:
certx.gateway.arrival); a sender's timestamps and `at` fields count for nothing.

What: the strict contract (certx.wire.codec). A record that is not a JSON object is for the dead-letter
topic; a JSON object that breaks the contract becomes a `Refusal`, which the market's engine answers.

Where: routed from the command itself (certx.wire.routing): its market, product, or the multi-market registry
commands. A lift, accept, cancel or bid that does not name its market goes to the market of the order it
targets, which the door remembers from the orders it let through (the most recent `remember` of them). Order ids
are unique per sender (PROTOCOL), so another sender may use the same id: a cancel looks up the sender's own order
first, and a lift or accept the first order of that id the door saw, which no later order re-routes (else any
broker could send another's cancels or takers to another market by reusing their ids). Only an id a second sender
reuses costs a second entry. The memory is shared fairly among senders (`Recall`): one broker's flood of orders
pushes out its own ids only. A restarted gateway reads it back from the log, the day's orders in the order this
door learned them (certx.gateway.memory).
"""
from __future__ import annotations

import sys
from collections import deque
from typing import Hashable, NamedTuple

from certx.wire import commands as c
from certx.wire.codec import ORDER_TYPES, Malformed, NotAnObject, decode_command, millis
from certx.wire.reasons import Reason
from certx.wire.routing import market_of_product, markets

# A refusal that names no market it could be routed by is answered by this one.
ANSWERING = "CEA"
# Commands whose type alone names their market (certx.wire.routing.markets): a malformed one is answered there.
_MARKET_OF_TYPE = {"gec.match": "GEC", "curve.attach": "GEC", "mandate.grant": "GEC"}


class Admitted(NamedTuple):
    """A command for the log: the markets whose partitions receive it, and its time (epoch ms)."""

    command: c.LoggedCommand
    markets: tuple[str, ...]
    at: int


class Door:
    def __init__(self, remember: int = 1_000_000) -> None:
        self.remember = remember
        self.targets = Recall(remember)          # order or auction id -> its first order's market
        self.owners: dict[str, str] = {}         # order id -> the sender of its first order
        self.reused = Recall(remember)           # (sender, id another sent first) -> market
        self.last_at = 0

    def admit(self, raw: bytes, sender: str | None, at: int | None = None) -> Admitted | NotAnObject:
        """One record from `sender` (None: the operator's replay path) received at `at` (epoch ms)."""
        cmd = decode_command(raw)
        if isinstance(cmd, NotAnObject):
            return cmd
        if sender is None:
            at = millis(cmd.at) if not isinstance(cmd, Malformed) and cmd.at is not None else None
        at = self.last_at if at is None else at
        if isinstance(cmd, Malformed):
            return self._refuse(sender or cmd.fields.get("actor", ""), cmd.ref, cmd.command, cmd.account,
                                Reason.malformed, cmd.detail, at, self._hinted(cmd.fields, cmd.command))
        refusal = self._identify(cmd, sender)
        if refusal:
            return self._refuse(sender or cmd.actor, cmd.ref, cmd.__struct_config__.tag,
                                getattr(cmd, "account", ""), *refusal, at, self._routed(cmd) or ANSWERING)
        routed = markets(cmd)
        if routed is None:
            target = None
            if isinstance(cmd, c.OrderCancel) and self.owners.get(cmd.order_id) != cmd.actor:
                target = self.reused.get((cmd.actor, cmd.order_id))
            if target is None:      # (a cancel of an order not the sender's: its market answers not_authorised)
                target = self._first(cmd.auction_id if isinstance(cmd, c.AuctionBid) else _target(cmd))
            if target is None:
                return self._refuse(cmd.actor, cmd.ref, cmd.__struct_config__.tag, cmd.account, Reason.unknown_order,
                                    f"no order {_target(cmd)!r} is known to the gateway: name its `market`", at,
                                    ANSWERING)
            routed = (target,)
        elif not routed:
            return self._refuse(cmd.actor, cmd.ref, cmd.__struct_config__.tag, getattr(cmd, "account", ""),
                                Reason.unknown_product, f"{getattr(cmd, 'product', '')!r} names no market", at,
                                ANSWERING)
        if isinstance(cmd, (c.OrderNew, c.AuctionOpen)):
            self.learn(cmd, routed[0])
        self.last_at = at
        return Admitted(cmd, routed, at)

    def learn(self, cmd: c.LoggedCommand, market: str) -> None:
        """Remember which market an order or auction is in."""
        if isinstance(cmd, c.OrderNew):
            self.keep(cmd.actor, cmd.order_id, market, True)
        elif isinstance(cmd, c.AuctionOpen):
            self.keep(cmd.actor, cmd.auction_id, market, False)

    def keep(self, sender: str, key: str, market: str, order: bool) -> None:
        """Remember that `sender`'s order (or auction) `key` is in `market`: as the door lets it through, and as a
        restarted gateway reads it back from `certx.commands` (certx.gateway.memory)."""
        sender = sys.intern(sender)              # a few senders: one string each, not one per order
        if key not in self.targets:
            gone = self.targets.keep(sender, key, market)
            if gone is not None:
                self.owners.pop(gone, None)
            if order:
                self.owners[key] = sender
        elif order and self.owners.get(key) != sender:
            self.reused.keep(sender, (sender, key), market)

    def _identify(self, cmd: c.AnyCommand, sender: str | None) -> tuple[Reason, str] | None:
        """Stamp the sender as the actor; a refusal (reason, detail) if the command says otherwise."""
        if sender is None:
            if not cmd.actor or cmd.at is None:
                return Reason.malformed, "a replayed command names its `actor` and its time `at`"
        elif cmd.actor and cmd.actor != sender:
            return Reason.not_authorised, f"sent by {sender!r}, names actor {cmd.actor!r}"
        else:
            cmd.actor = sender
        cmd.at = None           # the time travels as the record's timestamp
        return None

    def _routed(self, cmd: c.AnyCommand) -> str | None:
        mine = markets(cmd)
        if mine:
            return mine[0]
        return self._first(cmd.auction_id if isinstance(cmd, c.AuctionBid) else _target(cmd))

    def _first(self, key: str | None) -> str | None:
        """The market of the first order or auction of that id the door saw."""
        return self.targets.get(key or "")

    def _hinted(self, fields: dict[str, str], command: str = "") -> str:
        """Where to answer a malformed command: the market its readable fields or its type point to."""
        if fields.get("market") in ("CEA", "CCER", "GEC"):
            return fields["market"]
        if command in _MARKET_OF_TYPE:
            return _MARKET_OF_TYPE[command]
        by_product = market_of_product(fields.get("product", ""))
        if by_product:
            return by_product
        for key in ("target", "auction_id", "order_id"):
            market = self._first(fields.get(key))
            if market is not None:
                return market
        return ANSWERING

    def _refuse(self, actor: str, ref: str, command: str, account: str, reason: Reason, detail: str, at: int,
                market: str) -> Admitted:
        """A refusal for the log, answered by `market`'s engine; `actor` is who sent the refused record."""
        self.last_at = at
        refusal = c.Refusal(actor=actor, ref=ref, command=command, account=account,
                            order=command in ORDER_TYPES, reason=reason, detail=detail)
        return Admitted(refusal, (market,), at)


class Recall(dict):
    """Ids and their markets, at most `most`, shared among the senders that sent them: when full, the sender that
    holds the most gives up its oldest. With the oldest of all going, one broker's flood of a million well-formed
    orders (even orders its engine refuses) pushed every other broker's orders out, and their cancels, lifts and
    accepts that omit `market` were refused `unknown_order` (the fairness red team)."""

    LOOK = 64       # evictions between two looks for the sender holding the most (it stays so meanwhile, near enough)

    def __init__(self, most: int) -> None:
        super().__init__()
        self.most = most
        self._of: dict[str, deque] = {}       # sender -> its ids here, oldest first
        self._largest = ""
        self._looked = 0

    def keep(self, sender: str, key: Hashable, market: str) -> Hashable | None:
        """Remember `key`'s market, sent by `sender`; returns the id forgotten to make room, if one was."""
        if key in self:
            self[key] = market
            return None
        self[key] = market
        self._of.setdefault(sender, deque()).append(key)
        if len(self) <= self.most:
            return None
        if self._looked <= 0 or self._largest not in self._of:
            self._largest = max(self._of, key=lambda s: len(self._of[s]))
            self._looked = self.LOOK
        self._looked -= 1
        ids = self._of[self._largest]
        gone = ids.popleft()
        if not ids:
            del self._of[self._largest]
        del self[gone]
        return gone


def _target(cmd: c.AnyCommand) -> str | None:
    """The order a lift or accept takes, or a cancel withdraws."""
    if isinstance(cmd, (c.OrderLift, c.OrderAccept)):
        return cmd.target
    if isinstance(cmd, c.OrderCancel):
        return cmd.order_id
    return None
