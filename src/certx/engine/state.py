"""The state of one market's engine, declared once: what the desks read and write, and the checks they share.

`Engine` is made of desks (mixins), one per kind of command; each is a `State`, so a reader and a type checker
see here every attribute a handler may touch. `Engine.__init__` gives them their first values, a snapshot
(`snapshot.py`) saves and restores them.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from certx.engine.product import Product
from certx.engine.rejection import Rejected
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.reasons import Reason

if TYPE_CHECKING:
    from certx.accounts import Position, Wallet
    from certx.books.auction import Auction
    from certx.books.block import BlockBoard, Offer
    from certx.books.gec import Bid, GecBook, Lot
    from certx.engine.compliance import HeldLeg
    from certx.hours.overlay import Overlay
    from certx.pools.mandates import Mandates
    from certx.registry.issuance import Issuance
    from certx.registry.serials import RangeSet
    from certx.rules import MarketRules, Rules, Sizes


class State:
    # the market and its rules
    market: str
    partition: int                              # of certx.commands, where this market's commands are logged
    rules: Rules
    mrules: MarketRules                         # this market's part of `rules`
    # positions in the streams
    commands: int                               # commands applied: the next command's position in the market
    seq: int                                    # the next event's position in this market's stream
    trades: int                                 # trades made: the number in the next trade id
    out: list[e.Event]                          # the events of the command being applied
    # the trading day (D1); None and () while the market is closed
    date: dt.date | None
    last_date: dt.date | None
    listing_windows: tuple[tuple[int, int], ...]   # epoch-ms intervals, from the date and the rules
    block_windows: tuple[tuple[int, int], ...]
    # accounts (A1–A3), products and orders
    wallets: dict[str, Wallet]
    cash_total: int                             # all the cash in this market: deposits less withdrawals
    locked: list[Position]                      # positions with units waiting for T+1 (A3)
    products: dict[str, Product]                # each with its listing book (M1) and its day (D3–D5)
    order_ids: set[str]                         # accepted today (D2: ids are day-scoped)
    command_ids: dict[str, set[str]]            # actor -> ids of its accepted non-order commands
    blocks: BlockBoard                          # block offers (M2)
    auctions: dict[str, Auction]                # open auctions (M3), in opening order
    next_auction_close: int | None              # the earliest closes_at of those, None if there are none
    closings: list[tuple[int, int, str]]        # a heap of theirs: (closes_at, opening rank, auction id)
    # GEC: what is issued, who holds which serials, what is gone for good
    issuance: Issuance                          # G3: also kept by CCER, to refuse double issuance
    serials: dict[str, RangeSet]                # account -> the serials it holds, not listed
    lots: GecBook                               # resting lots and filtered bids (M4, M5)
    cancelled: RangeSet                         # G1: traded, cancelled in the buyer's name
    curves: Overlay                             # issue 13: project-months' hourly production (the book's too)
    retired: RangeSet                           # G2: expired
    mandates: Mandates                          # agents' mandates from projects' owners (pooled lots)
    # compliance (C1)
    surrendered: dict[str, int]                 # product -> units cancelled by surrenders
    surrenders: dict[str, HeldLeg]              # legs held here until their surrender is decided
    decided: set[str]                           # the surrenders this market, their home, has decided

    if TYPE_CHECKING:
        # What one desk asks of another; each is defined by the desk named.
        def close_due_auctions(self, at: int) -> None: ...        # AuctionDesk
        def close_all_auctions(self) -> None: ...                 # AuctionDesk
        def withdraw_offer(self, offer: Offer) -> None: ...       # BlockDesk
        def withdraw_gec(self, order: Lot | Bid) -> int: ...      # GecDesk
        def unmandated(self, agent: str, project: str) -> None: ...  # PoolDesk
        def retire_expired(self, today: int) -> None: ...         # GecDesk
        def today_month(self) -> int: ...                         # GecDesk

    # --- checks shared by the desks -------------------------------------------------------------

    def require(self, actor: str, who: str) -> None:
        """A1: only the registry issues, only the bank moves cash, only the operator runs the market."""
        if actor != who:
            raise Rejected(Reason.not_authorised, f"{actor!r} is not the {who}")

    def wallet_of(self, account: str) -> Wallet:
        wallet = self.wallets.get(account)
        if wallet is None:
            raise Rejected(Reason.unknown_account, f"no account {account!r}")
        return wallet

    def broker_wallet(self, cmd: c.Order) -> Wallet:
        """A1: only the account's broker may place or cancel orders for it."""
        wallet = self.wallets.get(cmd.account)
        if wallet is None or wallet.broker != cmd.actor:
            raise Rejected(Reason.not_authorised, f"{cmd.actor!r} does not hold account {cmd.account!r}")
        return wallet

    def check_counterparty(self, counterparty: str | None) -> None:
        """M2, M5: a block offer or GEC lot addressed to an account names one that exists."""
        if counterparty is not None and counterparty not in self.wallets:
            raise Rejected(Reason.unknown_account, counterparty)

    def check_taker(self, target: str, counterparty: str | None, account: str) -> None:
        """M2, M5: an addressed block offer or GEC lot is its counterparty's alone to take."""
        if counterparty is not None and counterparty != account:
            raise Rejected(Reason.not_authorised, f"{target} is addressed to another account")

    def in_window(self, windows: tuple[tuple[int, int], ...], at: int) -> None:
        """D1: inside one of today's session windows, else market_closed."""
        for start, end in windows:
            if start <= at < end:
                return
        raise Rejected(Reason.market_closed)

    def new_order_id(self, order_id: str) -> None:
        if order_id in self.order_ids:
            raise Rejected(Reason.duplicate_order_id, order_id)

    def check_size(self, quantity: int, price: int, sizes: Sizes) -> None:
        """U1 tick, U2 lot, S1 sizes."""
        if price % self.mrules.tick:
            raise Rejected(Reason.tick_size, f"price must be a multiple of {self.mrules.tick} fen")
        if quantity < sizes.minimum or (sizes.maximum is not None and quantity > sizes.maximum) or quantity % sizes.lot:
            raise Rejected(Reason.lot_size,
                           f"quantity {quantity} outside {sizes.minimum}..{sizes.maximum} (lot {sizes.lot})")

    def rejection(self, cmd: c.LoggedCommand, reason: Reason, detail: str) -> e.Event:
        """The one event a refused command causes."""
        if isinstance(cmd, c.Order):
            return e.OrderRejected(account=cmd.account, reason=reason, detail=detail)
        return e.CommandRejected(command=cmd.__struct_config__.tag, reason=reason, detail=detail)

    def list_product(self, name: str) -> Product:
        product = Product(name, self.mrules.listing_band_bps, self.mrules.block_band_bps)
        product.rebuild_bands()
        self.products[name] = product
        return product

    def trade_id(self) -> str:
        self.trades += 1
        return f"{self.market}-{self.trades}"
