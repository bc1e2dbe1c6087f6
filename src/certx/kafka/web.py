"""The market page's reader (`certx serve web`): the quotes (`certx.marketdata`), the engine's events
(`certx.events`: trades and day summaries) and the settlements (`certx.settlements`: settled trades and GEC
cancellations), read committed, into the page's hub (certx.web.app), which folds them (certx.web.board).

It only reads: no producer, no transactions, and no consumer group either (it assigns itself every partition
and seeks), as a principal whose rights are reads (deploy/principals.dev's `web`, of role `reader`:
certx.kafka.access). At the start it reads back the last `backfill` records of each partition, then follows. That
is enough for the board: every product of a market is quoted when its session opens and at every cancel or expiry
in it (certx.marketdata.quote), and the page shows only the last trades and settlements.

A record that does not decode is logged and skipped; it never stops the page.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Callable

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from certx.kafka.connection import Connection
from certx.kafka.liveness import Liveness
from certx.kafka.progress import Progress
from certx.kafka.topics import Topics
from certx.web.app import Hub
from certx.web.board import Fact
from certx.wire.codec import decode_event, decode_quote, decode_settlement
from certx.wire.routing import PARTITION

BACKFILL = 20_000           # records read back per partition at the start
# The page needs two kinds of engine event; the matcher writes the tag first, so the rest are never decoded.
_WANTED = (b'{"type":"trade"', b'{"type":"day.summary"')

log = structlog.get_logger("certx.web")


@dataclass(frozen=True)
class WebSettings:
    kafka: Connection
    topics: Topics = field(default_factory=Topics)
    host: str = "127.0.0.1"
    port: int = 8080            # 0: any free port (logged as service.http)
    backfill: int = BACKFILL


class Reader:
    def __init__(self, settings: WebSettings, hub: Hub) -> None:
        self.s = settings
        self.hub = hub
        self.progress = Progress(log, "web")
        self.consumer: AIOKafkaConsumer | None = None
        self.behind: dict[TopicPartition, int] = {}     # until caught up: each partition's end at the start
        self.read = 0
        market, t = hub.market, settings.topics
        self.takes: dict[str, Callable[[ConsumerRecord], list[Fact]]] = {
            t.marketdata: lambda r: market.quote(decode_quote(r.value), r.timestamp),
            t.events: lambda r: market.event(decode_event(r.value), r.timestamp) if r.value.startswith(_WANTED)
            else [],
            t.settlements: lambda r: market.settlement(decode_settlement(r.value)),
        }

    def ready(self) -> bool:
        """Read up to where the feed stood at the start."""
        return self.consumer is not None and not self.behind

    async def start(self) -> None:
        self.consumer = c = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False,
                                             group_id=None, fetch_max_wait_ms=50, **self.s.kafka.aiokafka())
        await c.start()
        tps = [TopicPartition(topic, p) for topic in self.takes for p in sorted(PARTITION.values())]  # one a market
        c.assign(tps)
        starts, ends = await c.beginning_offsets(tps), await c.end_offsets(tps)
        for tp in tps:
            c.seek(tp, max(starts[tp], ends[tp] - self.s.backfill))
        self.behind = {tp: end for tp, end in ends.items() if end > starts[tp]}
        log.info("web.started", partitions=len(tps), backfill=sum(min(self.s.backfill, ends[tp] - starts[tp])
                                                                  for tp in tps))

    async def run(self) -> None:
        c = self.consumer
        assert c is not None
        liveness = Liveness(c)
        while True:
            fetched = await c.getmany(timeout_ms=1000, max_records=10_000)
            for tp, records in fetched.items():
                for r in records:
                    self.hub.publish(self.facts(tp.topic, r))
                self.read += len(records)
            if self.behind:
                await self._catch_up()
            self.progress.tick(c, self.read)
            await liveness.check(fetched)

    def facts(self, topic: str, r: ConsumerRecord) -> list[Fact]:
        """What one record tells the page. One it cannot take (no value, not a message of its topic, or one the
        board cannot fold: only the services may write these topics, but a page is no place to stop for a bug or
        a forged record) is logged and tells nothing."""
        try:
            if r.value is None:
                raise ValueError("a record without a value")
            return self.takes[topic](r)
        except Exception as exc:
            log.warning("web.unreadable", topic=topic, partition=r.partition, offset=r.offset,
                        error=f"{type(exc).__name__}: {exc}")
            return []

    async def _catch_up(self) -> None:
        for tp, end in list(self.behind.items()):
            if await self.consumer.position(tp) >= end:
                del self.behind[tp]
        if not self.behind:
            log.info("web.caught_up", read=self.read, products=len(self.hub.market.board.quotes))

    async def stop(self) -> None:
        if self.consumer is not None:
            await asyncio.shield(self.consumer.stop())
