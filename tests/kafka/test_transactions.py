"""The ordered transactions the gateway and the matcher write with (certx.kafka.transactions, DESIGN 3), on the
real broker as the gateway: the log keeps the batches in their order, the group's position follows the last
commit, batches submitted while a transaction commits share the next one, and no transaction sends or commits
past one that aborted."""
from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from certx.kafka.topics import send_batched
from certx.kafka.transactions import RECORDS_PER_TRANSACTION, TURNS, Transactions, transactional_producers
from tests.kafka.conftest import read_topic

pytestmark = pytest.mark.kafka


def _transactions(kafka, topics) -> Transactions:
    ids = tuple(topics.transactional_id("gateway", f"t-{turn}") for turn in TURNS)
    return Transactions(transactional_producers(kafka, ids, 1024 * 1024), "test", topics.group("gateway"))


def _filler(topic: str, values: list[bytes], also: list[asyncio.Future] = ()):
    """A batch as the services write one: its records (and `also`, deliveries still to come)."""
    async def fill(producer) -> list[asyncio.Future]:
        return await send_batched(producer, topic, 0, None, values) + list(also)
    return fill


async def _committed_position(kafka, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **kafka.aiokafka())
    await consumer.start()
    try:
        return await consumer.committed(tp)
    finally:
        await consumer.stop()


def test_overlapping_transactions_keep_the_batches_order_and_the_last_position(as_, topics):
    """DESIGN 3: 300 batches of one to three records, submitted as fast as the backpressure lets them: every
    record committed once, in the order submitted, in fewer transactions than batches (those submitted while one
    commits share the next), and the group's committed position is the last batch's."""
    gateway = as_("gateway")
    source = TopicPartition(topics.replay, 0)
    batches = [[f"{i}.{j}".encode() for j in range(1 + i % 3)] for i in range(300)]

    async def run() -> tuple[int, int]:
        txns = _transactions(gateway, topics)
        await txns.start()
        try:
            for i, values in enumerate(batches):
                await txns.submit(_filler(topics.commands, values), {source: i + 1})
            await txns.settle()
            return txns.batches, txns.committed
        finally:
            await txns.stop()

    committed_batches, transactions = asyncio.run(run())
    assert committed_batches == len(batches)
    assert transactions < len(batches)
    want = [v for values in batches for v in values]
    got = asyncio.run(read_topic(gateway, topics.commands, [0], len(want), settle=2.0))[0]
    assert [r.value for r in got] == want
    assert asyncio.run(_committed_position(gateway, topics.group("gateway"), source)) == len(batches)


def test_a_backlog_commits_a_transaction_for_each_full_batch(as_, topics):
    """DESIGN 3, answers under a backlog: batches that each consumed a transaction's worth of records are
    submitted without a pause; each gets a transaction of its own (the next waits for the open one to begin its
    commit), so their answers commit one batch apart, not all at the end."""
    gateway = as_("gateway")
    source = TopicPartition(topics.replay, 0)

    async def run() -> tuple[int, int]:
        txns = _transactions(gateway, topics)
        await txns.start()
        try:
            for i in range(5):
                await txns.submit(_filler(topics.commands, [f"{i}".encode()]), {source: i + 1}, None,
                                  RECORDS_PER_TRANSACTION)
            await txns.settle()
            return txns.batches, txns.committed
        finally:
            await txns.stop()

    assert asyncio.run(run()) == (5, 5)
    got = asyncio.run(read_topic(gateway, topics.commands, [0], 5, settle=1.0))[0]
    assert [r.value for r in got] == [f"{i}".encode() for i in range(5)]


def test_a_transaction_never_sends_or_commits_past_one_that_aborted(as_, topics):
    """DESIGN 3, crash-only: batches 0-4 commit. Batch 5's records are sent, then one of its deliveries fails
    (as when the broker refuses a record) while its transaction is committing and batches 6-9 wait in the next
    one. Batch 5 aborts; 6-9 are never sent, nor committed; the stream fails, and a restart (the same ids, which
    fences and aborts what was left open) goes on from batch 5."""
    gateway = as_("gateway")
    source = TopicPartition(topics.replay, 0)
    group = topics.group("gateway")

    async def run() -> BaseException | None:
        txns = _transactions(gateway, topics)
        await txns.start()
        try:
            for i in range(5):
                await txns.submit(_filler(topics.commands, [f"{i}".encode()]), {source: i + 1})
                await txns.settle()
            refused = asyncio.get_running_loop().create_future()
            await txns.submit(_filler(topics.commands, [b"5"], [refused]), {source: 6})
            await txns.newest.closed.wait()           # batch 5's transaction is committing: it waits for `refused`
            for i in range(6, 10):
                await txns.submit(_filler(topics.commands, [f"{i}".encode()]), {source: i + 1})
            refused.set_exception(KafkaError("refused"))
            with pytest.raises(KafkaError):
                await txns.settle()
            with pytest.raises(KafkaError):         # the stream has failed: later batches are refused
                await txns.submit(_filler(topics.commands, [b"10"]), {source: 11})
            return txns.failure
        finally:
            await txns.stop()

    failure = asyncio.run(run())
    assert isinstance(failure, KafkaError)

    async def restart() -> None:
        txns = _transactions(gateway, topics)
        await txns.start()          # fences the failed run's ids: their open transactions abort
        try:
            await txns.submit(_filler(topics.commands, [b"after"]), {source: 6})
            await txns.settle()
        finally:
            await txns.stop()

    asyncio.run(restart())
    got = asyncio.run(read_topic(gateway, topics.commands, [0], 6, settle=2.0))[0]
    assert [r.value for r in got] == [b"0", b"1", b"2", b"3", b"4", b"after"]
    written = asyncio.run(read_topic(gateway, topics.commands, [0], 7, settle=2.0, isolation="read_uncommitted"))[0]
    assert [r.value for r in written] == [b"0", b"1", b"2", b"3", b"4", b"5", b"after"]     # 6-9 never sent
    assert asyncio.run(_committed_position(gateway, group, source)) == 6
