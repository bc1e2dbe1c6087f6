"""Pooled lots (issue 13, item 5): an agent sells many distributed-PV projects' certificates as one lot.

The agent (an account; its broker sends the order) lists an `order.new` GEC sell whose `pool` names each owner's
range and the rule that shares every fill among them. The lot is refused, and nothing changes, unless every share
is a range its owner holds, free (not listed, not cancelled: G1; not expired: G2), inside one batch, and the agent
holds a mandate in force today for that owner and the batch's project (`not_authorised`); unless the shares are
apart and of one bucket's attributes (province, technology, subsidy, production month: the lot is filed by them,
and a bid's filter tests them, G4), and the quantity is their total (S2). A pooled lot is public: addressing one
(M5) is refused as malformed, since a counterparty's lift would still be shared by the rule, which is no bilateral
deal. Mandates run over whole days and lots are day orders (D2), so a mandate checked at the listing holds while
the lot rests, unless the registry grants it again: to another owner, or over days that no longer cover today. Then
the agent's resting pools with a share of that project are cancelled (`order.cancelled`, as a cancel of the agent's
own would be), each owner given back what is left of its share.

The serials leave the owners' holdings into the lot. A fill is the book's (`GecBook.take_pooled`): one trade per
owner it takes from, that owner the seller and paid the proceeds, the agent named on it, the project and attributes
those of the owner's batch. A cancel, the close (D2) or expiry (G2) gives each owner back what is left of its share.
"""
from __future__ import annotations

from certx.books.gec import Part, PooledLot, bucket_of
from certx.engine.accounts import Accounts
from certx.engine.rejection import Rejected
from certx.registry.serials import RangeSet
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.reasons import Reason


class PoolDesk(Accounts):
    def check_pool(self, cmd: c.OrderNew, price: int, quantity: int, seq: int) -> PooledLot:
        """The pooled lot `cmd` lists, or a refusal; changes nothing."""
        pool = cmd.pool
        if cmd.counterparty is not None:
            raise Rejected(Reason.malformed, "a pooled lot is public: it names no counterparty (M5)")
        spans = sorted((s.first_serial, s.last_serial) for s in pool.shares)
        if any(last < first for first, last in spans):
            raise Rejected(Reason.malformed, "a share's last_serial is before its first_serial")
        for (_, last), (first, _) in zip(spans, spans[1:]):
            if first <= last:
                raise Rejected(Reason.malformed, f"two shares hold serial {first}")
        total = sum(last - first + 1 for first, last in spans)
        if quantity != total:
            raise Rejected(Reason.lot_size, f"quantity {quantity} is not the pool's {total} certificates")
        today, month = self.date, self.today_month()
        parts = []
        for share in pool.shares:
            owner, first, last = share.owner, share.first_serial, share.last_serial
            if self.cancelled.overlaps(first, last):
                raise Rejected(Reason.already_cancelled, f"[{first}, {last}] holds cancelled certificates")
            batch = self.issuance.batch_of(first, last)
            if batch is not None and (batch.expired or batch.valid_through < month):
                raise Rejected(Reason.expired_certificate, f"{batch.project} {batch.production_month} has expired")
            holding = self.serials.get(owner)
            if batch is None or holding is None or not holding.contains(first, last):
                raise Rejected(Reason.insufficient_holdings, f"{owner} does not hold [{first}, {last}] in one batch")
            if not self.mandates.allows(cmd.account, owner, batch.project, today):
                raise Rejected(Reason.not_authorised,
                               f"{cmd.account} holds no mandate in force from {owner} for {batch.project}")
            parts.append(Part(owner, batch, RangeSet.of(first, last)))
        bucket = bucket_of(parts[0].batch)
        for part in parts:
            if bucket_of(part.batch) != bucket:
                raise Rejected(Reason.malformed,
                               f"a pool's attributes are uniform: {part.batch.project} is not of "
                               f"{parts[0].batch.project}'s province, technology, subsidy and month")
        return PooledLot(cmd.order_id, cmd.account, price, pool.rule, parts, seq, cmd.partial)

    def pool_in(self, lot: PooledLot) -> None:
        """The shares leave their owners' holdings into the lot."""
        for part in lot.parts:
            holding = self.serials[part.owner]
            for first, last in part.serials:
                holding.remove(first, last)

    def pool_out(self, lot: PooledLot) -> None:
        """What is left of each share goes back to its owner."""
        for part in lot.parts:
            holding = self.serials[part.owner]
            for first, last in part.serials:
                holding.add(first, last)

    def unmandated(self, agent: str, project: str) -> None:
        """After a grant of (agent, project): cancel the agent's resting pools with a share of the project that the
        mandate no longer covers today (a share sold out has left its pool). Listing order, as the close's."""
        today = self.date
        if today is None:
            return                  # the market is closed: nothing rests (D2)
        for lot in list(self.lots.pools.get(agent, {}).values()):
            if any(part.batch.project == project and not self.mandates.allows(agent, part.owner, project, today)
                   for part in lot.parts):
                remaining = self.withdraw_gec(lot)
                self.out.append(e.OrderCancelled(order_id=lot.order_id, account=agent, remaining=remaining))
