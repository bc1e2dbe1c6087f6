"""The GEC market (DOMAIN M4, G1, G2, G4, S2).

Sellers list lots: a contiguous serial range they hold, from one issuance batch, at one price. Buyers bid
with a filter, or lift one named lot. The trade price is the resting side's. A bought certificate is
single-transfer: it leaves every holding at the trade and is recorded as cancelled in the buyer's name (G1),
so it can never be listed again. Expired certificates are retired at the day's open (G2). A bid with hours
(issue 13) takes only the certificates whose hours meet its filter, which may leave a lot in several ranges. An
agent's pooled lot (`certx.engine.pools`) trades here too, each fill shared among its owners by the pool's rule.
"""
from __future__ import annotations

from bisect import bisect_left

from certx.books.gec import Bid, Eligibility, Lot, PooledLot, Range, count
from certx.engine.pools import PoolDesk
from certx.engine.rejection import Rejected
from certx.money import Fen
from certx.registry.issuance import months
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.reasons import Reason


class GecDesk(PoolDesk):
    def on_gec_block(self, cmd: c.OrderNew, at: int) -> None:
        raise Rejected(Reason.mode_not_allowed, "GEC trades as lots and bids")

    def on_gec_new(self, cmd: c.OrderNew, at: int) -> None:
        self.in_window(self.listing_windows, at)
        wallet = self.broker_wallet(cmd)
        self.new_order_id(cmd.order_id)
        if cmd.product != "GEC":
            raise Rejected(Reason.unknown_product, cmd.product)
        price, quantity = int(cmd.price), cmd.quantity
        self.check_size(quantity, price, self.mrules.listing_sizes)
        today = self.today_month()
        seq = self.commands
        if cmd.side == "sell":
            if cmd.pool is None:
                lot = self._check_lot(cmd, price, quantity, seq)
                self.serials[cmd.account].remove(cmd.first_serial, cmd.last_serial)
                self._accepted(cmd, [(cmd.first_serial, cmd.last_serial)])
            else:
                lot = self.check_pool(cmd, price, quantity, seq)
                self.pool_in(lot)
                self._accepted(cmd, [(s.first_serial, s.last_serial) for s in cmd.pool.shares])
            if lot.counterparty is None:            # an addressed lot waits for its counterparty's lift (M5)
                for bid, serials in self.lots.bids_for(lot, quantity, today):
                    self._gec_trade(lot, bid.account, bid.order_id, bid.price, bid.beneficiary, serials, bid=bid)
            if lot.remaining:
                self.lots.rest(lot)
        else:
            self.reserve(wallet, "GEC", True, price, quantity)
            self._accepted(cmd)
            bid = Bid(cmd.order_id, cmd.account, price, quantity, Eligibility(cmd.filter),
                      cmd.beneficiary or cmd.account, seq)
            for lot, serials in self.lots.lots_for(bid, quantity, today):
                bid.remaining -= self._gec_trade(lot, bid.account, bid.order_id, bid.price, bid.beneficiary, serials)
            if bid.remaining:
                self.lots.rest(bid)

    def _check_lot(self, cmd: c.OrderNew, price: int, quantity: int, seq: int) -> Lot:
        first, last = cmd.first_serial, cmd.last_serial
        if first is None or last is None or last < first:
            raise Rejected(Reason.malformed, "a GEC sell names its lot: first_serial <= last_serial")
        if quantity != last - first + 1:
            raise Rejected(Reason.lot_size, f"quantity {quantity} is not the lot's {last - first + 1} certificates")
        self.check_counterparty(cmd.counterparty)
        if self.cancelled.overlaps(first, last):
            raise Rejected(Reason.already_cancelled, f"[{first}, {last}] holds cancelled certificates")
        batch = self.issuance.batch_of(first, last)
        if batch is not None and (batch.expired or batch.valid_through < self.today_month()):
            raise Rejected(Reason.expired_certificate, f"{batch.project} {batch.production_month} has expired")
        holding = self.serials.get(cmd.account)
        if batch is None or holding is None or not holding.contains(first, last):
            raise Rejected(Reason.insufficient_holdings, f"{cmd.account} does not hold [{first}, {last}] in one batch")
        return Lot(cmd.order_id, cmd.account, price, first, last, batch, seq, cmd.counterparty, cmd.partial)

    def on_gec_lift(self, cmd: c.OrderLift, at: int) -> None:
        """M4: a buyer takes one named lot, at its price; S2: never more than the lot. M5: an addressed lot only
        by its counterparty, and whole unless its seller allows a part."""
        self.in_window(self.listing_windows, at)
        wallet = self.broker_wallet(cmd)
        self.new_order_id(cmd.order_id)
        lot = self.lots.orders.get(cmd.target)
        if not isinstance(lot, Lot):
            raise Rejected(Reason.unknown_order, cmd.target)
        self.check_taker(cmd.target, lot.counterparty, cmd.account)
        remaining = lot.remaining
        if cmd.quantity > remaining:
            raise Rejected(Reason.lot_size, f"{cmd.quantity} is more than the lot's {remaining}")
        if not lot.partial and cmd.quantity != remaining:
            raise Rejected(Reason.lot_size, f"lot {cmd.target} is taken whole: {remaining}")
        self.reserve(wallet, "GEC", True, lot.price, cmd.quantity)
        self.order_ids.add(cmd.order_id)
        self.out.append(e.OrderAccepted(order_id=cmd.order_id, account=cmd.account, product="GEC", side="buy",
                                         quantity=cmd.quantity, price=Fen(lot.price)))
        self._gec_trade(lot, cmd.account, cmd.order_id, lot.price, cmd.beneficiary or cmd.account,
                        lot.serials.lowest(cmd.quantity))

    def _accepted(self, cmd: c.OrderNew, serials: list[tuple[int, int]] | None = None) -> None:
        self.order_ids.add(cmd.order_id)
        self.out.append(e.OrderAccepted(order_id=cmd.order_id, account=cmd.account, product="GEC",
                                         side=cmd.side, quantity=cmd.quantity, price=cmd.price, serials=serials))

    def _gec_trade(self, lot: Lot, buyer: str, buy_order: str, buyer_limit: int, beneficiary: str,
                   serials: list[Range], bid: Bid | None = None) -> int:
        """One fill of the given serials of a lot, at the resting side's price (M4): the lot's when a bid takes
        it, the bid's (`bid` given) when a new lot meets resting bids. The serials leave the lot and are
        cancelled for the buyer (G1). Returns how many.

        Of a pooled lot, `serials` only count the fill: the pool's rule shares it among the owners, one trade for
        each owner's part, which pays that owner and names the agent."""
        price = lot.price if bid is None else bid.price
        quantity = count(serials)
        if isinstance(lot, PooledLot):
            sold = [(part.owner, part.batch, ranges, lot.account)
                    for part, ranges in self.lots.take_pooled(lot, quantity)]
        else:
            self.lots.take_ranges(lot, serials)
            sold = [(lot.account, lot.batch, serials, None)]
        if bid is not None:
            self.lots.fill_bid(bid, quantity)
        wallet, day = self.wallets[buyer], self.products["GEC"].day
        for seller, b, ranges, agent in sold:
            n = count(ranges)
            self.fill_cash(wallet, self.wallets[seller], price, n, buyer_limit)
            for first, last in ranges:
                self.cancelled.add(first, last)
            day.listing_trade(price, n)
            self.out.append(e.Trade(
                trade_id=self.trade_id(), product="GEC", mode="lot", price=Fen(price), quantity=n,
                buy_order=buy_order, sell_order=lot.order_id, buyer=buyer, seller=seller,
                serials=ranges, project=b.project, province=b.province, technology=b.technology,
                production_month=b.production_month, subsidised=b.subsidised, beneficiary=beneficiary, agent=agent,
            ))
        return quantity

    def withdraw_gec(self, order: Lot | Bid) -> int:
        """Take a lot or bid off the book and give back what it held; returns what was left of it."""
        self.lots.remove(order)
        if isinstance(order, PooledLot):
            self.pool_out(order)
            return order.remaining
        if isinstance(order, Lot):
            holding = self.serials[order.account]
            for first, last in order.serials:
                holding.add(first, last)
            return order.remaining
        self.release(self.wallets[order.account], "GEC", True, order.price, order.remaining)
        return order.remaining

    def today_month(self) -> int:
        return months(self.date.year, self.date.month)      # asked for by every GEC order: no date formatting

    def retire_expired(self, today: int) -> None:
        """G2: at the open, certificates past their validity leave every holding (and any lot) for good: one event
        per batch and holder, batches in serial order, then holders in their order.

        One pass over the lots and one over the holdings, however many batches expire: a production month is some
        64,000 distributed-PV batches (issue 13), each its owner's, and they expire at the same open; a pass over
        every holding for each batch would take some 13 minutes there (3.1 s for 4,000 x 4,000, growing as the
        square). Batches are apart and in serial order, so each range held finds the expiring batches it meets by
        binary search."""
        expired = [b for b in self.issuance.batches() if not b.expired and b.valid_through < today]
        if not expired:
            return
        for batch in expired:
            batch.expired = True
        gone_batches = {id(batch) for batch in expired}
        for order in [o for o in self.lots.orders.values()
                      if isinstance(o, Lot) and any(id(b) in gone_batches for b in o.batches())]:
            self.withdraw_gec(order)
        lasts = [batch.last for batch in expired]
        found: list[list[tuple[str, list[Range]]]] = [[] for _ in expired]    # by batch: (holder, its serials)
        for account, holding in self.serials.items():
            mine: dict[int, list[Range]] = {}
            for first, last in holding:
                i = bisect_left(lasts, first)           # the first expiring batch that ends at or after `first`
                while i < len(expired) and expired[i].first <= last:
                    mine.setdefault(i, []).append((max(first, expired[i].first), min(last, expired[i].last)))
                    i += 1
            for i, ranges in mine.items():
                found[i].append((account, ranges))
        out = self.out
        for holders in found:
            for account, gone in holders:
                holding = self.serials[account]
                for first, last in gone:
                    holding.remove(first, last)
                    self.retired.add(first, last)
                out.append(e.CertificatesExpired(account=account, serials=gone))
