"""When a record reached the exchange, and the order a batch of records is sequenced in (DESIGN stage 0, U3).

A record reaches the exchange when the gateway can read it. For most records that is their append time: the
inbound topics use `LogAppendTime`. But a sender may write its topic transactionally, and the gateway reads
with read_committed: a record in an open transaction is appended, stamped, and invisible until the sender
commits, up to the broker's `transaction.max.timeout.ms` later (15 minutes by default). Dated by its append
time alone, a held record would reach the market with a time from before it could be read: a broker could send
an order at 11:29:59, watch the market through the lunch break, and commit at 12:59 for an order the D1
window admits, or let it abort. So a held record is dated no earlier than the last time the gateway saw it
held (the fetch that reported it behind the partition's last stable offset): its commit time, to within one
fetch. `Held` remembers those sightings; it is fed what the consumer reports, and reads no clock.

Within one batch the gateway sequences the records of all senders in the order they reached the exchange (their
time, then topic, partition and offset, so the order is total), not one sender's records after another's: a
market's time priority (M1) follows arrival across senders, to within what one fetch brings.
"""
from __future__ import annotations

from itertools import chain
from typing import Generic, Hashable, Iterable, NamedTuple, Protocol, TypeVar


class Sighting(NamedTuple):
    stable: int        # the last stable offset: records from here on were held
    high: int          # the high watermark: records before it had been appended
    at: int            # when the broker said so (epoch ms, the consumer's clock)


class Held:
    """For each source (an inbound partition), when its held records were last seen held."""

    def __init__(self) -> None:
        self._seen: dict[Hashable, list[Sighting]] = {}

    def observe(self, source: Hashable, stable: int | None, high: int | None, at: int | None) -> None:
        """What the latest fetch of `source` reported; nothing is held when the stable offset is the high one."""
        if stable is None or high is None or at is None or stable >= high:
            return
        seen = self._seen.setdefault(source, [])
        if seen and seen[-1].stable == stable:
            seen[-1] = Sighting(stable, high, at)      # the same records still held, and perhaps more: later
        else:
            seen.append(Sighting(stable, high, at))

    def sighted(self, source: Hashable) -> list[Sighting] | None:
        """The sightings of `source` that may date a record, or None (the usual case: nothing held)."""
        return self._seen.get(source)

    def passed(self, source: Hashable, position: int) -> None:
        """The records of `source` before `position` are sequenced: their sightings are done with."""
        seen = self._seen.get(source)
        if seen is None:
            return
        seen[:] = [s for s in seen if s.high > position]
        if not seen:
            del self._seen[source]


def not_before(sightings: list[Sighting] | None, offset: int) -> int:
    """The last time the record at `offset` was seen held (0 if never): the stable offset only moves forward,
    so the newest sighting that covers the offset is the last one in which it was still held."""
    for s in reversed(sightings or ()):
        if s.stable <= offset < s.high:
            return s.at
    return 0


class Offset(Protocol):
    offset: int


R = TypeVar("R", bound=Offset)


class Arrival(NamedTuple, Generic[R]):
    at: int            # when it reached the exchange (epoch ms)
    topic: str
    partition: int
    record: R


def arrivals(topic: str, partition: int, records: Iterable[R], times: Iterable[int],
             sightings: list[Sighting] | None) -> list[Arrival[R]]:
    """One partition's records as they reached the exchange: each at its time (`times`) or, held, no earlier
    than it was last seen held; and never before the record ahead of it, so a sender's records keep their order
    (a broker's clock and the gateway's may differ by a millisecond)."""
    out, last = [], 0
    for record, at in zip(records, times):
        last = max(at, last, not_before(sightings, record.offset) if sightings else 0)
        out.append(Arrival(last, topic, partition, record))
    return out


def in_arrival_order(partitions: list[list[Arrival[R]]]) -> list[Arrival[R]]:
    """A batch, given as each partition's arrivals, in the order its records reached the exchange; ties in the
    order of their topics, partitions and offsets, so that one batch always sequences the same way."""
    if len(partitions) == 1:
        return partitions[0]        # one partition's arrivals are in order already
    return sorted(chain.from_iterable(partitions), key=_order)


def _order(a: Arrival) -> tuple[int, str, int, int]:
    return a.at, a.topic, a.partition, a.record.offset
