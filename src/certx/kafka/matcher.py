"""The matcher on Kafka: `certx.commands` in, `certx.events` out, exactly once (DESIGN 2–4, 7).

Each input partition is one market with its own engine and its own transactional producers (transactional
ids `<prefix>-<partition>-a` and `-b`: aiokafka does not fence zombies across rebalances, so per-partition
ids are what fence the previous owner of a partition). For every batch fetched from a partition, one
transaction holds the batch's events, its dead letters, now and then a snapshot of the engine, and the
consumed offsets. A crash anywhere leaves either all of that or none of it.

The two producers take turns, and a transaction begins only after the one before it has committed, so the
order of the batches is kept. Why two: after a commit, the broker writes its markers in the background, and
the next transaction of the same id is refused (CONCURRENT_TRANSACTIONS) until they are written; with one id
that wait was most of each transaction's time.

On assignment the matcher fences the partition's previous producers, reads the committed offset, loads the
latest snapshot (itself written inside a transaction, so it never runs ahead of the committed offset) and
replays the commands between the two with output suppressed. An engine kept from before a rebalance is
reused when nobody else has committed since.

Applying a batch overlaps the previous batch's transaction (one transaction at a time per partition, in
order). Errors in a transaction end the process: the engine has already applied the batch, and the simple,
safe way back is a restart from the log (crash-only).
"""
from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from certx.engine import Engine
from certx.engine import snapshot
from certx.kafka import batch
from certx.kafka.topics import SNAPSHOT_MAX_BYTES, Topics, send_batched
from certx.rules import DEFAULT, Rules
from certx.wire.routing import MARKET_OF

log = structlog.get_logger("certx.matcher")


@dataclass
class Settings:
    bootstrap: str
    topics: Topics = field(default_factory=Topics)
    group: str = "certx-matcher"
    transactional_prefix: str = "certx-matcher"
    rules: Rules = DEFAULT
    max_records: int = 10_000          # per fetch
    fetch_wait_ms: int = 5             # how long a fetch waits for data: latency vs batch size
    snapshot_every: int = 200_000      # commands between snapshots of a partition's engine
    session_timeout_ms: int = 10_000   # how soon a dead matcher's partitions go to another instance


class Partition:
    """What the matcher holds for one assigned partition."""

    def __init__(self, tp: TopicPartition, engine: Engine, producers: list[AIOKafkaProducer]) -> None:
        self.tp = tp
        self.engine = engine
        self.producers = producers
        self.turn = 0
        self.market_key = MARKET_OF[tp.partition].encode()
        self.since_snapshot = 0
        self.rewinds = 0                       # rewinds in a row (logged: each one is worth knowing)
        self.committing: asyncio.Task | None = None   # the latest transaction, chained to the one before
        self.older: asyncio.Task | None = None        # the one before it


class Matcher(ConsumerRebalanceListener):
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.consumer: AIOKafkaConsumer | None = None
        self.owned: dict[int, Partition] = {}
        self.kept: dict[int, Engine] = {}     # engines of revoked partitions, reused if still current
        self.processed = 0
        self.failure: BaseException | None = None
        self._stopping = asyncio.Event()

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.s.bootstrap, group_id=self.s.group, enable_auto_commit=False,
            isolation_level="read_committed", auto_offset_reset="earliest",
            client_id=f"certx-matcher-{socket.gethostname()}-{os.getpid()}",
            max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_wait_ms=self.s.fetch_wait_ms,
            session_timeout_ms=self.s.session_timeout_ms, heartbeat_interval_ms=max(self.s.session_timeout_ms // 4, 100),
        )
        await self.consumer.start()
        self.consumer.subscribe([self.s.topics.commands], listener=self)
        log.info("matcher.started", group=self.s.group, topic=self.s.topics.commands)

    async def run(self) -> None:
        consumer = self.consumer
        while not self._stopping.is_set():
            if self.failure is not None:
                raise self.failure   # a commit failed: crash-only, a restart recovers from the log
            fetched = await consumer.getmany(timeout_ms=100, max_records=self.s.max_records)
            for tp, records in fetched.items():
                if not records:
                    continue
                part = self.owned.get(tp.partition)
                if part is None:
                    # Fetched while the partition was being restored or revoked: never drop records on the
                    # floor, put the position back so they come again once the engine is ready.
                    if tp in consumer.assignment():
                        consumer.seek(tp, records[0].offset)
                    continue
                records = await self._contiguous(part, records)
                if records:
                    await self._process(part, records)
        await self._settle_all()

    async def stop(self) -> None:
        self._stopping.set()
        if self.consumer is not None:
            await self.consumer.stop()
        for part in self.owned.values():
            if part.committing is not None and not part.committing.done():
                await asyncio.wait([part.committing], timeout=10)
            for producer in part.producers:
                await producer.stop()
        self.owned.clear()
        log.info("matcher.stopped", processed=self.processed)

    # --- one batch, one transaction ----------------------------------------------------------------

    async def _contiguous(self, part: Partition, records: list) -> list:
        """Exactly once needs the batch to start where the engine stands: drop what it has applied, and
        rewind if records were skipped. Never apply across a gap: a market that stalls can be mended, one
        whose state skipped commands cannot. (So `certx.commands` producers must not be transactional:
        their commit markers would be such gaps.)"""
        expected = part.engine.offset
        if records[0].offset < expected:
            return [r for r in records if r.offset >= expected]
        if records[0].offset > expected:
            part.rewinds += 1
            log.warning("matcher.rewind", partition=part.tp.partition, at=records[0].offset, to=expected,
                        position=await self.consumer.position(part.tp), rewinds=part.rewinds)
            self.consumer.seek(part.tp, expected)
            await asyncio.sleep(min(0.01 * part.rewinds, 1.0))
            return []
        part.rewinds = 0
        return records

    async def _process(self, part: Partition, records: list) -> None:
        """Apply a batch now, and commit it once the partition's previous transaction has committed. The
        engine works on batch N+1 while transaction N is with the broker: fetch, apply and commit overlap.
        The snapshot is taken here, before the next batch moves the engine, so it matches its offsets."""
        if part.older is not None:
            await part.older    # backpressure: at most one transaction waits behind the one in flight
        out = batch.run(part.engine, records, self.s.topics.commands)
        part.since_snapshot += len(records)
        blob = None
        if part.since_snapshot >= self.s.snapshot_every:
            blob = snapshot.dump(part.engine)
            part.since_snapshot = 0
        previous = part.committing
        producer = part.producers[part.turn]
        part.turn ^= 1
        part.committing = asyncio.create_task(self._commit(part, producer, records, out, blob, previous))
        part.committing.add_done_callback(self._note_failure)
        part.older = previous

    def _note_failure(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None and self.failure is None:
            self.failure = task.exception()

    async def _commit(self, part: Partition, producer: AIOKafkaProducer, records: list, out: batch.Output,
                      blob: bytes | None, previous: asyncio.Task | None) -> None:
        if previous is not None:
            await previous          # one transaction at a time per partition, in batch order
        p = part.tp.partition
        async with producer.transaction():
            await send_batched(producer, self.s.topics.events, p, part.market_key, out.events, out.stamps)
            if out.dead:
                await send_batched(producer, self.s.topics.dlq, 0, None, out.dead)
            if blob is not None:
                await producer.send(self.s.topics.snapshots, blob, key=str(p).encode(), partition=p)
            await producer.send_offsets_to_transaction({part.tp: records[-1].offset + 1}, self.s.group)
        self.processed += len(records)
        if out.dead:
            log.warning("matcher.dead_letters", partition=p, count=len(out.dead))

    async def _settle(self, part: Partition) -> None:
        """Wait for the partition's commits in flight; re-raises a failed one."""
        if part.committing is not None:
            await part.committing

    async def _settle_all(self) -> None:
        for part in list(self.owned.values()):
            await self._settle(part)

    # --- partitions come and go --------------------------------------------------------------------

    async def on_partitions_revoked(self, revoked) -> None:
        for tp in revoked:
            part = self.owned.pop(tp.partition, None)
            if part is not None:
                try:
                    await self._settle(part)          # finish what was applied before letting go
                    self.kept[tp.partition] = part.engine
                finally:
                    for producer in part.producers:
                        await producer.stop()
        if revoked:
            log.info("matcher.revoked", partitions=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned) -> None:
        # No fetching for a partition until its engine is restored and its position set.
        self.consumer.pause(*assigned)
        for tp in sorted(assigned, key=lambda t: t.partition):
            await self._assign(tp)
            self.consumer.resume(tp)
        log.info("matcher.assigned", partitions=sorted(self.owned))

    async def _assign(self, tp: TopicPartition) -> None:
        p = tp.partition
        producers = [AIOKafkaProducer(
            bootstrap_servers=self.s.bootstrap, transactional_id=f"{self.s.transactional_prefix}-{p}-{turn}",
            enable_idempotence=True, acks="all", linger_ms=0, max_batch_size=1024 * 1024,
            max_request_size=SNAPSHOT_MAX_BYTES,
            # A transaction waits on every retry; aiokafka's 100 ms default made the p99 latency.
            retry_backoff_ms=10,
        ) for turn in "ab"]
        for producer in producers:
            await producer.start()      # fences the partition's previous producers, ends their transactions
        committed = await self.consumer.committed(tp) or 0
        engine = self.kept.pop(p, None)
        if engine is None or engine.offset != committed:
            engine = await restore(self.s, p, committed)
        self.consumer.seek(tp, committed)
        self.owned[p] = Partition(tp, engine, producers)


async def restore(s: Settings, partition: int, committed: int) -> Engine:
    """The engine of one partition as of `committed`: the latest snapshot, then the tail of the command log
    replayed with output suppressed (its events and dead letters were published when first processed)."""
    engine = Engine(MARKET_OF[partition], s.rules)
    blob = await latest_snapshot(s, partition)
    if blob is not None:
        candidate = snapshot.load(blob)
        if candidate.offset <= committed:
            engine = candidate
    start = engine.offset
    if start < committed:
        await catch_up(s, engine, partition, committed)
    log.info("matcher.restored", partition=partition, snapshot_offset=start, committed=committed)
    return engine


async def latest_snapshot(s: Settings, partition: int) -> bytes | None:
    tp = TopicPartition(s.topics.snapshots, partition)
    reader = AIOKafkaConsumer(bootstrap_servers=s.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                              isolation_level="read_committed", max_partition_fetch_bytes=SNAPSHOT_MAX_BYTES)
    await reader.start()
    try:
        reader.assign([tp])
        end = (await reader.end_offsets([tp]))[tp]
        # Each snapshot transaction is one record and one commit marker, so the latest snapshot is near the
        # end; look further back only if a window holds none (compaction, aborted transactions).
        for back in (4, 64, end):
            reader.seek(tp, max(end - back, 0))
            latest = None
            while await reader.position(tp) < end:
                for records in (await reader.getmany(tp, timeout_ms=1000)).values():
                    if records:
                        latest = records[-1].value
            if latest is not None or back >= end:
                return latest
        return None
    finally:
        await reader.stop()


async def catch_up(s: Settings, engine: Engine, partition: int, committed: int) -> None:
    tp = TopicPartition(s.topics.commands, partition)
    reader = AIOKafkaConsumer(bootstrap_servers=s.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                              isolation_level="read_committed", max_partition_fetch_bytes=8 * 1024 * 1024)
    await reader.start()
    try:
        reader.assign([tp])
        reader.seek(tp, engine.offset)
        log.info("matcher.catch_up", partition=partition, start=engine.offset, committed=committed,
                 position=await reader.position(tp))
        while engine.offset < committed and await reader.position(tp) < committed:
            for records in (await reader.getmany(tp, timeout_ms=1000, max_records=10_000)).values():
                if records and records[0].offset > engine.offset:
                    raise RuntimeError(f"catch-up of partition {partition} skipped from {engine.offset} "
                                       f"to {records[0].offset}")
                batch.run(engine, [r for r in records if r.offset < committed], s.topics.commands, publish=False)
    finally:
        await reader.stop()
    if engine.offset < committed:
        # Never hand back an engine that is behind the committed offsets: crash, and let a restart retry.
        raise RuntimeError(f"catch-up of partition {partition} stopped at {engine.offset}, committed {committed}")


async def serve(settings: Settings) -> None:
    """Run a matcher until cancelled."""
    matcher = Matcher(settings)
    await matcher.start()
    try:
        await matcher.run()
    finally:
        await matcher.stop()
