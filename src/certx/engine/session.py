"""The trading day (DOMAIN D1–D5): opening and closing a market's session, day orders, the close.

At the open: band changes scheduled yesterday take effect (B3), units bought yesterday become sellable (A3),
and expired GECs are retired (G2). At the close: every resting order expires and its reservation is
released (D2), and each product publishes its day summary, whose close is tomorrow's reference (D3–D5).
"""
from __future__ import annotations

import datetime as dt

from certx.engine.band import ratio_bps
from certx.engine.accounts import Accounts
from certx.engine.rejection import Rejected
from certx.money import Fen
from certx.registry.issuance import month_index
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.reasons import Reason
from certx.wire.routing import market_of_product

_EPOCH = dt.date(1970, 1, 1)


def _windows(date: dt.date, minutes: tuple[tuple[int, int], ...], utc_offset: int) -> tuple[tuple[int, int], ...]:
    """Session windows of `date`, given in local minutes, as epoch-millisecond intervals."""
    midnight = ((date - _EPOCH).days * 1440 - utc_offset) * 60_000
    return tuple((midnight + a * 60_000, midnight + b * 60_000) for a, b in minutes)


class SessionDesk(Accounts):
    def on_session_open(self, cmd: c.SessionOpen, at: int) -> None:
        self.require(cmd.actor, "operator")
        if self.date is not None:
            raise Rejected(Reason.session_already_open, f"{self.market} is open for {self.date}")
        if self.last_date is not None and cmd.date <= self.last_date:
            raise Rejected(Reason.stale_date, f"{cmd.date} is not after {self.last_date}")
        # The date is a second clock, the operator's to type: a session opened for a year ahead by a typo would
        # retire GECs still valid for good (G2) and, once closed, refuse every earlier date (stale_date) until that
        # day. A session opens for its command's day (China time), or the next (the evening before).
        ahead = _local_date(at, self.rules.utc_offset_minutes) + dt.timedelta(days=1)
        if cmd.date > ahead:
            raise Rejected(Reason.date_ahead, f"{cmd.date} is after {ahead}, the day after this command's")
        self.set_day(cmd.date)
        for product in self.products.values():
            product.start_day()
        self.unlock_bought()
        self.out.append(e.SessionOpened(date=cmd.date))
        if self.market == "GEC":
            self.retire_expired(month_index(cmd.date.isoformat()[:7]))

    def on_session_close(self, cmd: c.SessionClose, at: int) -> None:
        self.require(cmd.actor, "operator")
        if self.date != cmd.date:
            raise Rejected(Reason.market_closed, f"{self.market} is not open for {cmd.date}")
        if self.auctions:
            self.close_all_auctions()      # M3: an auction still open closes with the day, before D2's expiry
        self.expire_orders()
        out = self.out
        for product in self.products.values():
            day = product.day
            opening = product.opening()
            close = product.end_day()
            out.append(e.DaySummary(
                product=product.name, date=cmd.date,
                open=_fen(opening),
                high=_fen(day.high), low=_fen(day.low), close=_fen(close),
                listing_volume=day.listing_volume, listing_value=Fen(day.listing_value),
                block_volume=day.block_volume, block_value=Fen(day.block_value),
                auction_volume=day.auction_volume, auction_value=Fen(day.auction_value),
            ))
        out.append(e.SessionClosed(date=cmd.date))
        self.last_date = cmd.date
        self.set_day(None)
        self.order_ids = set()

    def set_day(self, date: dt.date | None) -> None:
        """The trading day and its session windows (D1); None while the market is closed. The windows follow
        from the date and the rules, so a snapshot keeps only the date."""
        self.date = date
        if date is None:
            self.listing_windows = self.block_windows = ()
        else:
            offset = self.rules.utc_offset_minutes
            self.listing_windows = _windows(date, self.mrules.listing_sessions, offset)
            self.block_windows = _windows(date, self.mrules.block_sessions, offset)

    def expire_orders(self) -> None:
        """D2: every resting order expires at the close, oldest first per book, and releases what it holds."""
        out = self.out
        for product in self.products.values():
            book = product.book
            for order in list(book.orders.values()):
                remaining = book.cancel(order)
                self.release(self.wallets[order.account], product.name, order.is_buy, order.price, remaining)
                out.append(e.OrderExpired(order_id=order.order_id, account=order.account, remaining=remaining))
        for offer in list(self.blocks.offers.values()):
            self.withdraw_offer(offer)
            out.append(e.OrderExpired(order_id=offer.order_id, account=offer.account, remaining=offer.remaining))
        for order in list(self.lots.orders.values()):
            remaining = self.withdraw_gec(order)
            out.append(e.OrderExpired(order_id=order.order_id, account=order.account, remaining=remaining))

    def on_product_list(self, cmd: c.ProductList, at: int) -> None:
        """P1, B4: list a product, or give it a reference price while it has none."""
        self.require(cmd.actor, "operator")
        if market_of_product(cmd.product) != self.market or self.market == "GEC":
            raise Rejected(Reason.unknown_product, f"{cmd.product!r} is not a {self.market} product")
        product = self.products.get(cmd.product)
        if product is not None and (cmd.reference_price is None or product.close is not None):
            raise Rejected(Reason.duplicate_product, f"{cmd.product} is listed and has a reference price")
        if product is None:
            product = self.list_product(cmd.product)
        if cmd.reference_price is not None:
            product.close = int(cmd.reference_price)
            product.rebuild_bands()
        self.out.append(e.ProductListed(product=cmd.product, reference_price=cmd.reference_price))

    def on_band_set(self, cmd: c.BandSet, at: int) -> None:
        """B3: a new band ratio for one product and mode, effective from the next trading day."""
        self.require(cmd.actor, "operator")
        if self.market == "GEC":
            # B1-B3 band CEA and CCER; a GEC band was scheduled and answered, then never applied to any order
            raise Rejected(Reason.mode_not_allowed, "GEC has no price band")
        if cmd.product not in self.products:
            raise Rejected(Reason.unknown_product, cmd.product)
        self.products[cmd.product].pending[cmd.mode] = ratio_bps(cmd.ratio)
        self.out.append(e.BandScheduled(product=cmd.product, mode=cmd.mode, ratio=cmd.ratio))


def _local_date(at: int, utc_offset: int) -> dt.date:
    """The market's calendar day at `at` (epoch ms)."""
    return _EPOCH + dt.timedelta(days=(at // 60_000 + utc_offset) // 1440)


def _fen(value: int | None) -> Fen | None:
    return None if value is None else Fen(value)
