"""Ordered Kafka transactions for one stream of batches: what the gateway and the matcher both write with.

Each batch is one transaction holding its output and its consumed offsets, so a crash leaves all of it or
none of it (DESIGN 3). A transaction commits only after every send in it has been acknowledged: a failed send
(a record too large, a broker that refused it) aborts the transaction and fails the stream; the service then
ends and a restart recovers from the log (crash-only). Never commit past a send that did not happen.

Two producers take turns, and a transaction begins only after the one before it has committed, so the batches
keep their order. Why two: after a commit the broker writes its markers in the background, and the next
transaction of the same id is refused (CONCURRENT_TRANSACTIONS) until they are written; with one id that wait
was most of each transaction's time. The caller works on batch N+1 while transaction N is with the broker, and
at most one transaction waits behind the one in flight (backpressure).
"""
from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

from aiokafka import AIOKafkaProducer

from certx import metrics
from certx.kafka.connection import Connection

# Sends records into an open transaction; returns their delivery futures (see topics.send_batched).
Fill = Callable[[AIOKafkaProducer], Awaitable[list[asyncio.Future]]]


def transactional_producers(kafka: Connection, ids: tuple[str, str], max_request_size: int) -> list[AIOKafkaProducer]:
    return [AIOKafkaProducer(
        transactional_id=tid, enable_idempotence=True, acks="all", linger_ms=0, max_batch_size=1024 * 1024,
        max_request_size=max_request_size,
        # A transaction waits on every retry; aiokafka's 100 ms default made the p99 latency.
        retry_backoff_ms=10, **kafka.aiokafka(),
    ) for tid in ids]


class Transactions:
    def __init__(self, producers: list[AIOKafkaProducer], service: str) -> None:
        self.producers = producers
        self.timer = metrics.TRANSACTION.labels(service)
        self.turn = 0
        self.committing: asyncio.Task | None = None   # the latest transaction, chained to the one before
        self.older: asyncio.Task | None = None        # the one before it
        self.failure: BaseException | None = None
        self.committed = 0                            # transactions committed

    async def start(self) -> None:
        """Starting a transactional producer fences its id's previous owner and ends its open transaction."""
        for producer in self.producers:
            await producer.start()

    async def submit(self, fill: Fill, then: Callable[[], None] | None = None) -> None:
        """Queue one transaction; returns once at most one other waits behind the one in flight. `then` runs
        after it commits."""
        if self.failure is not None:
            raise self.failure
        if self.older is not None:
            await self.older
        previous = self.committing
        producer = self.producers[self.turn]
        self.turn ^= 1
        self.committing = asyncio.create_task(self._commit(producer, fill, previous, then))
        self.committing.add_done_callback(self._note_failure)
        self.older = previous

    async def _commit(self, producer: AIOKafkaProducer, fill: Fill, previous: asyncio.Task | None,
                      then: Callable[[], None] | None) -> None:
        if previous is not None:
            await previous          # one transaction at a time, in order
        began = time.perf_counter()
        async with producer.transaction():
            sent = await fill(producer)
            # Every record acknowledged, or an exception here aborts the transaction (no commit past a loss).
            await asyncio.gather(*sent)
        self.timer.observe(time.perf_counter() - began)
        self.committed += 1
        if then is not None:
            then()

    def _note_failure(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None and self.failure is None:
            self.failure = task.exception()

    async def settle(self) -> None:
        """Wait for the transactions in flight; re-raises a failed one."""
        if self.committing is not None:
            await self.committing

    async def stop(self) -> None:
        if self.committing is not None and not self.committing.done():
            await asyncio.wait([self.committing], timeout=10)
        for producer in self.producers:
            await producer.stop()
