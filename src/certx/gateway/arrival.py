"""When a record reached the exchange, and the order a batch of records is sequenced in (DESIGN stage 0, U3).

A record reaches the exchange when the gateway can read it. For most records that is their append time: the
inbound topics use `LogAppendTime`. But a sender may write its topic transactionally, and the gateway reads
with read_committed: a record in an open transaction is appended, stamped, and invisible until the sender
commits, up to the broker's `transaction.max.timeout.ms` later (15 minutes by default). Dated by its append
time alone, a held record would reach the market with a time from before it could be read: a broker could send
an order at 11:29:59, watch the market through the lunch break, and commit at 12:59 for an order the D1
window admits, or let it abort. So a held record is dated no earlier than the last time the gateway saw it
held (the fetch that reported it behind the partition's last stable offset): its commit time, to within one
fetch. `Held` remembers those sightings; it is fed what the consumer reports, and reads no clock. They go with
the gateway's committed positions (`kept`, `restore`): a gateway that starts after a crash dates a record whose
sender committed while no gateway ran no earlier than the last time its predecessor saw it held, not by its append
time (a broker holding an order open could otherwise commit it whenever the gateway went down and have it dated
back to its append, up to the transaction timeout before).

The gateway sequences the records of all senders in the order they reached the exchange (their time, then topic,
partition and offset, so the order is total), not one sender's records after another's: a market's time priority
(M1) follows arrival across senders. Across batches too: a fetch brings each partition's records only so far, so a
sender with a backlog (a gateway restarting, or lagging behind a burst) is read over several batches while a quiet
sender's later record comes in the first; sequenced batch by batch, the operator's session.close of 15:00 went
into the market ahead of a broker's orders of 14:59 (refused `market_closed`, D1), and a command after an
auction's end ahead of bids sent before it (M3). So a record read waits (`Unsequenced`) until no record not yet
read can have arrived before it: until every partition with committed records still unread has been read past
its time (a partition's records keep their order, so what is unread there arrived no earlier than what was read).
A sender whose transaction holds records back is not behind: they will be dated no earlier than now.

And a record is dated no earlier than the last one sequenced. The broker stamps a record's append time a moment
before a fetch can see it, and one fetch does not read every partition at one instant, so a partition can show
nothing unread while its next record already bears an earlier time than one another sender's partition gave
(measured under load: 1-5 ms). Sequenced after that one, it reaches the exchange when it can be read, as a held
record does: a market's times never go backwards, so an auction bid sent before the close is never refused after
it (M3) nor a session's close undone (D1). That time goes with the gateway's committed positions too (`kept`):
a restarted gateway carries on from the last one its predecessor committed.
"""
from __future__ import annotations

from collections import deque
from heapq import merge
from itertools import chain
from typing import Generic, Hashable, Iterable, NamedTuple, Protocol, TypeVar

import msgspec


class Sighting(NamedTuple):
    stable: int        # the last stable offset: records from here on were held
    high: int          # the high watermark: records before it had been appended
    at: int            # when the broker said so (epoch ms, the consumer's clock)


KEPT = 40                  # sightings kept in a committed position's metadata (each up to ~56 bytes)
_KEPT_TAG = "held/1 "      # the metadata's version: text without it is no sightings
_LATEST_TAG = "latest/1 "  # the same for the time of the last record sequenced


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

    def kept(self, source: Hashable) -> str:
        """`source`'s sightings as text for its committed position's metadata ('' when none): KEPT at most, the
        oldest merged into one that dates their records no later than any of them did, to fit the broker's bound
        on metadata (4 KiB by default)."""
        seen = self._seen.get(source)
        if not seen:
            return ""
        if len(seen) > KEPT:
            old = seen[:len(seen) - KEPT + 1]      # records past the first's high were appended after its time
            seen = [Sighting(old[0].stable, max(s.high for s in old), old[0].at), *seen[len(old):]]
        return _KEPT_TAG + msgspec.json.encode(seen).decode()

    def restore(self, source: Hashable, text: str) -> None:
        """`source`'s sightings from `kept`'s text; any other text (an older release's empty metadata) is none."""
        if not text.startswith(_KEPT_TAG) or len(text) > 4 * 1024:
            return
        try:
            seen = msgspec.json.decode(text[len(_KEPT_TAG):], type=list[Sighting])
        except msgspec.DecodeError:
            return
        if seen and all(0 <= s.stable < s.high and s.at >= 0 for s in seen):
            self._seen[source] = seen

    def newest(self) -> int:
        """The time of the latest sighting of any source (0: none)."""
        return max((seen[-1].at for seen in self._seen.values()), default=0)

    def sources(self) -> list[Hashable]:
        return list(self._seen)

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
             sightings: list[Sighting] | None, last: int = 0) -> list[Arrival[R]]:
    """One partition's records as they reached the exchange: each at its time (`times`) or, held, no earlier
    than it was last seen held; and never before the record ahead of it, so a sender's records keep their order
    (a broker's clock and the gateway's may differ by a millisecond), in this batch and after `last`, the time of
    the partition's record read before them."""
    out = []
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


class Unsequenced:
    """Records read but not sequenced yet, per source (an input partition), each source's in its order."""

    def __init__(self) -> None:
        self._waiting: dict[Hashable, deque[Arrival]] = {}
        self._last: dict[Hashable, int] = {}
        self.frontier: int | None = None     # as of the last release: what waits is dated at or after it
        self.latest = 0                      # the time of the last record released

    def __len__(self) -> int:
        return sum(map(len, self._waiting.values()))

    def last(self, source: Hashable) -> int:
        """The time of the last record read from `source` (0: none yet)."""
        return self._last.get(source, 0)

    def add(self, source: Hashable, arrived: list[Arrival]) -> None:
        """`source`'s records just read, as `arrivals` dated them."""
        if arrived:
            self._waiting.setdefault(source, deque()).extend(arrived)
            self._last[source] = arrived[-1].at

    def release(self, behind: Iterable[Hashable]) -> list[Arrival]:
        """The records no record still unread can have arrived before, in arrival order (`in_arrival_order`'s):
        those dated before the last record read from each source in `behind` (the sources with committed records
        not read yet; a record of the same millisecond may be among those, so it waits too). None behind: all."""
        frontier = self.frontier = min((self._last.get(s, 0) for s in behind), default=None)
        ready = []
        for source, queue in list(self._waiting.items()):
            if frontier is None or queue[-1].at < frontier:
                ready.append(list(queue))
                del self._waiting[source]
                continue
            taken = []
            while queue and queue[0].at < frontier:
                taken.append(queue.popleft())
            if taken:
                ready.append(taken)
        released = list(merge(*ready, key=_order)) if len(ready) > 1 else (ready[0] if ready else [])
        latest = self.latest
        for k, a in enumerate(released):
            if a.at < latest:
                released[k] = a._replace(at=latest)
            else:
                latest = a.at
        self.latest = latest
        return released

    def kept(self) -> str:
        """The time of the last record released, as text for a committed position's metadata."""
        return f"{_LATEST_TAG}{self.latest}"

    def restore(self, text: str) -> None:
        """The time `kept` wrote, if later than the one in hand; any other text (an older release's) is none."""
        number = text[len(_LATEST_TAG):] if text.startswith(_LATEST_TAG) else ""
        if number.isascii() and number.isdigit() and len(number) <= 18:
            self.latest = max(self.latest, int(number))

    def sources(self) -> list[Hashable]:
        """The sources with records waiting."""
        return list(self._waiting)

    def first(self, source: Hashable) -> int | None:
        """The offset of `source`'s first record still waiting: its position to commit, so that a gateway that
        stops before sequencing it reads it again."""
        queue = self._waiting.get(source)
        return queue[0].record.offset if queue else None

    def waiting(self, source: Hashable) -> int:
        queue = self._waiting.get(source)
        return len(queue) if queue else 0

    def ahead(self, source: Hashable) -> bool:
        """Whether `source` has been read past the frontier: reading it further cannot release anything. (The
        source the frontier is at must be read on, even with many records waiting: a sender's batch of thousands
        of records appended in one millisecond waits until the next millisecond of it is read.)"""
        return self.frontier is not None and self._last.get(source, 0) > self.frontier
