"""The matcher on Kafka: `certx.commands` in, `certx.events` out, exactly once (DESIGN 2–4, 7).

Each input partition is one market with its own engine and its own ordered transactions
(certx.kafka.transactions; transactional ids `<group>-<partition>-a`, `-b` and `-c`: aiokafka does not fence
zombies across rebalances, so per-partition ids are what fence the previous owner of a partition). Every batch
fetched from a partition commits in one transaction (with the batches fetched while the one before it commits)
with the batch's events, its quotes on `certx.marketdata` (one for each product the batch changed:
certx.marketdata.quote), its dead letters, now and then a snapshot of the engine, and the consumed position.
The quotes are exactly as current as the events: they commit, or not, with them.

The position is Kafka's, not a count of records: the gateway writes `certx.commands` in transactions, so commit
markers (and aborted records, which read_committed skips) take offsets between commands. The consumer's
position after a batch covers them; the engine numbers its commands itself. A real gap — the log no longer
holds the position the matcher stands at — is an error (`auto_offset_reset="none"`): the market stops rather
than skip commands.

On assignment the matcher fences the partition's previous producers, reads the committed position, and rebuilds the
engine from the latest snapshot and the commands after it (certx.kafka.restore), which must give again, byte for
byte, the events the market published since: else that market halts (`Diverged`): its partition stays paused,
nothing is published for it, and the matcher serves its other markets. Its commands wait in the log, answered once a
release and rules that follow its events take it (a restart or a rebalance tries again). An engine kept from before a
rebalance is reused when nobody else has committed since.
Errors in a transaction end the process: the engine has already applied the batch, and the simple, safe way
back is a restart from the log (crash-only).
"""
from __future__ import annotations

import asyncio
import gc
import os
import socket
import time
from dataclasses import dataclass, field

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import NoOffsetForPartitionError

from certx import metrics
from certx.engine import Engine
from certx.engine import snapshot
from certx.kafka import batch, snapshots
from certx.kafka.connection import IDLE_FETCH_WAIT_MS, Connection
from certx.kafka.liveness import Liveness
from certx.kafka.progress import Progress
from certx.kafka.reach import require_topics
from certx.kafka.restore import Diverged, restore
from certx.kafka.topics import SNAPSHOT_MAX_BYTES, Topics, send_batched
from certx.kafka.transactions import TURNS, Transactions, transactional_producers
from certx.marketdata import Changes, quotes
from certx.rules import DEFAULT, Rules
from certx.wire.codec import encode
from certx.wire.routing import MARKET_OF

_MATCH = b'"gec.match"'      # the type of a 24/7 match, as the gateway writes it (a name holding it is harmless)
log = structlog.get_logger("certx.matcher")


@dataclass
class Settings:
    kafka: Connection
    topics: Topics = field(default_factory=Topics)
    rules: Rules = DEFAULT
    max_records: int = 10_000          # per fetch
    fetch_wait_ms: int = IDLE_FETCH_WAIT_MS
    snapshot_every: int = 200_000      # commands between snapshots of a partition's engine
    session_timeout_ms: int = 10_000   # how soon a dead matcher's partitions go to another instance
    marketdata: bool = True            # publish quotes on certx.marketdata (off: to measure what the feed costs)

    @property
    def group(self) -> str:
        return self.topics.group("matcher")


class Partition:
    """What the matcher holds for one assigned partition."""

    def __init__(self, tp: TopicPartition, engine: Engine, position: int, transactions: Transactions) -> None:
        self.tp = tp
        self.engine = engine
        self.position = position           # the next offset of certx.commands the engine has not seen
        self.transactions = transactions
        self.market_key = MARKET_OF[tp.partition].encode()
        self.since_snapshot = 0


class Matcher(ConsumerRebalanceListener):
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.consumer: AIOKafkaConsumer | None = None
        self.owned: dict[int, Partition] = {}
        self.kept: dict[int, tuple[Engine, int]] = {}   # engines of revoked partitions, reused if still current
        self.processed = 0
        self._stopping = asyncio.Event()
        self.progress = Progress(log, "matcher")
        self.assigned_once = False
        self.restoring = False
        self.failure: BaseException | None = None
        self.halted: set[int] = set()                   # partitions held, not served (Diverged: the log says why)
        # Held while a fetch's batches are applied and their transactions queued. A batch with a 24/7 match is
        # applied in a thread, so the group may rebalance meanwhile: a revoke must wait for the batch and keep the
        # engine with that batch's position, never the engine half-way (or done) with the position before it, which
        # an assignment back reused and applied the batch to twice.
        self.applying = asyncio.Lock()

    def ready(self) -> bool:
        """Restored (every partition it was given, none halted) and caught up with the command log."""
        return self.assigned_once and not self.restoring and not self.halted and self.progress.is_caught_up()

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        t = self.s.topics
        await require_topics(self.s.kafka, [t.commands, t.events, t.snapshots, t.dlq]
                             + ([t.marketdata] if self.s.marketdata else []))
        self.consumer = AIOKafkaConsumer(
            group_id=self.s.group, enable_auto_commit=False, isolation_level="read_committed",
            auto_offset_reset="none", client_id=f"certx-matcher-{socket.gethostname()}-{os.getpid()}",
            max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_wait_ms=self.s.fetch_wait_ms,
            session_timeout_ms=self.s.session_timeout_ms, heartbeat_interval_ms=max(self.s.session_timeout_ms // 4, 100),
            **self.s.kafka.aiokafka(),
        )
        await self.consumer.start()
        self.consumer.subscribe([self.s.topics.commands], listener=self)
        log.info("matcher.started", group=self.s.group, topic=self.s.topics.commands)

    async def run(self) -> None:
        consumer = self.consumer
        liveness = Liveness(consumer)
        while not self._stopping.is_set():
            if self.failure is not None:
                raise self.failure                      # a restore that failed (on_partitions_assigned)
            for part in self.owned.values():
                if part.transactions.failure is not None:
                    raise part.transactions.failure    # crash-only: a restart recovers from the log
            try:
                fetched = await consumer.getmany(timeout_ms=100, max_records=self.s.max_records)
            except NoOffsetForPartitionError as exc:
                # A partition just assigned, whose engine is being restored: its position is set then. (An
                # owned partition always has one; a position the log no longer holds raises
                # OffsetOutOfRangeError, which ends the service: a real gap.)
                if any(tp.partition in self.owned for tp in exc.args[0:1] if isinstance(tp, TopicPartition)):
                    raise
                await asyncio.sleep(0.01)
                continue
            await liveness.check(fetched)
            self.progress.tick(consumer, self.processed)
            async with self.applying:
                await self._apply(fetched)
        for part in list(self.owned.values()):
            await part.transactions.settle()

    async def _apply(self, fetched: dict) -> None:
        """Each partition's fetched batch applied to its engine, and its transaction queued."""
        consumer = self.consumer
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
            if records[0].offset < part.position:       # already applied (fetched again after a seek)
                records = [r for r in records if r.offset >= part.position]
                if not records:
                    continue
            # Past the batch and any transaction markers after it: what the transaction commits.
            await self._process(part, records, await consumer.position(tp))

    async def stop(self) -> None:
        self._stopping.set()
        if self.consumer is not None:
            await self.consumer.stop()
        for part in self.owned.values():
            await part.transactions.stop()
        self.owned.clear()
        log.info("matcher.stopped", processed=self.processed)

    # --- one batch, one transaction ----------------------------------------------------------------

    async def _process(self, part: Partition, records: list, position: int) -> None:
        """Apply a batch now, and commit it once the partition's previous transaction has committed. The
        snapshot is taken here, before the next batch moves the engine, so it matches its position."""
        changes = Changes() if self.s.marketdata else None
        # A batch with a 24/7 match, which the solver may take seconds over (certx.hours), runs off the event loop:
        # the loop must keep the consumer's heartbeats going meanwhile, or the group evicts the matcher and its
        # partitions move. Only such a batch: a thread beside the loop costs every other batch its share of the GIL
        # (the matcher's throughput fell by a quarter). One batch at a time, so nothing else touches the engine.
        if any(_MATCH in r.value for r in records if r.value):
            out = await asyncio.to_thread(batch.run, part.engine, records, self.s.topics.commands, changes=changes)
        else:
            out = batch.run(part.engine, records, self.s.topics.commands, changes=changes)
        # the quotes once per batch, conflated: one per product the batch changed, as the engine now stands
        quoted = list(map(encode, quotes(part.engine, changes))) if changes is not None else []
        metrics.BATCH.labels("matcher").observe(len(records))
        part.position = position
        part.since_snapshot += len(records)
        blob = None
        if part.since_snapshot >= self.s.snapshot_every:
            blob = snapshot.dump(part.engine, position)
            part.since_snapshot = 0
        p, topics = part.tp.partition, self.s.topics
        market, oldest = MARKET_OF[p], records[0].timestamp
        newest = batch.as_of(records) if quoted else 0

        async def fill(producer) -> list[asyncio.Future]:
            sent = await send_batched(producer, topics.events, p, part.market_key, out.events, out.stamps)
            if quoted:
                # stamped with the batch's latest command time: the exchange's time the quotes are as of
                sent += await send_batched(producer, topics.marketdata, p, part.market_key, quoted,
                                           [newest] * len(quoted))
            if out.dead:
                sent += await send_batched(producer, topics.dlq, 0, None, out.dead)
            if blob is not None:
                for key, value in snapshots.chunks(blob, p, position):
                    sent.append(await producer.send(topics.snapshots, value, key=key, partition=p))
            return sent

        def committed() -> None:
            self.processed += len(records)
            metrics.COMMANDS.labels("matcher", market).inc(out.commands)
            metrics.EVENTS.labels(market).inc(len(out.events))
            for reason, n in out.rejected.items():
                metrics.REJECTIONS.labels(market, reason).inc(n)
            metrics.observe_end_to_end("matcher", time.time() - oldest / 1000)
            if blob is not None:
                metrics.snapshot_taken(market, len(blob), time.time())
            if out.dead:
                metrics.DEAD_LETTERS.labels("matcher").inc(len(out.dead))
                log.warning("matcher.dead_letters", partition=p, count=len(out.dead))

        await part.transactions.submit(fill, {part.tp: position}, committed, len(records))

    # --- partitions come and go --------------------------------------------------------------------

    async def on_partitions_revoked(self, revoked) -> None:
        async with self.applying:       # the batch being applied first, its transaction queued (see `applying`)
            await self._revoke(revoked)

    async def _revoke(self, revoked) -> None:
        for tp in revoked:
            if tp.partition in self.halted:
                self.halted.discard(tp.partition)
                metrics.HALTED.labels(MARKET_OF[tp.partition]).set(0)
            part = self.owned.pop(tp.partition, None)
            if part is not None:
                try:
                    await part.transactions.settle()      # finish what was applied before letting go
                    self.kept[tp.partition] = (part.engine, part.position)
                finally:
                    await part.transactions.stop()
        if revoked:
            log.info("matcher.revoked", partitions=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned) -> None:
        # No fetching for a partition until its engine is restored and its position set.
        self.consumer.pause(*assigned)
        gc.unfreeze()
        self.restoring = True
        try:
            with self.progress.busy():
                for tp in sorted(assigned, key=lambda t: t.partition):
                    await self._assign(tp)
                    if tp.partition in self.owned:
                        self.consumer.resume(tp)
        except Exception as exc:
            # aiokafka logs what a listener raises and goes on, which would leave the partition paused and the
            # process alive without serving it: the loop raises it instead (crash-only).
            self.failure = exc
            return
        finally:
            self.restoring = False
        self.assigned_once = True
        # What lives until the next rebalance (the engines just restored, the clients) is kept out of the cyclic
        # collector's full passes, which traverse every tracked object: about 50 ms a pass in the latency
        # benchmark's matcher before. An engine holds cycles (its handlers), so one dropped here (a kept engine
        # restored again) is collected first, and the next assignment puts what was frozen back in reach.
        gc.collect()
        gc.freeze()
        log.info("matcher.assigned", partitions=sorted(self.owned), halted=sorted(self.halted))

    async def _assign(self, tp: TopicPartition) -> None:
        p = tp.partition
        ids = tuple(self.s.topics.transactional_id("matcher", f"{p}-{turn}") for turn in TURNS)
        transactions = Transactions(transactional_producers(self.s.kafka, ids, SNAPSHOT_MAX_BYTES), "matcher",
                                    self.s.group)
        await transactions.start()      # fences the partition's previous producers, ends their transactions
        # Nothing committed yet: the engine is built from the log's very first command, never from wherever the
        # log happens to begin now (a log that lost its head is a gap: reading offset 0 then fails).
        committed = await self.consumer.committed(tp) or 0
        engine, position = self.kept.pop(p, (None, -1))
        if engine is None or position != committed:
            try:
                engine = await restore(self.s, p, committed)
            except Diverged:
                # Not a failure a restart mends, and no reason to stop the other markets: this one is held, paused
                # and unserved, until a release that follows its events takes it (README "Upgrading").
                await transactions.stop()
                # A position, though it is never fetched: an assigned partition with none (a group whose offsets
                # were removed) makes every fetch raise NoOffsetForPartitionError, which starved the other markets.
                self.consumer.seek(tp, committed)
                self.halted.add(p)
                metrics.HALTED.labels(MARKET_OF[p]).set(1)
                log.error("matcher.market_halted", market=MARKET_OF[p], partition=p)
                return
        self.consumer.seek(tp, committed)
        self.owned[p] = Partition(tp, engine, committed, transactions)
