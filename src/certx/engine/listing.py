"""The listing market for CEA and CCER (DOMAIN M1, B1, B4, S1, A2, A3).

An aggressive limit order matches on price-time priority at the resting order's price; a lift names one
resting order within the best 5 levels of the other side. A buy reserves price × quantity of cash at entry, a
sell reserves the units; each fill moves the buyer's cash and the seller's units together (A4) and hands back
what the buyer reserved above the trade price.
"""
from __future__ import annotations

from certx.books.listing import Resting
from certx.engine.accounts import Accounts
from certx.engine.band import within
from certx.engine.rejection import Rejected
from certx.money import Fen
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.reasons import Reason


class ListingDesk(Accounts):
    def on_listing_order(self, cmd: c.OrderNew, at: int) -> None:
        """M1(a): a limit order matches on price-time priority at the resting price; what is left rests."""
        self.in_window(self.listing_windows, at)
        wallet = self.broker_wallet(cmd)
        order_id = cmd.order_id
        self.new_order_id(order_id)
        product = self.products.get(cmd.product)
        if product is None:
            raise Rejected(Reason.unknown_product, cmd.product)
        price, quantity = cmd.price, cmd.quantity
        self.check_size(quantity, price, self.mrules.listing_sizes)
        within(product.listing_limits, price, cmd.product)
        is_buy = cmd.side == "buy"
        self.reserve(wallet, cmd.product, is_buy, price, quantity)
        self.order_ids.add(order_id)
        out = self.out
        out.append(e.OrderAccepted(order_id=order_id, account=cmd.account, product=cmd.product, side=cmd.side,
                                   quantity=quantity, price=cmd.price))
        book = product.book
        fills, left = book.match(is_buy, price, quantity)
        for resting, q in fills:
            self.listing_trade(product, wallet, order_id, is_buy, price, resting, q)
        if left:
            book.rest(Resting(order_id, cmd.account, is_buy, price, left))

    def listing_trade(self, product, taker, taker_order: str, taker_buys: bool, taker_limit: int,
                      resting: Resting, quantity: int) -> None:
        """One fill at the resting order's price: settle it (A4), record it in the day, publish the trade."""
        price = resting.price
        maker = self.wallets[resting.account]
        name = product.name
        if taker_buys:
            self.fill(taker, maker, name, price, quantity, taker_limit)
            buyer, seller, buy_order, sell_order = taker, maker, taker_order, resting.order_id
        else:
            self.fill(maker, taker, name, price, quantity, price)
            buyer, seller, buy_order, sell_order = maker, taker, resting.order_id, taker_order
        product.day.listing_trade(price, quantity)
        self.out.append(e.Trade(trade_id=self.trade_id(), product=name, mode="listing", price=Fen(price),
                                 quantity=quantity, buy_order=buy_order, sell_order=sell_order,
                                 buyer=buyer.account, seller=seller.account))

    def on_lift(self, cmd: c.OrderLift, at: int) -> None:
        """M1(b): take one named resting order within the best levels, at its price, for up to its size."""
        self.in_window(self.listing_windows, at)
        wallet = self.broker_wallet(cmd)
        self.new_order_id(cmd.order_id)
        product, target = self._find_resting(cmd.target)
        if target is None:
            raise Rejected(Reason.unknown_order, cmd.target)
        side = product.book.bids if target.is_buy else product.book.asks
        depth = side.depth_of(target.price)
        if depth >= self.rules.lift_depth:
            raise Rejected(Reason.beyond_lift_depth, f"{cmd.target} is at level {depth + 1}")
        quantity = min(cmd.quantity, target.remaining)
        self.check_size(quantity, target.price, self.mrules.listing_sizes)
        # a resting order was inside the band when it came, and the band holds all day (B3): never refused here
        within(product.listing_limits, target.price, product.name)
        taker_buys = not target.is_buy
        self.reserve(wallet, product.name, taker_buys, target.price, quantity)
        self.order_ids.add(cmd.order_id)
        self.out.append(e.OrderAccepted(order_id=cmd.order_id, account=cmd.account, product=product.name,
                                         side="buy" if taker_buys else "sell", quantity=quantity,
                                         price=Fen(target.price)))
        product.book.take(target, quantity)
        self.listing_trade(product, wallet, cmd.order_id, taker_buys, target.price, target, quantity)

    def _find_resting(self, order_id: str):
        for product in self.products.values():
            order = product.book.orders.get(order_id)
            if order is not None:
                return product, order
        return None, None

    def on_cancel(self, cmd: c.OrderCancel, at: int) -> None:
        """A2: a cancel releases what the order still holds. D1: only inside a session window."""
        self.in_window(self.listing_windows + self.block_windows, at)
        self.broker_wallet(cmd)
        product, order = self._find_resting(cmd.order_id)
        if order is not None:
            if order.account != cmd.account:
                raise Rejected(Reason.not_authorised, f"{cmd.order_id} is not {cmd.account}'s")
            remaining = product.book.cancel(order)
            self.release(self.wallets[order.account], product.name, order.is_buy, order.price, remaining)
        elif cmd.order_id in self.blocks.offers or cmd.order_id in self.lots.orders:
            remaining = self.cancel_other(cmd)
        else:
            # Cancels of orders already filled are common; answer them without the cost of raising.
            self.out.append(self.rejection(cmd, Reason.unknown_order, cmd.order_id))
            return
        self.out.append(e.OrderCancelled(order_id=cmd.order_id, account=cmd.account, remaining=remaining))

    def cancel_other(self, cmd: c.OrderCancel) -> int:
        """A cancel of a block offer or a GEC order."""
        offer = self.blocks.offers.get(cmd.order_id)
        order = offer or self.lots.orders[cmd.order_id]
        if order.account != cmd.account:
            raise Rejected(Reason.not_authorised, f"{cmd.order_id} is not {cmd.account}'s")
        if offer is not None:
            self.withdraw_offer(offer)
            return offer.remaining
        return self.withdraw_gec(order)
