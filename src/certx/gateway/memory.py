"""The door's memory read back from `certx.commands` when the gateway starts, with no I/O (README "The front door").

Only an order of a market's last session can still be targeted: orders are day orders (D2), so at the close every
resting listing order, block offer, GEC lot and GEC bid expires, and an auction still open closes with the day
(M3); and a market that is closed takes no order (D1). So the gateway reads each market's partition from its last
opening on (the first command at the time of its last `session.opened` event, which is the time of the
`session.open` that gave it) and feeds those commands to `Door.learn` in the order the live door learned them:
the three markets' records merged into one log order (`LogOrder`). The memory so rebuilt is the one a door
running since the openings holds: shared fairly among the senders (`Recall`), so one broker's flood of orders
just before a restart pushes out its own orders, never another broker's of the same day (A1: a broker may always
cancel its own orders).

Before, the gateway read back the last `remember` records of each partition, one partition after another: a
million orders sent just before a restart left no earlier order of that day in the memory, and their brokers'
cancels that named no market were refused `unknown_order`.

Where the rebuilt memory may differ from the live one: the live door also holds earlier days' orders (which no
command can target) until they are pushed out, and they count in their senders' shares; and records of two
markets sequenced in one millisecond are merged CEA, CCER, GEC, whatever their order was (which of a sender's
orders of that millisecond goes first when it must forget one, or which of two orders of one id a lift follows).
"""
from __future__ import annotations

from collections import deque
from typing import Iterable, Iterator, Sequence

import msgspec

from certx.gateway.door import Door

# What the door learns (`Door.learn`), as the gateway writes it: msgspec writes a command's tag first. Only the
# gateway may write `certx.commands` (certx.kafka.access), so nothing else need be decoded at a start.
LEARNED = (b'{"type":"order.new"', b'{"type":"auction.open"')


class _Order(msgspec.Struct, tag="order.new", tag_field="type"):
    actor: str
    order_id: str


class _Auction(msgspec.Struct, tag="auction.open", tag_field="type"):
    actor: str
    auction_id: str


# Only the fields the door keeps: a whole order decoded (its price parsed) took half a start's time.
_decoder = msgspec.json.Decoder(_Order | _Auction)


def learned(value: bytes | None) -> bool:
    """Whether a record of the command log may hold an order or auction the door learns."""
    return value is not None and value.startswith(LEARNED)


def recall(door: Door, market: str, value: bytes) -> None:
    """One record of `market`'s partition of the command log, learned as the live door learned it: its actor is
    the sender the gateway stamped (A1), whose share of the memory it takes."""
    try:
        cmd = _decoder.decode(value)
    except msgspec.DecodeError:
        return
    if isinstance(cmd, _Order):
        door.keep(cmd.actor, cmd.order_id, market, True)
    else:
        door.keep(cmd.actor, cmd.auction_id, market, False)


class LogOrder:
    """The markets' partitions of the command log, read each in its own order, merged into the order the door
    sequenced them in: by record time (the exchange's time, which the door never dates before the last record it
    sequenced, certx.gateway.arrival), and at equal times in the order of `markets`. The operator's replayed
    records keep their recorded times: they are merged by those.

    Sans I/O: the reader adds each partition's records as it fetches them and says when a partition is read to
    its end; `ready` gives the records whose place is known, those no partition still being read can precede."""

    def __init__(self, markets: Sequence[str]) -> None:
        self.buffered: dict[str, deque[tuple[int, bytes]]] = {m: deque() for m in markets}
        self.reading = set(markets)       # partitions not read to their end yet

    def add(self, market: str, records: Iterable[tuple[int, bytes]]) -> None:
        """`market`'s next records, (record time, value), in its partition's order."""
        self.buffered[market].extend(records)

    def finished(self, market: str) -> None:
        """`market`'s partition is read to its end: what it holds buffered is all there is."""
        self.reading.discard(market)

    def waiting(self, market: str) -> int:
        return len(self.buffered[market])

    def empty(self) -> list[str]:
        """The partitions to read further before anything more is ready."""
        return [m for m, records in self.buffered.items() if m in self.reading and not records]

    def ready(self) -> Iterator[tuple[str, bytes]]:
        """(market, value) in log order, as far as the records buffered tell it."""
        buffered, reading = self.buffered, self.reading
        while not any(not buffered[m] for m in reading):
            heads = sorted((records[0][0], i, m) for i, (m, records) in enumerate(buffered.items()) if records)
            if not heads:
                return
            _, i, first = heads[0]
            records = buffered[first]
            # the first market's records up to the next market's head, in one go (a day is mostly one market's)
            until = (heads[1][0], heads[1][1]) if len(heads) > 1 else None
            while records and (until is None or (records[0][0], i) < until):
                yield first, records.popleft()[1]
