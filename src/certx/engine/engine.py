"""The engine of one market: a synchronous, deterministic state machine.

`apply(command, at)` takes a decoded command and its time (epoch milliseconds, from the input log, DOMAIN
U3) and returns the events it causes. It does no I/O, reads no clock and never awaits, so the Kafka
matcher, the embedded replay and the tests all run the same code, and the same log gives the same events.
Each command takes the next position in the market's command stream (`commands`), which its events carry as
their origin.

A refused command yields exactly one rejection event and changes nothing: every handler checks all its
rules before it touches state, and signals a refusal by raising `Rejected` from the checking part.
Before any handler: a command for another market is refused (`wrong_market`), and the id of a registry,
bank or operator command that its sender has used before is refused (`duplicate_command`), so a resent
deposit or issuance never applies twice. Order ids are unique per market and trading day (D2), checked by the
order handlers (`duplicate_order_id`).
The one thing that comes before a command is time: auctions (M3) whose closing time the command's time has
reached close first, and their events lead its output, whether the command is then accepted or refused.
"""
from __future__ import annotations

from certx.books.block import BlockBoard
from certx.books.gec import GecBook
from certx.engine.auction import AuctionDesk
from certx.engine.block import BlockDesk
from certx.engine.compliance import ComplianceDesk
from certx.engine.gec import GecDesk
from certx.engine.hourly import HourlyDesk
from certx.engine.listing import ListingDesk
from certx.engine.registry import RegistryDesk
from certx.engine.rejection import Rejected
from certx.engine.session import SessionDesk
from certx.hours.overlay import Overlay
from certx.pools.mandates import Mandates
from certx.registry.issuance import Issuance
from certx.registry.serials import RangeSet
from certx.rules import DEFAULT, Rules
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.reasons import Reason
from certx.wire.routing import PARTITION, home, markets

OrderNew = c.OrderNew      # apply's one test per command, as a global: no attribute lookup


class Engine(SessionDesk, RegistryDesk, ComplianceDesk, ListingDesk, BlockDesk, GecDesk, HourlyDesk, AuctionDesk):
    """One market's engine: its state (`State`), the desks (mixins) that hold the handlers for each kind of
    command, and `Accounts`, through which they move every yuan and unit (A2–A4)."""

    def __init__(self, market: str, rules: Rules = DEFAULT) -> None:
        # The first values of the state that `State` declares and explains.
        self.market = market
        self.partition = PARTITION[market]
        self.rules = rules
        self.mrules = rules.market(market)
        self.commands = self.seq = self.trades = 0
        self.out = []
        self.date = self.last_date = None
        self.listing_windows = self.block_windows = ()
        self.wallets = {}
        self.cash_total = 0
        self.locked = []
        self.products = {}
        self.order_ids = set()
        self.command_ids = {}
        self.blocks = BlockBoard()
        self.auctions = {}
        self.next_auction_close = None
        self.closings = []
        self.issuance = Issuance()
        self.serials = {}
        self.curves = Overlay()
        self.lots = GecBook(self.curves)
        self.cancelled = RangeSet()
        self.retired = RangeSet()
        self.mandates = Mandates()
        self.surrendered = {}
        self.surrenders = {}
        self.decided = set()
        if market == "GEC":
            self.list_product("GEC")
        self._wire()

    def _wire(self) -> None:
        """The dispatch table: one lookup from a command to its handler. A command's type is its key, except
        an `order.new`, keyed by its type and mode; where GEC trades differently, its own handlers."""
        once = self._once
        if self.market == "GEC":
            orders = {
                (c.OrderNew, "listing"): self.on_gec_new,       # a lot or a filtered bid (M4, M5)
                (c.OrderNew, "block"): self.on_gec_block,
                c.OrderLift: self.on_gec_lift,
                c.GecMatch: self.on_gec_match,              # a 24/7 match (issue 13)
            }
        else:
            orders = {
                (c.OrderNew, "listing"): self.on_listing_order,
                (c.OrderNew, "block"): self.on_block_offer,
                c.OrderLift: self.on_lift,
            }
        self._handlers = {
            c.SessionOpen: once(self.on_session_open),
            c.SessionClose: once(self.on_session_close),
            c.ProductList: once(self.on_product_list),
            c.BandSet: once(self.on_band_set),
            c.AccountOpen: once(self.on_account_open),
            c.IssueCea: once(self.on_issue_cea),
            c.IssueCcer: once(self.on_issue_ccer),
            c.IssueGec: once(self.on_issue_gec),
            c.MandateGrant: once(self.on_mandate_grant),
            c.CurveAttach: once(self.on_curve_attach),
            c.Surrender: once(self.on_surrender),
            c.FundsDeposit: once(self.on_funds),
            c.FundsWithdraw: once(self.on_funds),
            **orders,
            c.OrderAccept: self.on_accept,
            c.OrderCancel: self.on_cancel,
            c.AuctionOpen: once(self.on_auction_open),
            c.AuctionBid: self.on_auction_bid,
            c.Refusal: self.on_refusal,
            c.SurrenderVote: self.on_surrender_vote,
            c.SurrenderDecide: self.on_surrender_decide,
        }

    def _once(self, handler):
        """A registry, bank or operator command applies once per id and sender: a resent one is refused."""
        def once(cmd: c.Control, at: int) -> None:
            used = self.command_ids.get(cmd.actor)
            if used is not None and cmd.id in used:
                # Each market knows the ids of the commands it saw, so a surrender's legs may disagree here: a leg
                # says its refusal aloud, as for its holdings, so that the held one is decided (C1).
                raise Rejected(Reason.duplicate_command, f"{cmd.actor!r} already sent {cmd.id!r}",
                               leg=type(cmd) is c.Surrender)
            handler(cmd, at)
            if used is None:
                used = self.command_ids[cmd.actor] = set()
            used.add(cmd.id)
        return once

    def apply(self, cmd: c.LoggedCommand, at: int) -> list[e.Event]:
        """Apply one command at time `at` (epoch ms), in the next position of the market's command stream."""
        position = self.commands
        self.commands = position + 1
        out = self.out = []
        kept = 0
        due = self.next_auction_close
        if due is not None and at >= due:
            # M3: auctions whose time has come close before the command, whatever becomes of it; their events
            # come first in its output, and a refusal of the command takes back only what the command did.
            self.close_due_auctions(at)
            kept = len(out)
        try:
            mine = markets(cmd)
            if mine and self.market not in mine:
                raise Rejected(Reason.wrong_market, f"this is the {self.market} engine; "
                                                    f"{cmd.__struct_config__.tag} is for {', '.join(mine)}", leg=True)
            kind = type(cmd)
            self._handlers[(kind, cmd.mode) if kind is OrderNew else kind](cmd, at)
        except Rejected as r:
            del out[kept:]
            if r.leg or home(cmd) in (None, self.market):
                out.append(self.rejection(cmd, r.reason, r.detail))
        seq, partition, market, origin, ref = self.seq, self.partition, self.market, e.Origin, cmd.ref
        index = 0
        for event in out:
            event.seq = seq + index
            event.origin = origin(partition, position, index)
            event.market = market
            event.ref = ref
            index += 1
        self.seq = seq + index
        return out

    def on_refusal(self, cmd: c.Refusal, at: int) -> None:
        """A command the gateway refused at the door: answered here, in sequence, and nothing else happens."""
        if cmd.order:
            self.out.append(e.OrderRejected(account=cmd.account, reason=cmd.reason, detail=cmd.detail))
        else:
            self.out.append(e.CommandRejected(command=cmd.command, reason=cmd.reason, detail=cmd.detail))
