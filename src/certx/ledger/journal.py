"""The rows one batch of events writes to the read model: pure, so the store's transaction does I/O only.

Provenance rows keep each GEC's history (issued, listed, traded, cancelled or retired) with the position of
the event that recorded it: the market's event stream position (`seq`) and the command offset (`origin`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from certx.ledger.ledger import Ledger, Refused
from certx.wire import events as e
from certx.wire import settlements as s
from certx.wire.codec import encode
from certx.wire.routing import PARTITION


@dataclass
class Batch:
    cash: list[tuple] = field(default_factory=list)          # (account, market, amount)
    units: list[tuple] = field(default_factory=list)         # (account, product, quantity)
    issued: list[tuple] = field(default_factory=list)        # (first, last, account, project, province, technology,
                                                             #  production_month, subsidised, seq, origin_offset)
    listed: list[tuple] = field(default_factory=list)        # (first, last, order_id, account, price, seq, origin_offset)
    trades: list[tuple] = field(default_factory=list)        # (trade_id, market, product, mode, price, quantity,
                                                             #  buyer, seller, seq, origin_offset)
    cancellations: list[tuple] = field(default_factory=list) # (first, last, kind, owner, beneficiary, trade_id, seq)
    surrenders: list[tuple] = field(default_factory=list)    # (ref, account, compliance_year, market, product,
                                                             #  quantity, at, seq, origin_offset)
    outbox: list[tuple] = field(default_factory=list)        # (partition, encoded settlement, command time:
                                                             #  its record's timestamp, epoch ms, or None)
    marks: dict[int, tuple] = field(default_factory=dict)    # events partition -> (next topic offset, origin offset,
                                                             #  origin index, next settlement seq)
    settlements: list[s.Settlement] = field(default_factory=list)

    def rows(self) -> int:
        """The rows the batch writes (for the projector's rows-per-second metric)."""
        return (len(self.cash) + len(self.units) + len(self.issued) + len(self.listed) + len(self.trades)
                + len(self.cancellations) + len(self.surrenders) + len(self.outbox) + len(self.marks))


class Journal:
    """Runs events through the ledger and gathers what the store must write for them."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.batch = Batch()

    def add(self, event: e.Event, topic_offset: int | None = None, at: int | None = None) -> list[s.Settlement]:
        """One engine event; `topic_offset` is its offset in `certx.events` (None in the embedded replay), `at` its
        command's time (epoch ms: the event record's timestamp), for the rows that keep it."""
        return self._record(event, self.ledger.apply(event), topic_offset, at)

    def refuse(self, event: e.Event, topic_offset: int | None, refused: Refused,
               at: int | None = None) -> list[s.Settlement]:
        """One engine event answered by `settlement.rejected` and nothing else (the database refused its rows):
        it moves nothing, and its offset is consumed like any other's."""
        return self._record(event, self.ledger.refuse(event, refused), topic_offset, at)

    def _record(self, event: e.Event, out: list[s.Settlement], topic_offset: int | None,
                at: int | None) -> list[s.Settlement]:
        b = self.batch
        b.settlements += out
        partition = PARTITION[event.market]
        b.outbox += [(partition, encode(x), at) for x in out]     # dated as the event it settles (U3)
        if self.ledger.applied:
            self._provenance(event, out, at)
        self._mark(partition, topic_offset + 1 if topic_offset is not None else event.seq + 1, event.market)
        return out

    def skip(self, partition: int, topic_offset: int, market: str) -> None:
        """A record that is not an event (sent to the dead-letter topic): consumed, nothing to settle."""
        self._mark(partition, topic_offset + 1, market)

    def _mark(self, partition: int, next_offset: int, market: str) -> None:
        """Where the batch leaves this partition: the next input offset, the ledger's last origin, the next
        settlement seq; the store writes it with the batch, so a restart resumes exactly there."""
        origin = self.ledger.marks.get(partition, (-1, -1))
        self.batch.marks[partition] = (next_offset, origin[0], origin[1], self.ledger.seq.get(market, 0))

    def _provenance(self, ev: e.Event, out: list[s.Settlement], time: int | None) -> None:
        """Rows for an event the ledger applied (never for a duplicate or a refused fill)."""
        b, at = self.batch, (ev.seq, ev.origin.offset)
        if isinstance(ev, e.Issued) and ev.serials:
            b.issued += [(f, l, ev.account, ev.project, ev.province, ev.technology, ev.production_month,
                          ev.subsidised, *at) for f, l in ev.serials]
        elif isinstance(ev, e.OrderAccepted) and ev.serials:
            b.listed += [(f, l, ev.order_id, ev.account, int(ev.price), *at) for f, l in ev.serials]
        elif isinstance(ev, e.Surrendered):
            b.surrenders += [(ev.ref, ev.account, ev.compliance_year, ev.market, product, quantity,
                              time, *at) for product, quantity in ev.units.items()]
        for x in out:
            if isinstance(x, s.Settled):
                b.trades.append((x.trade_id, ev.market, x.product, x.mode, int(x.price), x.quantity, x.buyer,
                                 x.seller, *at))
            elif isinstance(x, s.GecCancelled):
                b.cancellations += [(f, l, "trade", x.owner, x.beneficiary, x.trade_id, ev.seq) for f, l in x.serials]
            elif isinstance(x, s.GecRetired):
                b.cancellations += [(f, l, "expired", x.account, None, None, ev.seq) for f, l in x.serials]

    def take(self) -> Batch:
        """The batch so far, with the cash and units rows that changed; starts a new one."""
        b, ledger = self.batch, self.ledger
        b.cash = [(a, m, ledger.cash[(a, m)]) for a, m in sorted(ledger.dirty_cash)]
        b.units = [(a, p, ledger.units[(a, p)]) for a, p in sorted(ledger.dirty_units)]
        ledger.dirty_cash.clear()
        ledger.dirty_units.clear()
        self.batch = Batch()
        return b
