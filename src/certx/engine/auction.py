"""One-way bidding, 单向竞买 (DOMAIN M3, with A2, A3, D2, D4, D5).

`auction.open` (from the operator, or from the seller's broker) puts up a fixed quantity of one product; the
seller's units are held for it from then on (A2). Buyers send sealed `auction.bid`s, each reserving price ×
quantity of cash (A2); a bid below the reserve price is refused (`below_reserve`). Bids are firm: they cannot
be cancelled.

The engine has no clock (U3), so an auction closes when its market first applies a command whose time is at or
after `closes_at`, before that command is handled (its events come first in that command's output), or at
`session.close`, before the day's orders expire (D2), whichever comes first. At the close the quantity goes to
the highest prices first, earlier bids first at equal prices, each at its own price; the last bid served may be
filled in part. Each fill is one `trade` (mode "auction"); what a bid did not get expires and its cash is
released; unsold units go back to the seller's free holding; then `auction.closed`. Bought CEA waits for the
next day (A3). Auction trades count in the day's auction volume and value, never in the open, high, low or
close (D3, D4, D5).

Not in DOMAIN, so chosen here: the auction starts when `auction.open` is accepted, inside a listing window of
an open session (else `market_closed`), and so must bids be; no price band applies (B1 and B2 name listing and
block orders; an auction is priced by its reserve and its bidders), but a product still waiting for its first
reference price takes no auction (B4, `no_reference_price`); a bid may not be for more than the auction's
quantity (`lot_size`); GEC has no auctions (its certificates differ one from another, P3): `mode_not_allowed`.
"""
from __future__ import annotations

from heapq import heapify, heappop, heappush

from certx.books.auction import Auction, SealedBid
from certx.engine.accounts import Accounts
from certx.engine.rejection import Rejected
from certx.money import Fen
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.reasons import Reason
from certx.wire.codec import millis
from certx.wire.routing import market_of_product


class AuctionDesk(Accounts):
    def on_auction_open(self, cmd: c.AuctionOpen, at: int) -> None:
        self.in_window(self.listing_windows, at)
        wallet = self.wallets.get(cmd.seller)
        if cmd.actor != "operator":
            if wallet is None or wallet.broker != cmd.actor:
                raise Rejected(Reason.not_authorised, f"{cmd.actor!r} does not hold account {cmd.seller!r}")
        elif wallet is None:
            raise Rejected(Reason.unknown_account, cmd.seller)
        self.new_order_id(cmd.auction_id)
        if self.market == "GEC":
            raise Rejected(Reason.mode_not_allowed, "no auctions of GEC")
        product = self.products.get(cmd.product)
        if product is None or market_of_product(cmd.product) != self.market:
            raise Rejected(Reason.unknown_product, cmd.product)
        if product.listing_limits is None:
            raise Rejected(Reason.no_reference_price, cmd.product)
        reserve = int(cmd.reserve_price)
        if reserve % self.mrules.tick:
            raise Rejected(Reason.tick_size, f"reserve price must be a multiple of {self.mrules.tick} fen")
        closes_at = millis(cmd.closes_at)
        if closes_at <= at:
            raise Rejected(Reason.malformed, f"closes_at {cmd.closes_at.isoformat()} is not after the command time")
        self.reserve(wallet, cmd.product, False, 0, cmd.quantity)
        self.order_ids.add(cmd.auction_id)
        self.auctions[cmd.auction_id] = Auction(cmd.auction_id, cmd.product, cmd.seller, cmd.quantity, reserve,
                                                closes_at)
        heappush(self.closings, (closes_at, self.commands, cmd.auction_id))     # opened by the command just counted
        self.next_auction_close = self.closings[0][0]
        self.out.append(e.AuctionOpened(auction_id=cmd.auction_id, product=cmd.product, seller=cmd.seller,
                                         quantity=cmd.quantity, reserve_price=Fen(reserve),
                                         closes_at=cmd.closes_at))

    def on_auction_bid(self, cmd: c.AuctionBid, at: int) -> None:
        self.in_window(self.listing_windows, at)
        wallet = self.broker_wallet(cmd)
        self.new_order_id(cmd.order_id)
        auction = self.auctions.get(cmd.auction_id)
        if auction is None:
            raise Rejected(Reason.unknown_order, f"no open auction {cmd.auction_id!r}")
        price, quantity = int(cmd.price), cmd.quantity
        if price % self.mrules.tick:
            raise Rejected(Reason.tick_size, f"price must be a multiple of {self.mrules.tick} fen")
        if quantity > auction.quantity:
            raise Rejected(Reason.lot_size, f"{quantity} is more than the {auction.quantity} auctioned")
        if price < auction.reserve:
            raise Rejected(Reason.below_reserve, f"{price} fen is below the reserve of {auction.reserve} fen")
        self.reserve(wallet, auction.product, True, price, quantity)
        self.order_ids.add(cmd.order_id)
        auction.bids.append(SealedBid(cmd.order_id, cmd.account, price, quantity))
        self.out.append(e.OrderAccepted(order_id=cmd.order_id, account=cmd.account, product=auction.product,
                                         side="buy", quantity=quantity, price=cmd.price, mode="auction",
                                         auction_id=auction.auction_id))

    # --- the close ----------------------------------------------------------------------------------

    def close_due_auctions(self, at: int) -> None:
        """Close every auction whose time has come by `at`: earliest closing time first, then opening order. Taken
        off the heap of closing times: a close costs the log of the auctions open, not a pass over them (10,000
        auctions closing at one time took 0.99 s when each close looked for the next one among all)."""
        closings = self.closings
        while closings and closings[0][0] <= at:
            self.close_auction(self.auctions[heappop(closings)[2]])
        self.next_auction_close = closings[0][0] if closings else None

    def close_all_auctions(self) -> None:
        """At session.close: every auction still open closes now, in the same order."""
        closings = self.closings
        while closings:
            self.close_auction(self.auctions[heappop(closings)[2]])
        self.next_auction_close = None

    def close_auction(self, auction: Auction) -> None:
        del self.auctions[auction.auction_id]
        out = self.out
        seller = self.wallets[auction.seller]
        name = auction.product
        day = self.products[name].day
        allocation = auction.allocate()
        sold = 0
        for bid, filled in allocation:
            if not filled:
                continue
            self.fill(self.wallets[bid.account], seller, name, bid.price, filled, bid.price)
            day.auction_volume += filled
            day.auction_value += bid.price * filled
            sold += filled
            out.append(e.Trade(trade_id=self.trade_id(), product=name, mode="auction", price=Fen(bid.price),
                               quantity=filled, buy_order=bid.order_id, sell_order=auction.auction_id,
                               buyer=bid.account, seller=auction.seller))
        for bid, filled in allocation:
            left = bid.quantity - filled
            if left:
                self.release(self.wallets[bid.account], name, True, bid.price, left)
                out.append(e.OrderExpired(order_id=bid.order_id, account=bid.account, remaining=left))
        unsold = auction.quantity - sold
        self.release(seller, name, False, 0, unsold)
        out.append(e.AuctionClosed(auction_id=auction.auction_id, product=name, seller=auction.seller, sold=sold,
                                   unsold=unsold))

    def schedule_next_close(self) -> None:
        """The heap of the open auctions' closing times, each with its opening rank (the order of `auctions`) and
        id, and the earliest of them, None if there are none: what `apply` checks each command's time against. They
        follow from the auctions, so a snapshot keeps neither."""
        self.closings = [(a.closes_at_ms, rank, a.auction_id) for rank, a in enumerate(self.auctions.values())]
        heapify(self.closings)
        self.next_auction_close = self.closings[0][0] if self.closings else None
