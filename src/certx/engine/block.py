"""Block trades (DOMAIN M2, B2, S1): a party posts an offer, public or addressed to one account; the
counterparty accepts it in full, or in part where the offer allows, at the offer price. Block trades never
touch the listing book and never set the close (D4)."""
from __future__ import annotations

from certx.books.block import Offer
from certx.engine.accounts import Accounts
from certx.engine.band import within
from certx.engine.rejection import Rejected
from certx.money import Fen
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.reasons import Reason


class BlockDesk(Accounts):
    def on_block_offer(self, cmd: c.OrderNew, at: int) -> None:
        if not self.mrules.block_enabled:
            raise Rejected(Reason.mode_not_allowed, f"no block trading in {self.market}")
        self.in_window(self.block_windows, at)
        wallet = self.broker_wallet(cmd)
        self.new_order_id(cmd.order_id)
        product = self.products.get(cmd.product)
        if product is None:
            raise Rejected(Reason.unknown_product, cmd.product)
        price, quantity = int(cmd.price), cmd.quantity
        self.check_size(quantity, price, self.mrules.block_sizes)
        within(product.block_limits, price, product.name)
        self.check_counterparty(cmd.counterparty)
        is_buy = cmd.side == "buy"
        self.reserve(wallet, cmd.product, is_buy, price, quantity)
        self.order_ids.add(cmd.order_id)
        self.blocks.offers[cmd.order_id] = Offer(cmd.order_id, cmd.account, cmd.product, is_buy, price, quantity,
                                                 cmd.counterparty, cmd.partial)
        self.out.append(e.OrderAccepted(order_id=cmd.order_id, account=cmd.account, product=cmd.product,
                                         side=cmd.side, quantity=quantity, price=cmd.price, mode="block"))

    def on_accept(self, cmd: c.OrderAccept, at: int) -> None:
        self.in_window(self.block_windows, at)
        wallet = self.broker_wallet(cmd)
        self.new_order_id(cmd.order_id)
        offer = self.blocks.offers.get(cmd.target)
        if offer is None:
            raise Rejected(Reason.unknown_order, cmd.target)
        self.check_taker(cmd.target, offer.counterparty, cmd.account)
        quantity = cmd.quantity
        if quantity > offer.remaining:
            raise Rejected(Reason.lot_size, f"{quantity} is more than the {offer.remaining} offered")
        if quantity < offer.remaining:
            if not offer.partial:
                raise Rejected(Reason.lot_size, f"{cmd.target} must be taken in full ({offer.remaining})")
            self.check_size(quantity, offer.price, self.mrules.block_sizes)
        product = self.products[offer.product]
        within(product.block_limits, offer.price, product.name)
        taker_buys = not offer.is_buy
        self.reserve(wallet, offer.product, taker_buys, offer.price, quantity)
        self.order_ids.add(cmd.order_id)
        self.out.append(e.OrderAccepted(order_id=cmd.order_id, account=cmd.account, product=offer.product,
                                         side="buy" if taker_buys else "sell", quantity=quantity,
                                         price=Fen(offer.price), mode="block"))
        offer.remaining -= quantity
        if not offer.remaining:
            del self.blocks.offers[offer.order_id]
        maker = self.wallets[offer.account]
        buyer, seller = (wallet, maker) if taker_buys else (maker, wallet)
        self.fill(buyer, seller, offer.product, offer.price, quantity, offer.price)
        product.day.block_volume += quantity
        product.day.block_value += offer.price * quantity
        buy_order, sell_order = (cmd.order_id, offer.order_id) if taker_buys else (offer.order_id, cmd.order_id)
        self.out.append(e.Trade(trade_id=self.trade_id(), product=offer.product, mode="block",
                                 price=Fen(offer.price), quantity=quantity, buy_order=buy_order,
                                 sell_order=sell_order, buyer=buyer.account, seller=seller.account))

    def withdraw_offer(self, offer: Offer) -> None:
        del self.blocks.offers[offer.order_id]
        self.release(self.wallets[offer.account], offer.product, offer.is_buy, offer.price, offer.remaining)
