"""The ordered transactions the gateway and the matcher write with (certx.kafka.transactions, DESIGN 3), on the
real broker as the gateway: the log keeps the batches in their order, the group's position follows the last
commit, and no transaction commits past one that aborted."""
from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from certx.kafka.topics import send_batched
from certx.kafka.transactions import Transactions, transactional_producers
from tests.kafka.conftest import read_topic

pytestmark = pytest.mark.kafka


def _transactions(kafka, topics) -> Transactions:
    ids = tuple(topics.transactional_id("gateway", f"t-{suffix}") for suffix in "ab")
    return Transactions(transactional_producers(kafka, ids, 1024 * 1024), "test")


def _filler(topic: str, values: list[bytes], offsets: dict[TopicPartition, int], group: str):
    """A batch as the services write one: its records, then the consumed offsets."""
    async def fill(producer) -> list[asyncio.Future]:
        sent = await send_batched(producer, topic, 0, None, values)
        await producer.send_offsets_to_transaction(offsets, group)
        return sent
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
    record committed once, in the order submitted, and the group's committed position is the last batch's."""
    gateway = as_("gateway")
    source = TopicPartition(topics.replay, 0)
    batches = [[f"{i}.{j}".encode() for j in range(1 + i % 3)] for i in range(300)]

    async def run() -> int:
        txns = _transactions(gateway, topics)
        await txns.start()
        try:
            for i, values in enumerate(batches):
                await txns.submit(_filler(topics.commands, values, {source: i + 1}, topics.group("gateway")))
            await txns.settle()
            return txns.committed
        finally:
            await txns.stop()

    assert asyncio.run(run()) == len(batches)
    want = [v for values in batches for v in values]
    got = asyncio.run(read_topic(gateway, topics.commands, [0], len(want), settle=2.0))[0]
    assert [r.value for r in got] == want
    assert asyncio.run(_committed_position(gateway, topics.group("gateway"), source)) == len(batches)


def test_a_transaction_never_commits_past_one_that_aborted(as_, topics):
    """DESIGN 3, crash-only: batch 5 fails after its records were sent (its offsets are refused: they name the
    matcher's group, which the gateway may not use), while batch 6 waits behind it. Neither commits, nor anything after; the
    stream fails, and a restart (the same ids, which fences and aborts what was left open) goes on from batch 4."""
    gateway = as_("gateway")
    source = TopicPartition(topics.replay, 0)
    group = topics.group("gateway")

    async def run() -> BaseException | None:
        txns = _transactions(gateway, topics)
        await txns.start()
        try:
            for i in range(10):
                try:
                    await txns.submit(_filler(topics.commands, [f"{i}".encode()], {source: i + 1},
                                              topics.group("matcher") if i == 5 else group))
                except Exception:       # noqa: BLE001 - the stream has failed: later batches are refused
                    break
            try:
                await txns.settle()
            except Exception:           # noqa: BLE001
                pass
            return txns.failure
        finally:
            await txns.stop()

    failure = asyncio.run(run())
    assert failure is not None

    async def restart() -> None:
        txns = _transactions(gateway, topics)
        await txns.start()          # fences the failed run's ids: their open transactions abort
        try:
            await txns.submit(_filler(topics.commands, [b"after"], {source: 5}, group))
            await txns.settle()
        finally:
            await txns.stop()

    asyncio.run(restart())
    got = asyncio.run(read_topic(gateway, topics.commands, [0], 6, settle=2.0))[0]
    assert [r.value for r in got] == [b"0", b"1", b"2", b"3", b"4", b"after"]
    assert asyncio.run(_committed_position(gateway, group, source)) == 5
