"""The gateway on Kafka: every sender's inbound topic in, `certx.commands` out, exactly once (DESIGN stage 0).

It reads `certx.in.<principal>` for every sender (found by name; new ones are picked up within seconds) and the
operator's `certx.replay`, with read_committed, so a sender's aborted transaction never arrives and its commit
markers are just positions. It also reads the CEA and CCER partitions of `certx.events`, for the answers a
surrender's second phase needs (certx.gateway.relay): the votes and decisions it writes back to `certx.commands`
go in the same transaction as its position in `certx.events`, so each is written once, crash or not. Each record goes through the door (certx.gateway: the actor from the topic, the
exchange's time, the strict contract, routing by the command), and each batch is one transaction holding the
commands it wrote to their markets' partitions, the dead letters, and the consumed positions (in the consumer
group `certx-gateway`, where Kafka's tools show its lag).

The exchange's time is when the inbound record reached the exchange: the broker's append time (the inbound
topics use `LogAppendTime`), so the sender's clock counts for nothing and a record read again after a crash
gets the same time; were a topic misconfigured with `CreateTime`, the gateway's clock is used instead, never the
sender's. A record a sender's open transaction held back is dated no earlier than the gateway last saw it held
(certx.gateway.arrival), and records are sequenced in the order they arrived, across senders and across batches:
a record read waits until every sender's partition with committed records still unread has been read past its
time (the consumer position committed for a partition is that of its first record still waiting).
Recorded days on the replay topic keep their recorded times.

The gateway is a sequencer: one runs at a time. Its transactional ids are fixed, so a new instance fences
the old one, whose next transaction fails and ends it (crash-only); the new one resumes from the committed
positions. On start it rebuilds the door's memory of which market each order of the day is in from
`certx.commands`: each market's commands since its last opening, in log order (certx.gateway.memory).
"""
from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from certx import metrics
from certx.gateway import Door
from certx.gateway.arrival import Arrival, Held, Unsequenced, arrivals, in_arrival_order
from certx.gateway.memory import LogOrder, learned, recall
from certx.gateway.relay import called_for, may_call_for_commands
from certx.kafka.backwards import backwards
from certx.kafka.connection import IDLE_FETCH_WAIT_MS, Connection
from certx.kafka.inflate import Inflated, where
from certx.kafka.liveness import Liveness
from certx.kafka.progress import Progress
from certx.kafka.reach import require_topics
from certx.kafka.topics import Topics, send_batched
from certx.kafka.transactions import TURNS, Transactions, transactional_producers
from certx.wire import events as e
from certx.wire.codec import NotAnObject, encode
from certx.wire.dead_letter import dead_letter
from certx.wire.reasons import DeadLetterReason
from certx.wire.routing import MARKET_OF, PARTITION

log = structlog.get_logger("certx.gateway")

LOG_APPEND_TIME = 1
RELAYED = ("CEA", "CCER")       # the markets whose events a surrender's second phase answers
KEEP_HELD_EVERY_MS = 1_000      # while a sender holds records, its sightings are committed at least this often
RECALL_BUFFERED = 100_000       # orders of a market read back and waiting for the other markets' at a start


@dataclass
class GatewaySettings:
    kafka: Connection
    topics: Topics = field(default_factory=Topics)
    max_records: int = 10_000
    fetch_wait_ms: int = IDLE_FETCH_WAIT_MS
    remember: int = 1_000_000          # orders whose market the door remembers, for routing by target
    recall_most: int = 5_000_000       # offsets of a market read back at most at a start, to its last opening
    discover_every_s: float = 2.0      # how often to look for new senders' inbound topics

    @property
    def group(self) -> str:
        return self.topics.group("gateway")


class Gateway:
    def __init__(self, settings: GatewaySettings) -> None:
        self.s = settings
        self.door = Door(settings.remember)
        self.positions: dict[TopicPartition, int] = {}
        self.inbound: list[TopicPartition] = []       # the senders' inbound partitions among them
        self.senders: dict[str, str] = {}             # inbound topic -> its sender (the principal)
        self.held = Held()
        self.held_kept = 0                # the newest sighting committed with the positions
        self.waiting = Unsequenced()     # senders' records read, not sequenced yet
        self.processed = 0
        self._stopping = asyncio.Event()
        self.consumer: AIOKafkaConsumer | None = None
        self.transactions: Transactions | None = None
        self.progress = Progress(log, "gateway")
        self.started = False

    def ready(self) -> bool:
        """Started (its memory of the orders' markets read back) and caught up with its inputs."""
        return self.started and self.progress.is_caught_up()

    async def start(self) -> None:
        t = self.s.topics
        await require_topics(self.s.kafka, [t.commands, t.events, t.replay, t.dlq])
        ids = tuple(t.transactional_id("gateway", turn) for turn in TURNS)
        self.transactions = Transactions(transactional_producers(self.s.kafka, ids, 1024 * 1024), "gateway",
                                         self.s.group)
        await self.transactions.start()       # fences a previous gateway
        self.consumer = AIOKafkaConsumer(
            group_id=self.s.group, enable_auto_commit=False, isolation_level="read_committed",
            auto_offset_reset="none", fetch_max_wait_ms=self.s.fetch_wait_ms, **self.s.kafka.aiokafka())
        await self.consumer.start()
        await self._remember_targets()
        await self._discover()
        self.started = True
        log.info("gateway.started", group=self.s.group, inputs=len(self.positions))

    async def _remember_targets(self) -> None:
        """The door's memory of the orders' and auctions' markets read back (certx.gateway.memory): each market's
        commands since its last opening, the markets merged in log order, as the live door learned them."""
        t, door = self.s.topics, self.door
        began = time.monotonic()
        tps = {MARKET_OF[p]: TopicPartition(t.commands, p) for p in sorted(MARKET_OF)}
        # fetch_max_wait_ms: a look for an offset waits behind a fetch that waits for records (0.5 s by default)
        reader = AIOKafkaConsumer(enable_auto_commit=False, isolation_level="read_committed", auto_offset_reset="none",
                                  fetch_max_wait_ms=10, **self.s.kafka.aiokafka())
        await reader.start()
        try:
            ends = await reader.end_offsets(list(tps.values()))
            begins = await reader.beginning_offsets(list(tps.values()))
            starts = {m: await self._opening(reader, m, tp, begins[tp], ends[tp]) for m, tp in tps.items()}
            merged = LogOrder(list(tps))
            for m, tp in tps.items():
                if starts[m] >= ends[tp]:
                    merged.finished(m)
            if merged.reading:        # (an empty assignment left the reader's stop waiting 40 s)
                reader.assign([tps[m] for m in merged.reading])
            for m in merged.reading:
                reader.seek(tps[m], starts[m])
            while merged.reading:
                for tp, records in (await reader.getmany(timeout_ms=1000, max_records=50_000)).items():
                    end = ends[tp]
                    merged.add(MARKET_OF[tp.partition],
                               [(r.timestamp, r.value) for r in records if r.offset < end and learned(r.value)])
                for m in list(merged.reading):
                    if await reader.position(tps[m]) >= ends[tps[m]]:
                        merged.finished(m)
                for m, value in merged.ready():
                    recall(door, m, value)
                # a partition read far ahead of the others in time waits for them: what is buffered stays bounded
                ahead = [tps[m] for m in merged.reading if merged.waiting(m) >= RECALL_BUFFERED]
                reader.resume(*[tps[m] for m in merged.reading if tps[m] not in ahead])
                reader.pause(*ahead)
        finally:
            await reader.stop()
        log.info("gateway.remembered", seconds=round(time.monotonic() - began, 1), ids=len(door.targets),
                 reused=len(door.reused), read={m: ends[tp] - starts[m] for m, tp in tps.items()})

    async def _opening(self, reader: AIOKafkaConsumer, market: str, tp: TopicPartition, begin: int, end: int) -> int:
        """Where `market`'s partition of the command log is read back from: its last opening, the first command at
        the time of its last `session.opened` event (the time of the `session.open` that gave it; a matcher
        behind the log gives an earlier opening, which only reads more). Never more than `recall_most` offsets
        back: a day longer than that, or an opening not found within as many events, is read from there."""
        most = self.s.recall_most
        events = TopicPartition(self.s.topics.events, tp.partition)
        reader.assign([events])
        await reader.seek_to_end(events)        # a position from the start, however few events there are
        opened_at = None
        async for window in backwards(reader, events, most, b'"session.opened"'):
            opens = [r.timestamp for r, ev in window if isinstance(ev, e.SessionOpened) and ev.market == market]
            if opens:
                opened_at = opens[-1]
                break
        found = None
        if opened_at is not None:
            at = (await reader.offsets_for_times({tp: opened_at}))[tp]
            found = None if at is None else at.offset
        bound = max(begin, end - most)
        if found is not None and found >= bound:
            return found
        if bound > begin:
            log.warning("gateway.remembered_bounded", market=market, opened_at=opened_at, opening=found,
                        read_from=bound, end=end, most=most)
        return bound

    async def _inputs(self) -> list[TopicPartition]:
        """Input partitions that exist and are not read yet: the senders' inbound topics and the replay topic."""
        t = self.s.topics
        names = {n for n in await self.consumer.topics() if t.sender_of(n) or n == t.replay}
        known = {tp.topic for tp in self.positions}
        return [TopicPartition(n, p) for n in sorted(names - known)
                for p in sorted(self.consumer.partitions_for_topic(n) or {0})]

    async def _discover(self) -> None:
        """Read every sender's inbound topic there is, the replay topic, and the events a surrender's legs answer
        with (the CEA and CCER partitions of certx.events)."""
        if not self.positions:
            for market in RELAYED:
                tp = TopicPartition(self.s.topics.events, PARTITION[market])
                self.positions[tp], kept = await self._committed(tp)
                self.waiting.restore(kept)      # committed with every batch's positions
        new = await self._inputs()
        if not new and self.consumer.assignment():
            return
        for tp in new:
            self.positions[tp], kept = await self._committed(tp)
            if self.s.topics.sender_of(tp.topic):
                self.held.restore(tp, kept)
        self.consumer.assign(list(self.positions))      # a new assignment forgets positions: set them all
        self.inbound = [tp for tp in self.positions if self.s.topics.sender_of(tp.topic)]
        self.senders = {tp.topic: self.s.topics.sender_of(tp.topic) for tp in self.inbound}
        for tp, position in self.positions.items():
            self.consumer.seek(tp, position)
        log.info("gateway.inputs", added=sorted(tp.topic for tp in new), inputs=len(self.positions))

    async def _committed(self, tp: TopicPartition) -> tuple[int, str]:
        """`tp`'s committed position (its start if none) and the metadata committed with it: an inbound
        partition's sightings (`Held.kept`), the events' the time of the last record sequenced (`Unsequenced.kept`).
        One fetch: aiokafka's public `committed` drops the metadata; its coordinator's fetch, which that calls,
        keeps it (and leaves out a partition with nothing committed)."""
        got = await self.consumer._coordinator.fetch_committed_offsets([tp])
        if tp in got:
            return got[tp].offset, got[tp].metadata
        return (await self.consumer.beginning_offsets([tp]))[tp], ""

    async def _to_commit(self, offsets: dict[TopicPartition, int]) -> dict:
        """The positions to commit, with what a gateway that starts after this one dies needs to date records as
        this one would have: every partition with records seen held among them, each with its sightings, and the
        events' with the time of the last record sequenced (`Unsequenced.kept`). A partition the fetches
        brought no record from may still have been read past aborted transactions (a sender's own to open and
        abort): its position goes past them, and so do their sightings, which nothing else would drop."""
        for tp in self.held.sources():
            if tp not in offsets:
                first = self.waiting.first(tp)
                if first is None:
                    self.positions[tp] = await self.consumer.position(tp)
                    self.held.passed(tp, self.positions[tp])
                offsets[tp] = self.positions[tp] if first is None else first
        self.held_kept = self.held.newest()
        events = self.s.topics.events
        return {tp: (o, self.waiting.kept() if tp.topic == events else self.held.kept(tp)) for tp, o in offsets.items()}

    async def _keep_held(self) -> None:
        """Commit the sightings alone, as a sender's transaction stays open and nothing else is committed."""
        positions = await self._to_commit({})

        async def fill(producer) -> list[asyncio.Future]:
            return []

        await self.transactions.submit(fill, positions)

    async def run(self) -> None:
        consumer = self.consumer
        liveness = Liveness(consumer)
        looking = asyncio.create_task(self._look_for_inputs())
        try:
            while not self._stopping.is_set():
                if self.transactions.failure is not None:
                    raise self.transactions.failure     # crash-only: a restart resumes from the committed positions
                if looking.done():
                    looking.result()                    # (re-raises what failed there)
                    # A new sender: a new assignment, with the positions in hand, once what is in flight commits.
                    await self.transactions.settle()
                    await self._discover()
                    looking = asyncio.create_task(self._look_for_inputs())
                try:
                    fetched = await consumer.getmany(timeout_ms=100, max_records=self.s.max_records)
                except Inflated as exc:
                    await self._past_inflated(exc)
                    continue
                self._sight_held()
                await liveness.check(fetched)
                self.progress.tick(consumer, self.processed)
                if any(fetched.values()) or self.waiting:
                    await self._process(fetched)
                if self.held.newest() >= self.held_kept + KEEP_HELD_EVERY_MS:
                    await self._keep_held()         # nothing committed them lately (only events came, say)
            await self.transactions.settle()
        finally:
            looking.cancel()

    async def _past_inflated(self, exc: Inflated) -> None:
        """A sender's batch that would inflate past the bound (certx.kafka.inflate): what the failed read drained
        of every partition is read again, the records of that partition before the batch in reads that stop short
        of it (the batch is reached only when they are all read), then the batch is skipped whole: a dead letter
        naming its offsets, and the position past it, in one transaction. It never reaches the door: nothing in it
        can be read to answer."""
        found = where(exc)
        if found is None or found[0] not in self.positions:
            raise exc
        tp, base, end = found
        consumer = self.consumer
        for t, position in self.positions.items():
            consumer.seek(t, position)
        others = [t for t in self.positions if t != tp]
        consumer.pause(*others)
        # Every other sender waits meanwhile, so the records before the batch are read in batches, not one by one
        # (a megabyte of them before a bomb of a few kilobytes held everyone for thousands of transactions). At
        # most `base - position` of them lie before it, fewer where transaction markers take offsets: a read that
        # reaches the batch drains nothing (it raises), and is tried again for half as many.
        most = self.s.max_records
        try:
            while (position := await consumer.position(tp)) <= base:
                try:
                    fetched = await consumer.getmany(tp, timeout_ms=1000,
                                                     max_records=max(1, min(most, base - position)))
                except Inflated as again:
                    if where(again) != found:
                        raise
                    if position == base or most == 1:
                        break
                    most = max(1, min(most, base - position) // 2)
                    consumer.seek(tp, position)       # what that read drained is read again
                    continue
                if any(fetched.values()):
                    await self._process(fetched, pace=False)     # (the others stay paused)
            else:
                return          # the batch was passed by (an aborted transaction's): nothing to skip
        finally:
            consumer.resume(*others)
        log.warning("gateway.inflated", topic=tp.topic, partition=tp.partition, first=base, next=end,
                    error=str(exc))
        letter = encode(dead_letter(None, DeadLetterReason.malformed, f"{exc}: offsets {base} to {end - 1} not read",
                                    tp.topic, tp.partition, base, None, "gateway"))

        first = self.waiting.first(tp)      # past the batch, but never past a record read and still waiting
        self.held.passed(tp, end if first is None else first)
        positions = await self._to_commit({tp: end if first is None else first})

        async def fill(producer) -> list[asyncio.Future]:
            return await send_batched(producer, self.s.topics.dlq, 0, None, [letter])

        await self.transactions.submit(fill, positions)
        await self.transactions.settle()
        consumer.seek(tp, end)
        self.positions[tp] = end
        metrics.DEAD_LETTERS.labels("gateway").inc()

    def _sight_held(self) -> None:
        """Note which inbound records an open transaction holds back, as the latest fetches report it."""
        c, held = self.consumer, self.held
        for tp in self.inbound:
            held.observe(tp, c.last_stable_offset(tp), c.highwater(tp), c.last_poll_timestamp(tp))

    async def _look_for_inputs(self) -> None:
        """Returns when a new input partition exists. Beside the loop, so that looking never holds a batch up."""
        while not await self._inputs():
            await asyncio.sleep(self.s.discover_every_s)

    async def _process(self, fetched: dict, pace: bool = True) -> None:
        commands: dict[int, list[bytes]] = defaultdict(list)
        stamps: dict[int, list[int]] = defaultdict(list)
        dead: list[bytes] = []
        offsets: dict[TopicPartition, int] = {}
        count = 0
        oldest: int | None = None         # the earliest append time among the inbound records
        replayed: list[list[Arrival]] = []    # the replay topic's records, with their recorded times
        senders = self.senders
        waiting = self.waiting
        for tp, records in fetched.items():
            if tp.topic == self.s.topics.events:
                for r in records:
                    if r.value and may_call_for_commands(r.value):
                        calls = called_for(r.value, tp.partition)
                        if isinstance(calls, str):
                            dead.append(encode(dead_letter(r.value, DeadLetterReason.malformed, calls, tp.topic,
                                                           tp.partition, r.offset, r.timestamp, "gateway")))
                            continue
                        for market, command in calls:
                            commands[PARTITION[market]].append(encode(command))
                            stamps[PARTITION[market]].append(r.timestamp)
                self.positions[tp] = await self.consumer.position(tp)
                continue
            if records:
                oldest = min(records[0].timestamp, oldest or records[0].timestamp)
                now = int(time.time() * 1000)
                times = [r.timestamp if r.timestamp_type == LOG_APPEND_TIME else now for r in records]
                if tp.topic in senders:
                    waiting.add(tp, arrivals(tp.topic, tp.partition, records, times, self.held.sighted(tp),
                                             waiting.last(tp)))
                else:       # the operator's replay: recorded times, which no live sender's are compared with
                    replayed.append(arrivals(tp.topic, tp.partition, records, times, None))
            self.positions[tp] = await self.consumer.position(tp)
            offsets[tp] = self.positions[tp]
        had = waiting.sources()
        released = waiting.release(await self._behind())
        if released:
            offsets.update(dict.fromkeys(had, 0))
        for tp in offsets:
            first = waiting.first(tp)       # read, but waiting: the position before it, so read again after a restart
            offsets[tp] = self.positions[tp] if first is None else first
            self.held.passed(tp, offsets[tp])      # sightings of what a restart reads again stay
        if pace:
            self._pace()
        for a in in_arrival_order(replayed + [released]) if replayed else released:
            r = a.record
            count += 1
            admitted = self.door.admit(r.value or b"", senders.get(a.topic), a.at)    # None: the replay
            if isinstance(admitted, NotAnObject):
                dead.append(encode(dead_letter(r.value, DeadLetterReason.malformed, admitted.detail, a.topic,
                                               a.partition, r.offset, r.timestamp, "gateway")))
                continue
            record = encode(admitted.command)
            for market in admitted.markets:
                commands[PARTITION[market]].append(record)
                stamps[PARTITION[market]].append(admitted.at)
        if not commands and not dead and not offsets:
            # Only events that call for nothing (nearly all of them): no transaction. Their position is committed
            # with the next one; read again after a crash, they call for nothing again.
            return
        t = self.s.topics
        for market in RELAYED:
            tp = TopicPartition(t.events, PARTITION[market])
            offsets[tp] = self.positions[tp]

        positions = await self._to_commit(offsets)

        async def fill(producer) -> list[asyncio.Future]:
            sent = []
            for p, values in commands.items():
                sent += await send_batched(producer, t.commands, p, MARKET_OF[p].encode(), values, stamps[p])
            if dead:
                sent += await send_batched(producer, t.dlq, 0, None, dead)
            return sent

        def committed() -> None:
            self.processed += count
            metrics.BATCH.labels("gateway").observe(count)
            for p, values in commands.items():
                metrics.COMMANDS.labels("gateway", MARKET_OF[p]).inc(len(values))
            if oldest is not None:
                metrics.observe_end_to_end("gateway", time.time() - oldest / 1000)
            if dead:
                metrics.DEAD_LETTERS.labels("gateway").inc(len(dead))
                log.warning("gateway.dead_letters", count=len(dead))

        await self.transactions.submit(fill, positions, committed, count)

    async def _behind(self) -> list[TopicPartition]:
        """The senders' partitions with committed records not read yet (as the latest fetches report their last
        stable offset): what waits is sequenced once these are read past its time. A partition whose records an
        open transaction holds is not behind: they will be dated no earlier than they are read."""
        c, behind = self.consumer, []
        for tp in self.inbound:
            stable = c.last_stable_offset(tp)
            if stable is not None and await c.position(tp) < stable:
                behind.append(tp)
        return behind

    def _pace(self) -> None:
        """A partition read ahead of the others, with a batch's worth of records waiting, is not fetched until they
        are sequenced: what waits is bounded, however far ahead of a backlog a sender's records are."""
        c, waiting, limit = self.consumer, self.waiting, self.s.max_records
        paused = c.paused()
        for tp in self.inbound:
            full = waiting.waiting(tp) >= limit and waiting.ahead(tp)
            if full and tp not in paused:
                c.pause(tp)
            elif not full and tp in paused:
                c.resume(tp)

    async def stop(self) -> None:
        self._stopping.set()
        if self.consumer is not None:
            await self.consumer.stop()
        if self.transactions is not None:
            await self.transactions.stop()
        log.info("gateway.stopped", processed=self.processed)
