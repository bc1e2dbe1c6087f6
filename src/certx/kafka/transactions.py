"""Ordered Kafka transactions for one stream of batches: what the gateway and the matcher both write with.

Each batch commits in a transaction with its output and its consumed offsets, so a crash leaves all of it or
none of it (DESIGN 3). A transaction commits only after every send in it has been acknowledged: a failed send
(a record too large, a broker that refused it) aborts the transaction and fails the stream; the service then
ends and a restart recovers from the log (crash-only). Never commit past a send that did not happen.

Pipelined, in order. While transaction N commits (its last position, then its end: round trips to the broker), N+1 is
open on another producer: the batches submitted meanwhile are sent into it as they come, and it commits once N has
committed. So a batch waits at most for the commit of the transaction before its own, never for a whole
transaction queued between them (that wait was a third of the p50). The log keeps the batches' order: N+1 sends nothing
until every record of N has been acknowledged, and commits nothing unless N committed. The consumed position
joins it with its first batch, and its latest is sent as it closes, while its last records are acknowledged: its
commit waits for one round trip, then its end.

Three producers take turns: after a commit the broker writes its markers in the background, and the next
transaction of the same id is refused (CONCURRENT_TRANSACTIONS, retried after a back-off) until they are written.
With a producer's next turn two transactions later, its markers are written by then.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Awaitable, Callable, Mapping

from aiokafka import AIOKafkaProducer

from certx import metrics
from certx.kafka.connection import Connection

# Sends a batch's records into an open transaction; returns their delivery futures (see topics.send_batched).
Fill = Callable[[AIOKafkaProducer], Awaitable[list[asyncio.Future]]]
# A consumed position: an offset, or an offset with its metadata (what `send_offsets_to_transaction` takes).
Offsets = Mapping

TURNS = "abc"           # the suffixes of a stream's transactional ids
# Past either, a batch waits for the open transaction to begin its commit. Under a backlog the loop that applies
# batches holds the event loop for a fetch at a time, and a transaction moves a round trip per turn of it: unbounded,
# the open one took in the whole backlog, and the commits (the answers) came seconds apart.
BATCHES_PER_TRANSACTION = 64
RECORDS_PER_TRANSACTION = 10_000


def transactional_producers(kafka: Connection, ids: tuple[str, ...], max_request_size: int) -> list[AIOKafkaProducer]:
    return [AIOKafkaProducer(
        transactional_id=tid, enable_idempotence=True, acks="all", linger_ms=0, max_batch_size=1024 * 1024,
        max_request_size=max_request_size,
        # A transaction waits on every retry; aiokafka's 100 ms default made the p99 latency.
        retry_backoff_ms=10, **kafka.aiokafka(),
    ) for tid in ids]


class _Transaction:
    """One transaction: the batches it takes while the one before it commits, then its own commit."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.fills: deque[Fill] = deque()       # submitted, not sent yet
        self.batches = 0                        # taken, sent or not
        self.records = 0                        # the records they consumed
        self.offsets: dict = {}
        self.thens: list[Callable[[], None]] = []
        self.closed = asyncio.Event()           # it takes no more batches: it is committing, or it failed
        self.wake = asyncio.Event()             # a batch came, or the transaction before it committed
        # every record it sent is acknowledged: the next transaction may send (a failure: it must not)
        self.acknowledged: asyncio.Future = asyncio.get_running_loop().create_future()
        self.acknowledged.add_done_callback(_retrieved)
        self.task: asyncio.Task | None = None

    def take(self, fill: Fill, offsets: Offsets | None, then: Callable[[], None] | None, records: int) -> None:
        self.fills.append(fill)
        self.batches += 1
        self.records += records
        if offsets:
            self.offsets.update(offsets)        # a later batch's position is further on
        if then is not None:
            self.thens.append(then)
        self.wake.set()


def _retrieved(future: asyncio.Future) -> None:
    """A failure is the stream's (`Transactions.failure`): no 'exception never retrieved' when nobody waits."""
    if not future.cancelled():
        future.exception()


class Transactions:
    def __init__(self, producers: list[AIOKafkaProducer], service: str, group: str) -> None:
        self.producers = producers
        self.group = group                            # whose consumed offsets the transactions commit
        self.timer = metrics.TRANSACTION.labels(service)
        self.commit_timer = metrics.TRANSACTION_COMMIT.labels(service)
        self.turn = 0
        self.newest: _Transaction | None = None       # the latest submitted to
        self.failure: BaseException | None = None
        self.committed = 0                            # transactions committed
        self.batches = 0                              # batches committed

    async def start(self) -> None:
        """Starting a transactional producer fences its id's previous owner and ends its open transaction."""
        for producer in self.producers:
            await producer.start()

    async def submit(self, fill: Fill, offsets: Offsets | None = None, then: Callable[[], None] | None = None,
                     records: int = 1) -> None:
        """Queue one batch of `records` consumed: `fill` sends its output, `offsets` is the consumed position it
        commits (the service's group's), `then` runs once it has committed. Returns at once, unless the open
        transaction is full: then once that one has begun its commit (backpressure)."""
        if self.failure is not None:
            raise self.failure
        txn = self.newest
        if txn is not None and not txn.closed.is_set() and (
                txn.batches >= BATCHES_PER_TRANSACTION or txn.records >= RECORDS_PER_TRANSACTION):
            await txn.closed.wait()
            if self.failure is not None:
                raise self.failure
            txn = self.newest
        if txn is None or txn.closed.is_set():
            txn = _Transaction(self.producers[self.turn])
            self.turn = (self.turn + 1) % len(self.producers)
            txn.task = asyncio.create_task(self._run(txn, self.newest))
            txn.task.add_done_callback(self._note_failure)
            self.newest = txn
        txn.take(fill, offsets, then, records)

    async def _run(self, txn: _Transaction, previous: _Transaction | None) -> None:
        try:
            await self._commit(txn, previous)
        except BaseException as exc:
            if not txn.acknowledged.done():
                if isinstance(exc, asyncio.CancelledError):
                    txn.acknowledged.cancel()
                else:
                    txn.acknowledged.set_exception(exc)
            raise
        finally:
            txn.closed.set()

    async def _commit(self, txn: _Transaction, previous: _Transaction | None) -> None:
        if previous is not None:
            await previous.acknowledged     # the log keeps the order: none of ours before all of its records
            previous.task.add_done_callback(lambda _: txn.wake.set())
        began = time.perf_counter()
        producer = txn.producer
        async with producer.transaction():     # an exception in here aborts it
            sent: list[asyncio.Future] = []
            early: dict | None = None       # the offsets sent while the one before commits
            offsets: list[asyncio.Future] = []
            while True:
                while txn.fills:
                    sent += await txn.fills.popleft()(producer)
                    if early is None and txn.offsets:
                        # The group joins the transaction now (a round trip), off the commit's path: at the
                        # commit, only the final position is sent, and while the last records are acknowledged.
                        early = dict(txn.offsets)
                        offsets.append(self._offsets(producer, early))
                if previous is None or previous.task.done():
                    break
                txn.wake.clear()
                await txn.wake.wait()
            txn.closed.set()                # nothing was submitted since the last fill: no await in between
            closing = time.perf_counter()
            if txn.offsets != (early or {}):
                offsets.append(self._offsets(producer, txn.offsets))
            await asyncio.gather(*sent)     # every record acknowledged, or no commit (no commit past a loss)
            txn.acknowledged.set_result(None)
            if previous is not None:
                await previous.task         # raises if it failed: then this one aborts
            await asyncio.gather(*offsets)
        done = time.perf_counter()
        self.timer.observe(done - began)
        self.commit_timer.observe(done - closing)
        self.committed += 1
        self.batches += txn.batches
        for then in txn.thens:
            then()

    def _offsets(self, producer: AIOKafkaProducer, offsets: dict) -> asyncio.Future:
        """The consumed position into the transaction, sent beside the records (the commit sends it before its
        end either way); a failure aborts the transaction, which then never commits the records either."""
        task = asyncio.ensure_future(producer.send_offsets_to_transaction(offsets, self.group))
        task.add_done_callback(_retrieved)
        return task

    def _note_failure(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None and self.failure is None:
            self.failure = task.exception()

    async def settle(self) -> None:
        """Wait for the transactions in flight; re-raises a failed one."""
        if self.newest is not None:
            await self.newest.task

    async def stop(self) -> None:
        if self.newest is not None and not self.newest.task.done():
            await asyncio.wait([self.newest.task], timeout=10)
        for producer in self.producers:
            await producer.stop()
