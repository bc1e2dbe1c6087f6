"""The ledger: a pure, deterministic fold of engine events into settled cash, units and GEC serials.

Delivery versus payment (A4): a trade moves the buyer's cash and the seller's units together, or it moves
nothing and is answered by `settlement.rejected`. A GEC is single-transfer (G1): its serials leave the seller
and are cancelled in the buyer's name; a fill naming serials already cancelled, retired or not held by the
seller is refused, however it got here. Expired serials are retired (G2); surrendered units cancelled (C1).

Idempotent by origin: an engine event at or before the last origin applied from its partition has been
applied, and is ignored. Only applied events move that mark, so a refused forgery cannot hide later events.
"""
from __future__ import annotations

from certx.money import Fen
from certx.registry.serials import RangeSet
from certx.wire import events as e
from certx.wire import settlements as s
from certx.wire.reasons import SettlementReason
from certx.wire.routing import PARTITION


class Refused(Exception):
    def __init__(self, reason: SettlementReason, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail


class Ledger:
    def __init__(self) -> None:
        self.cash: dict[tuple[str, str], int] = {}        # (account, market) -> fen
        self.units: dict[tuple[str, str], int] = {}       # (account, product) -> units, CEA and CCER
        self.gec: dict[str, RangeSet] = {}                # account -> GEC serials held
        self.issued = RangeSet()                          # every GEC serial ever issued
        self.cancelled = RangeSet()                       # G1: traded, cancelled in the buyer's name
        self.retired = RangeSet()                         # G2: expired
        self.settled: set[str] = set()                    # trade ids
        self.marks: dict[int, tuple[int, int]] = {}       # engine partition -> last applied origin
        self.seq: dict[str, int] = {}                     # market -> next settlement seq
        self.applied = False                              # whether the last event was applied (not a duplicate)
        self.dirty_cash: set[tuple[str, str]] = set()     # what changed since the store last wrote
        self.dirty_units: set[tuple[str, str]] = set()
        self._handlers = {
            e.Trade: self._trade, e.Allocated: self._allocated, e.Issued: self._issued, e.FundsDeposited: self._deposited,
            e.FundsWithdrawn: self._withdrawn, e.CertificatesExpired: self._expired, e.Surrendered: self._surrendered,
        }

    def apply(self, event: e.Event) -> list[s.Settlement]:
        """Settle one engine event. Returns the settlement events, stamped with their position."""
        handler = self._handlers.get(type(event))
        origin = event.origin
        mark = self.marks.get(origin.partition)
        here = (origin.offset, origin.index)
        self.applied = False
        if mark is not None and here <= mark:
            return []                                     # applied before: a duplicate delivery
        if handler is None:
            self.marks[origin.partition] = here
            self.applied = True
            return []
        try:
            out = handler(event)
            self.marks[origin.partition] = here
            self.applied = True
        except Refused as r:
            out = [_rejection(event, r)]
        return self._stamp(event, out)

    def refuse(self, event: e.Event, refused: Refused) -> list[s.Settlement]:
        """Answer `event` with `settlement.rejected` without applying it: for an event the ledger would take but
        the database will not store. Like any refusal, it leaves the event's origin unmarked."""
        self.applied = False
        return self._stamp(event, [_rejection(event, refused)])

    def _stamp(self, event: e.Event, out: list[s.Settlement]) -> list[s.Settlement]:
        """Each settlement event's position: the market's next seq, and the engine event it answers; and that
        event's `ref`, the command it came of, so that a reader ties a settlement to what was sent (a surrender's
        two legs, a refused withdrawal)."""
        seq = self.seq.get(event.market, 0)
        partition = PARTITION[event.market]
        for i, settlement in enumerate(out):
            settlement.seq = seq + i
            settlement.origin = e.Origin(partition, event.seq, i)
            settlement.market = event.market
            settlement.ref = event.ref
        self.seq[event.market] = seq + len(out)
        return out

    # --- the events that move things ----------------------------------------------------------------

    def _credit(self, key: tuple[str, str], amount: int) -> None:
        self.cash[key] = self.cash.get(key, 0) + amount
        self.dirty_cash.add(key)

    def _move_units(self, key: tuple[str, str], quantity: int) -> None:
        self.units[key] = self.units.get(key, 0) + quantity
        self.dirty_units.add(key)

    def _deposited(self, ev: e.FundsDeposited) -> list:
        _positive(ev.amount)
        self._credit((ev.account, ev.market), ev.amount)
        return []

    def _withdrawn(self, ev: e.FundsWithdrawn) -> list:
        _positive(ev.amount)
        if self.cash.get((ev.account, ev.market), 0) < ev.amount:
            raise Refused(SettlementReason.insufficient_funds, f"{ev.account} withdraws more than it holds")
        self._credit((ev.account, ev.market), -ev.amount)
        return []

    def _issued(self, ev: e.Issued) -> list:
        _positive(ev.quantity)
        if ev.serials:
            if not _disjoint(ev.serials) or sum(last - first + 1 for first, last in ev.serials) != ev.quantity:
                raise Refused(SettlementReason.malformed, f"serial ranges overlapping, backwards or not {ev.quantity}")
            for first, last in ev.serials:
                if self.issued.overlaps(first, last):
                    raise Refused(SettlementReason.double_issuance, f"[{first}, {last}] was issued before")
            for first, last in ev.serials:
                self.issued.add(first, last)
                self.holding(ev.account).add(first, last)
        else:
            self._move_units((ev.account, ev.product), ev.quantity)
        return []

    def holding(self, account: str) -> RangeSet:
        held = self.gec.get(account)
        if held is None:
            held = self.gec[account] = RangeSet()
        return held

    def _trade(self, ev: e.Trade) -> list:
        """A4: check everything, then move cash and units together."""
        self._check(ev)
        if self.cash.get((ev.buyer, ev.market), 0) < ev.price * ev.quantity:
            raise Refused(SettlementReason.insufficient_funds, f"{ev.buyer} cannot pay {ev.price * ev.quantity} fen")
        return self._move(ev)

    def _allocated(self, ev: e.Allocated) -> list:
        """A 24/7 match settles all or nothing (A4 for the whole): every trade is checked, with the buyer's cash
        for all of them and no serial in two of them, before any moves."""
        value = 0
        for trade in ev.trades:
            if (trade.buyer != ev.account or trade.serials is None or trade.beneficiary != ev.beneficiary
                    or trade.product != "GEC"):
                raise Refused(SettlementReason.malformed, f"{trade.trade_id} is not a GEC trade of {ev.account}")
            trade.market = ev.market            # a nested trade's market is its allocation's, left out on the wire
            self._check(trade)
            value += trade.price * trade.quantity
        ids = [t.trade_id for t in ev.trades]
        if len(set(ids)) != len(ids) or _overlapping([r for t in ev.trades for r in t.serials or ()]):
            raise Refused(SettlementReason.malformed, "a trade id or a serial twice in one allocation")
        if self.cash.get((ev.account, ev.market), 0) < value:
            raise Refused(SettlementReason.insufficient_funds, f"{ev.account} cannot pay {value} fen")
        return [out for trade in ev.trades for out in self._move(trade)]

    def _check(self, ev: e.Trade) -> None:
        if ev.price < 1 or ev.quantity < 1:
            raise Refused(SettlementReason.malformed, f"a price of {ev.price} fen for {ev.quantity}")
        if (ev.serials is not None) != (ev.market == "GEC"):
            raise Refused(SettlementReason.malformed, f"GEC serials are settled in GEC's market, not {ev.market}")
        if ev.serials is not None:
            self._check_serials(ev)
        elif self.units.get((ev.seller, ev.product), 0) < ev.quantity:
            raise Refused(SettlementReason.insufficient_holdings,
                          f"{ev.seller} holds less than {ev.quantity} {ev.product}")
        if ev.trade_id in self.settled:
            raise Refused(SettlementReason.duplicate_trade, ev.trade_id)

    def _move(self, ev: e.Trade) -> list:
        """The checked trade's cash and units, and for a GEC its cancellation in the buyer's name (G1)."""
        value = ev.price * ev.quantity
        self._credit((ev.buyer, ev.market), -value)
        self._credit((ev.seller, ev.market), value)
        self.settled.add(ev.trade_id)
        settled = s.Settled(trade_id=ev.trade_id, product=ev.product, mode=ev.mode, buyer=ev.buyer, seller=ev.seller,
                            price=ev.price, quantity=ev.quantity, cash=Fen(value), serials=ev.serials)
        if ev.serials is None:
            self._move_units((ev.seller, ev.product), -ev.quantity)
            self._move_units((ev.buyer, ev.product), ev.quantity)
            return [settled]
        held = self.gec[ev.seller]
        for first, last in ev.serials:
            held.remove(first, last)
            self.cancelled.add(first, last)
        return [settled, s.GecCancelled(serials=ev.serials, owner=ev.buyer, beneficiary=ev.beneficiary or ev.buyer,
                                        trade_id=ev.trade_id)]

    def _check_serials(self, ev: e.Trade) -> None:
        """G1: every serial held by the seller, none cancelled or retired, and as many as the quantity."""
        held = self.gec.get(ev.seller)
        count = 0
        for first, last in ev.serials:
            if first > last:
                raise Refused(SettlementReason.malformed, f"[{first}, {last}]")
            if self.cancelled.overlaps(first, last):
                raise Refused(SettlementReason.already_cancelled, f"[{first}, {last}] holds cancelled certificates")
            if self.retired.overlaps(first, last):
                raise Refused(SettlementReason.already_cancelled, f"[{first}, {last}] holds retired certificates")
            if held is None or not held.contains(first, last):
                raise Refused(SettlementReason.not_held, f"{ev.seller} does not hold [{first}, {last}]")
            count += last - first + 1
        if count != ev.quantity or _overlapping(ev.serials):
            raise Refused(SettlementReason.malformed, f"{count} serials for a quantity of {ev.quantity}")

    def _expired(self, ev: e.CertificatesExpired) -> list:
        if not _disjoint(ev.serials):
            raise Refused(SettlementReason.malformed, "serial ranges backwards or overlapping")
        held = self.gec.get(ev.account)
        for first, last in ev.serials:
            if held is None or not held.contains(first, last):
                raise Refused(SettlementReason.not_held, f"{ev.account} does not hold [{first}, {last}]")
        for first, last in ev.serials:
            held.remove(first, last)
            self.retired.add(first, last)
        return [s.GecRetired(serials=ev.serials, account=ev.account, reason="expired")]

    def _surrendered(self, ev: e.Surrendered) -> list:
        for product, quantity in ev.units.items():
            _positive(quantity)
            if self.units.get((ev.account, product), 0) < quantity:
                raise Refused(SettlementReason.insufficient_holdings,
                              f"{ev.account} holds less than {quantity} {product}")
        for product, quantity in ev.units.items():
            self._move_units((ev.account, product), -quantity)
        return [s.UnitsSurrendered(account=ev.account, compliance_year=ev.compliance_year, units=ev.units)]


def _rejection(event: e.Event, refused: Refused) -> s.SettlementRejected:
    ref = getattr(event, "trade_id", None) or getattr(event, "allocation_id", "")
    return s.SettlementRejected(trade_id=ref, reason=refused.reason, detail=refused.detail)


def _positive(amount: int) -> None:
    """Cash and units come from deposits and issuance and leave by withdrawals, trades and surrenders: an amount
    below one would invent or destroy them."""
    if amount < 1:
        raise Refused(SettlementReason.malformed, f"an amount of {amount}")


def _disjoint(ranges: list[tuple[int, int]]) -> bool:
    """Every range runs forwards and none meets another."""
    return all(first <= last for first, last in ranges) and not _overlapping(ranges)


def _overlapping(ranges: list[tuple[int, int]]) -> bool:
    ordered = sorted(ranges)
    return any(b[0] <= a[1] for a, b in zip(ordered, ordered[1:]))
