"""The settlement projector on Kafka: `certx.events` (read_committed) in, the read model and
`certx.settlements` out.

Exactly once into the database: each batch's state changes and the `certx.events` offsets they came from are
written in one database transaction, and a restart seeks to the offsets the database holds. The ledger itself
is idempotent by event origin, so a duplicated event changes nothing either way. If the log no longer holds
those offsets, the consumer stops with an error (`auto_offset_reset="none"`) rather than skip what it lost.

`certx.settlements` is fed from an outbox table written in that same transaction and published after it
commits, so a settlement event is never lost; a crash between publishing and clearing the outbox publishes it
again, with the same `origin`, by which readers drop the duplicate (at least once, deduplicable).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import msgspec
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from certx.ledger.journal import Journal
from certx.kafka.connection import Connection
from certx.kafka.topics import Topics, send_batched
from certx.store import open_store
from certx.wire.codec import decode_event, encode
from certx.wire.dead_letter import dead_letter
from certx.wire.routing import MARKET_OF

log = structlog.get_logger("certx.projector")


@dataclass
class ProjectorSettings:
    kafka: Connection
    db: str
    topics: Topics = field(default_factory=Topics)
    max_records: int = 20_000


class Projector:
    def __init__(self, settings: ProjectorSettings) -> None:
        self.s = settings
        self.settled = 0
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        self.store = open_store(self.s.db)
        self.journal = Journal(self.store.load_ledger())
        offsets = self.store.topic_offsets()
        self.consumer = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False,
                                         auto_offset_reset="none", max_partition_fetch_bytes=8 * 1024 * 1024,
                                         **self.s.kafka.aiokafka())
        await self.consumer.start()
        tps = [TopicPartition(self.s.topics.events, p) for p in sorted(MARKET_OF)]
        self.consumer.assign(tps)
        for tp in tps:
            self.consumer.seek(tp, offsets.get(tp.partition, 0))
        self.producer = AIOKafkaProducer(enable_idempotence=True, acks="all", linger_ms=5,
                                         max_batch_size=1024 * 1024, **self.s.kafka.aiokafka())
        await self.producer.start()
        await self._publish()   # whatever a previous run committed but did not get to publish
        log.info("projector.started", db=self.s.db.split("@")[-1], offsets=offsets)

    async def run(self) -> None:
        while not self._stopping.is_set():
            fetched = await self.consumer.getmany(timeout_ms=100, max_records=self.s.max_records)
            if not any(fetched.values()):
                continue
            dead = []
            for tp, records in fetched.items():
                for r in records:
                    try:
                        event = decode_event(r.value)
                    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
                        dead.append(dead_letter(r.value, "malformed", str(exc)[:300], tp.topic, tp.partition,
                                                r.offset, r.timestamp, "projector"))
                        self.journal.skip(tp.partition, r.offset, MARKET_OF[tp.partition])
                        continue
                    self.journal.add(event, r.offset)
            batch = self.journal.take()
            self.store.write(batch)            # state + offsets, one database transaction
            self.settled += len(batch.trades)
            for d in dead:
                await self.producer.send_and_wait(self.s.topics.dlq, encode(d), partition=0)
            # What was just committed is in memory: publish it from there, then clear the outbox.
            await self._send(batch.outbox)
            self.store.published()

    async def _publish(self) -> None:
        """Publish what the outbox holds (after a restart: committed, maybe not yet published)."""
        while True:
            rows = self.store.pending()
            if not rows:
                return
            await self._send([(p, body) for _, p, body in rows])
            self.store.published(rows[-1][0])

    async def _send(self, rows: list[tuple[int, bytes]]) -> None:
        """Settlement events to their market partitions; returns once the broker has them all."""
        by_partition: dict[int, list[bytes]] = {}
        for p, body in rows:
            by_partition.setdefault(p, []).append(body)
        sent = []
        for p, bodies in by_partition.items():
            sent += await send_batched(self.producer, self.s.topics.settlements, p, MARKET_OF[p].encode(), bodies)
        await asyncio.gather(*sent)

    async def stop(self) -> None:
        self._stopping.set()
        await self.consumer.stop()
        await self.producer.stop()
        self.store.close()
        log.info("projector.stopped", settled=self.settled)
