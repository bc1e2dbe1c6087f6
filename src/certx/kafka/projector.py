"""The settlement projector on Kafka: `certx.events` (read_committed) in, the read model and
`certx.settlements` out.

Exactly once into the database: each batch's state changes and the `certx.events` offsets they came from are
written in one database transaction, and a restart seeks to the offsets the database holds. The ledger itself
is idempotent by event origin, so a duplicated event changes nothing either way. If the log no longer holds
those offsets, the consumer stops with an error (`auto_offset_reset="none"`) rather than skip what it lost.

`certx.settlements` is fed from an outbox table written in that same transaction and published after it
commits, so a settlement event is never lost; a crash between publishing and clearing the outbox publishes it
again, with the same `origin`, by which readers drop the duplicate (at least once, deduplicable). Each record's
timestamp is the command time of the event it settles, as that event's record has it (U3), so a republished
duplicate carries the same time, and a bank has its trade's time without reading `certx.events`.

One projector settles a read model at a time: a second instance on the same database (started by mistake, or
as a hot standby) stands by until the first is gone (`Store.lead`; its log says `projector.standby`, then
`projector.started` once it leads), and should two ever write, the writers' check refuses the one behind.

Nothing stops it for good. A database that goes away (a restart) is waited for, and the projector resumes from
what it committed, as a restarted process would. A batch whose rows the database refuses is settled again one
event at a time, and the events refused are answered `settlement.rejected` instead of stopping settlement.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import msgspec
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from certx import metrics
from certx.ledger.journal import Batch, Journal
from certx.ledger.ledger import Refused
from certx.kafka.connection import Connection
from certx.kafka.liveness import Liveness
from certx.kafka.progress import Progress
from certx.kafka.reach import require_topics
from certx.kafka.topics import Topics, send_batched
from certx.store import open_store
from certx.store.sql import RowsRefused, Superseded, unavailable
from certx.store.target import shown
from certx.wire import events as e
from certx.wire.codec import decode_event, encode
from certx.wire.dead_letter import DeadLetter, dead_letter
from certx.wire.reasons import DeadLetterReason, SettlementReason
from certx.wire.routing import MARKET_OF, misplaced

log = structlog.get_logger("certx.projector")

# One `certx.events` record: its partition and offset, the event (None for a record that is not one), and its
# timestamp (its command's time).
Consumed = tuple[int, int, e.Event | None, int]

# Waiting for the database: the first retry soon (a restart takes about a second), then doubling up to this.
FIRST_RETRY, LAST_RETRY = 0.1, 5.0
# How often the offsets the database holds are also committed to the consumer group, for Kafka's tools.
GROUP_COMMIT_EVERY_S = 1.0


@dataclass
class ProjectorSettings:
    kafka: Connection
    db: str
    topics: Topics = field(default_factory=Topics)
    max_records: int = 20_000
    standby_poll_s: float = 1.0      # how often a projector standing by asks for the lead

    @property
    def group(self) -> str:
        return self.topics.group("projector")


class Projector:
    def __init__(self, settings: ProjectorSettings) -> None:
        self.s = settings
        self.settled = 0
        self._stopping = asyncio.Event()
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.store = None
        self.progress = Progress(log, "projector")
        self.started = False
        self.connected = False        # False while the database is away
        self.settled_events = 0
        self._written: dict[int, int] = {}      # events partition -> next offset, as the database holds it
        self._outbox_end: int | None = None     # the outbox's last id at this projector's last commit
        self._group_committed_at = 0.0

    def ready(self) -> bool:
        """Started, its database there, and caught up with certx.events."""
        return self.started and self.connected and self.progress.is_caught_up()

    async def start(self) -> None:
        t = self.s.topics
        await require_topics(self.s.kafka, [t.events, t.settlements, t.dlq])
        offsets = await self._connect()
        # Assigned, not subscribed: the offsets the database holds are the truth. The group is only where they
        # are also committed, so that `kafka-consumer-groups --describe` shows the projector's lag.
        self.consumer = AIOKafkaConsumer(group_id=self.s.group, isolation_level="read_committed",
                                         enable_auto_commit=False, auto_offset_reset="none",
                                         max_partition_fetch_bytes=8 * 1024 * 1024, **self.s.kafka.aiokafka())
        await self.consumer.start()
        self.consumer.assign([TopicPartition(self.s.topics.events, p) for p in sorted(MARKET_OF)])
        self._seek(offsets)
        self.producer = AIOKafkaProducer(enable_idempotence=True, acks="all", linger_ms=5,
                                         max_batch_size=1024 * 1024, **self.s.kafka.aiokafka())
        await self.producer.start()
        await self._publish()   # whatever a previous run committed but did not get to publish
        self.started = True
        log.info("projector.started", db=shown(self.s.db), offsets=offsets, group=self.s.group)

    def open(self) -> dict[int, int]:
        """Connect, and take the ledger as the database has it; returns the `certx.events` offsets it holds."""
        self.store = open_store(self.s.db)
        return self._load()

    async def _connect(self) -> dict[int, int]:
        """Connect, lead the read model's writers (standing by until then), and take the ledger as the database
        has it; returns the `certx.events` offsets it holds."""
        self.store = open_store(self.s.db)
        await self._lead()
        return self._load()

    async def _lead(self) -> None:
        """Return once this projector leads the read model's writers; until then, stand by (another settles)."""
        if self.store.lead():
            return
        log.warning("projector.standby", db=shown(self.s.db), action="settles once the projector leading is gone")
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.s.standby_poll_s)
            try:
                if self.store.lead():
                    log.info("projector.leads", db=shown(self.s.db))
                    return
            except Exception as exc:
                if not unavailable(exc):
                    raise
                log.warning("projector.db_lost", error=repr(exc), retry_in=self.s.standby_poll_s)
                self.store.close()
                with contextlib.suppress(Exception):
                    self.store = open_store(self.s.db)
        raise asyncio.CancelledError("stopped while standing by")

    def _load(self) -> dict[int, int]:
        ledger, offsets = self.store.load()
        self.journal = Journal(ledger)
        self._written = dict(offsets)
        self.connected = True
        return offsets

    def _seek(self, offsets: dict[int, int]) -> None:
        for tp in self.consumer.assignment():
            self.consumer.seek(tp, offsets.get(tp.partition, 0))

    async def run(self) -> None:
        liveness = Liveness(self.consumer)
        while not self._stopping.is_set():
            fetched = await self.consumer.getmany(timeout_ms=100, max_records=self.s.max_records)
            await liveness.check(fetched)
            self.progress.tick(self.consumer, self.settled_events)
            if not any(fetched.values()):
                await self._commit_group()
                continue
            consumed, dead = self._decode(fetched)
            metrics.BATCH.labels("projector").observe(len(consumed))
            try:
                batches = self.settle(consumed)          # state + offsets, in database transactions
                for d in dead:
                    await self.producer.send_and_wait(self.s.topics.dlq, encode(d), partition=0)
                metrics.DEAD_LETTERS.labels("projector").inc(len(dead))
                # What was just committed is in memory: publish it from there, then clear the outbox.
                await self._send([row for b in batches for row in b.outbox])
                if self._outbox_end is not None:
                    self.store.published(self._outbox_end)  # not past it: another writer's rows are its own
            except Superseded as exc:
                # Another projector settled into the same database (a second instance): the batch was not
                # written. Take what the database holds, as after a restart, and carry on from there.
                log.warning("projector.superseded", error=str(exc), offsets=self._written)
                self.store.close()
                await self._resume()
                continue
            except Exception as exc:
                if not unavailable(exc):
                    raise
                await self._reconnect(exc)
                continue
            self.settled_events += len(consumed)
            metrics.PROJECTOR_EVENTS.inc(len(consumed))
            metrics.observe_end_to_end("projector", time.time() - min(at for *_, at in consumed) / 1000)
            await self._commit_group()

    async def _commit_group(self) -> None:
        """Now and then, the offsets the database holds to the consumer group too (never ahead of the database:
        they are read from what it committed). A failure here is not worth a restart: the database is the truth."""
        now = time.monotonic()
        if now - self._group_committed_at < GROUP_COMMIT_EVERY_S or not self.connected:
            return
        self._group_committed_at = now
        offsets = {TopicPartition(self.s.topics.events, p): o for p, o in self.journal_offsets().items()}
        if offsets:
            try:
                await self.consumer.commit(offsets)
            except Exception as exc:  # noqa: BLE001 - shown, and tried again in a second
                log.warning("projector.group_commit_failed", error=repr(exc))

    def journal_offsets(self) -> dict[int, int]:
        """The next certx.events offset of each partition, as last written to the database."""
        return dict(self._written)

    def _decode(self, fetched: dict) -> tuple[list[Consumed], list[DeadLetter]]:
        consumed: list[Consumed] = []
        dead = []
        for tp, records in fetched.items():
            for r in records:
                try:
                    event = decode_event(r.value or b"")
                    wrong = misplaced(event, tp.partition)
                except (msgspec.DecodeError, UnicodeDecodeError) as exc:
                    event, wrong = None, str(exc)[:300]
                if wrong is not None:
                    dead.append(dead_letter(r.value, DeadLetterReason.malformed, wrong, tp.topic, tp.partition,
                                            r.offset, r.timestamp, "projector"))
                    event = None
                consumed.append((tp.partition, r.offset, event, r.timestamp))
        return consumed, dead

    def settle(self, consumed: list[Consumed]) -> list[Batch]:
        """Settle records into the database, each transaction with the offsets it consumed; returns the batches
        committed (their settlement events are to be published). One transaction, unless the database refuses
        its rows."""
        self._journal(consumed)
        batch = self.journal.take()
        try:
            self._write(batch)
        except RowsRefused as exc:
            log.warning("projector.batch_refused", error=str(exc), records=len(consumed))
            return self._settle_one_by_one(consumed)
        self.settled += len(batch.trades)
        return [batch]

    def _settle_one_by_one(self, consumed: list[Consumed]) -> list[Batch]:
        """The database refused rows of a batch (a NUL byte in a name, a number out of range). Reading the batch
        again would fail again, on every restart: settlement would stop for good. So each event gets a
        transaction of its own; one whose rows are refused is answered `settlement.rejected` (malformed),
        moves nothing, and its offset is stored so that it is never tried again. Slow, and rare.

        The ledger in memory applied the refused batch, so it is loaded again from the database first, and
        after each refusal: it is never ahead of what the database holds."""
        self.journal = Journal(self.store.load_ledger())
        batches = []
        for record in consumed:
            self._journal([record])
            batch = self.journal.take()
            try:
                self._write(batch)
            except RowsRefused as exc:
                partition, offset, event, _ = record
                log.warning("projector.event_refused", partition=partition, offset=offset, error=str(exc))
                self.journal = Journal(self.store.load_ledger())
                self.journal.refuse(event, offset, Refused(SettlementReason.malformed, str(exc)[:200]), record[3])
                batch = self.journal.take()
                self._write(batch)
            self.settled += len(batch.trades)
            batches.append(batch)
        return batches

    def _write(self, batch: Batch) -> None:
        """One database transaction: the batch's rows and the offsets they came from."""
        began = time.perf_counter()
        self._outbox_end = self.store.write(batch, expected=self._written)
        metrics.DB_TRANSACTION.observe(time.perf_counter() - began)
        metrics.PROJECTOR_ROWS.inc(batch.rows())
        for partition, mark in batch.marks.items():
            self._written[partition] = mark[0]

    def _journal(self, consumed: list[Consumed]) -> None:
        journal = self.journal
        for partition, offset, event, at in consumed:
            if event is None:
                journal.skip(partition, offset, MARKET_OF[partition])   # a dead letter: consumed, nothing to settle
            else:
                journal.add(event, offset, at)

    async def _reconnect(self, lost: Exception) -> None:
        """The database went away (a restart, a cut connection). What it did not commit it rolled back, and what
        it committed (even if the answer to the COMMIT was lost) it holds with its offsets: so the truth is
        what it holds. Drop the batch in memory, take the ledger and the offsets from the database, read
        `certx.events` again from there and publish what its outbox holds: exactly once, as after a restart of
        the process, but the process, its consumer and its producer carry on."""
        delay = FIRST_RETRY
        self.connected = False
        while not self._stopping.is_set():
            log.warning("projector.db_lost", error=repr(lost), retry_in=delay)
            self.store.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)    # stop promptly when asked to
            if self._stopping.is_set():
                return
            try:
                offsets = await self._resume()
            except Exception as exc:
                if not unavailable(exc):
                    raise
                lost, delay = exc, min(delay * 2, LAST_RETRY)
                continue
            log.info("projector.db_back", offsets=offsets)
            return

    async def _resume(self) -> dict[int, int]:
        """Connect again, take the ledger and the offsets the database holds, read `certx.events` again from there
        and publish what its outbox holds."""
        offsets = await self._connect()
        self._seek(offsets)
        await self._publish()
        return offsets

    async def _publish(self) -> None:
        """Publish what the outbox holds (after a restart: committed, maybe not yet published)."""
        while True:
            rows = self.store.pending()
            if not rows:
                return
            await self._send([(p, body, at) for _, p, body, at in rows])
            self.store.published(rows[-1][0])

    async def _send(self, rows: list[tuple[int, bytes, int | None]]) -> None:
        """Settlement events to their market partitions, each dated by its event's command time; returns once the
        broker has them all."""
        by_partition: dict[int, tuple[list[bytes], list[int | None]]] = {}
        for p, body, at in rows:
            bodies, stamps = by_partition.setdefault(p, ([], []))
            bodies.append(body)
            stamps.append(at)
        sent = []
        for p, (bodies, stamps) in by_partition.items():
            sent += await send_batched(self.producer, self.s.topics.settlements, p, MARKET_OF[p].encode(), bodies,
                                       stamps)
        await asyncio.gather(*sent)

    async def stop(self) -> None:
        self._stopping.set()
        for client in (self.consumer, self.producer):
            if client is not None:
                await client.stop()
        if self.store is not None:
            self.store.close()
        log.info("projector.stopped", settled=self.settled)
