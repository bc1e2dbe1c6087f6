"""Ordered Kafka transactions for one stream of batches: what the gateway and the matcher both write with.

Each batch is one transaction holding its output and its consumed offsets, so a crash leaves all of it or
none of it (DESIGN 3). A transaction commits only after every send in it has been acknowledged: a failed send
(a record too large, a broker that refused it) aborts the transaction and fails the stream; the service then
ends and a restart recovers from the log (crash-only). Never commit past a send that did not happen.

Transactions overlap, in order. Transaction N+1 sends its records once N's are appended, so each partition
holds the batches in their order; its offsets once the group holds N's, so the later position wins; and it
commits only once N has committed, so it never commits past an N that aborted (an N+1 left open by a crash is
aborted when the restarted service fences its id). What overlaps is
the rest of a transaction's round trips: N's offsets (AddOffsetsToTxn, TxnOffsetCommit) and its commit
(EndTxn) while N+1's records go out. Done one after another, those five round trips per batch were most of the
latency a record waits in the gateway and again in the matcher (loadtest.kafka_latency).

The producers take turns, one per transaction in flight plus one: after a commit the broker writes its
markers in the background, and the next transaction of the same id is refused (CONCURRENT_TRANSACTIONS, then
retried after a back-off) until they are written, so an id rests for a turn before it is used again. At most
two transactions are in flight; a third waits for the oldest to commit (backpressure).
"""
from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

from aiokafka import AIOKafkaProducer, TopicPartition

from certx import metrics
from certx.kafka.connection import Connection

# Sends records into an open transaction; returns their delivery futures (see topics.send_batched).
Fill = Callable[[AIOKafkaProducer], Awaitable[list[asyncio.Future]]]
IN_FLIGHT = 2
IDS = ("a", "b", "c")           # transactional id suffixes: IN_FLIGHT + 1, so an id rests a turn after its commit


def transactional_producers(kafka: Connection, ids: tuple[str, ...], max_request_size: int) -> list[AIOKafkaProducer]:
    return [AIOKafkaProducer(
        transactional_id=tid, enable_idempotence=True, acks="all", linger_ms=0, max_batch_size=1024 * 1024,
        max_request_size=max_request_size,
        # A transaction waits on every retry; aiokafka's 100 ms default made the p99 latency.
        retry_backoff_ms=10, **kafka.aiokafka(),
    ) for tid in ids]


class _Turn:
    """One transaction on its way: `appended` once its records are acknowledged, `offsets` once the group holds
    its offsets (pending until it commits), `task` once it has committed."""

    __slots__ = ("appended", "offsets", "task")

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.appended: asyncio.Future[None] = loop.create_future()
        self.offsets: asyncio.Future[None] = loop.create_future()
        self.task: asyncio.Task | None = None


class Transactions:
    def __init__(self, producers: list[AIOKafkaProducer], service: str) -> None:
        if len(producers) < IN_FLIGHT + 1:
            raise ValueError(f"{IN_FLIGHT + 1} producers are needed, one to rest while {IN_FLIGHT} are in flight")
        self.producers = producers
        self.timer = metrics.TRANSACTION.labels(service)
        self.turn = 0
        self.flight: list[_Turn] = []                  # submitted, oldest first, not yet known committed
        self.failure: BaseException | None = None
        self.committed = 0                            # transactions committed

    @property
    def committing(self) -> asyncio.Task | None:
        """The latest transaction: once it has committed, so have all before it."""
        return self.flight[-1].task if self.flight else None

    async def start(self) -> None:
        """Starting a transactional producer fences its id's previous owner and ends its open transaction."""
        for producer in self.producers:
            await producer.start()

    async def submit(self, fill: Fill, offsets: dict[TopicPartition, int], group: str,
                     then: Callable[[], None] | None = None) -> None:
        """Queue one transaction: `fill`'s records, then the consumed `offsets` of `group`. Returns once fewer
        than IN_FLIGHT are in flight before it. `then` runs after it commits."""
        if self.failure is not None:
            raise self.failure
        self.flight = [t for t in self.flight if not t.task.done()]
        while len(self.flight) >= IN_FLIGHT:
            await asyncio.wait([self.flight[0].task])
            self.flight = [t for t in self.flight if not t.task.done()]
            if self.failure is not None:
                raise self.failure
        previous = self.flight[-1] if self.flight else None
        producer = self.producers[self.turn]
        self.turn = (self.turn + 1) % len(self.producers)
        turn = _Turn()
        turn.task = asyncio.create_task(self._commit(producer, fill, offsets, group, turn, previous, then))
        turn.task.add_done_callback(self._note_failure)
        self.flight.append(turn)

    async def _commit(self, producer: AIOKafkaProducer, fill: Fill, offsets: dict[TopicPartition, int], group: str,
                      turn: _Turn, previous: _Turn | None, then: Callable[[], None] | None) -> None:
        try:
            if previous is not None:
                await previous.appended          # our records after the previous transaction's
            began = time.perf_counter()
            async with producer.transaction():
                sent = await fill(producer)
                # The offsets go to the group while the records go to their partitions (a round trip saved).
                offsets_added = asyncio.ensure_future(self._add_offsets(producer, offsets, group, previous))
                try:
                    # Every record acknowledged, or an exception here aborts the transaction (no commit past a loss).
                    await asyncio.gather(*sent)
                    turn.appended.set_result(None)
                finally:
                    await offsets_added
                turn.offsets.set_result(None)
                if previous is not None:
                    await previous.task          # commit after the previous one, never past an abort
            self.timer.observe(time.perf_counter() - began)
        except BaseException as exc:
            for step in (turn.appended, turn.offsets):
                if not step.done():
                    step.set_exception(exc)
                    step.exception()             # retrieved: the task's own failure is the one reported
            raise
        self.committed += 1
        if then is not None:
            then()

    @staticmethod
    async def _add_offsets(producer: AIOKafkaProducer, offsets: dict[TopicPartition, int], group: str,
                           previous: _Turn | None) -> None:
        # After the previous transaction's: of two pending offsets of a partition, the group keeps the one it
        # received last once both have committed, whatever the order of the commit markers. Sent out of order,
        # an older position would win, and a restart would read commands again whose events are committed.
        if previous is not None:
            await previous.offsets
        await producer.send_offsets_to_transaction(offsets, group)

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
