"""The market-data feed on the real broker (issue 14): quotes written by the matcher in the transactions of the
events they reflect, the same as the embedded replay's, and only the matcher may write them."""
from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError

from certx.replay import Replay
from certx.wire.codec import decode_quote, encode
from certx.wire.routing import PARTITION
from loadtest.flows import trading_day
from tests.kafka.conftest import committed_events, counts, expected_events, replay
from tests.kafka.test_gateway import send

pytestmark = pytest.mark.kafka


def one_command_a_batch(lines: list[bytes]) -> dict[int, list[bytes]]:
    """`certx replay --quotes`: the feed of one command a batch, per market partition, encoded."""
    r = Replay()
    out: dict[int, list[bytes]] = {p: [] for p in PARTITION.values()}
    for events in r.each_line(lines):
        for q in r.quotes_of(events):
            out[PARTITION[q.market]].append(encode(q))
    return out


async def everything_in(kafka, topic: str, partitions: list[int]) -> dict[int, list]:
    """The committed records of `topic`, read to the end each partition had when asked."""
    consumer = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False,
                                auto_offset_reset="earliest", **kafka.aiokafka())
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        got: dict[int, list] = {p: [] for p in partitions}
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                got[tp.partition] += records
        return got
    finally:
        await consumer.stop()


def test_the_feed_on_kafka_is_the_replays_conflated_byte_for_byte(as_, topics, gateway, matchers):
    """A trading day through the gateway and the matcher: each market's quotes on certx.marketdata are, in order and
    byte for byte, quotes of the one-command-a-batch feed of `certx replay --quotes` (conflated over the
    matcher's batches: never two of a product at one seq), keyed by their market, and each product's last quote
    is the replay's last. The events are committed, so their quotes are too: the same transactions."""
    lines = trading_day(3_000, seed=17)
    replay(as_("operator"), topics, lines)
    matchers().wait_assigned()
    want = expected_events(lines)
    assert asyncio.run(committed_events(as_("operator"), topics, counts(want))) == want
    finest = one_command_a_batch(lines)
    got = asyncio.run(everything_in(as_("broker-a"), topics.marketdata, sorted(finest)))
    for p, records in got.items():
        market = next(m for m, q in PARTITION.items() if q == p)
        assert records, f"{market}: no quotes"
        assert {r.key for r in records} == {market.encode()}
        feed = [r.value for r in records]
        seen = iter(finest[p])
        assert all(any(q == f for f in seen) for q in feed), f"{market}: a quote that is not the replay's, in order"
        quoted = [decode_quote(q) for q in feed]
        assert len({(q.product, q.seq) for q in quoted}) == len(quoted)
        last_on_kafka = {q.product: raw for q, raw in zip(quoted, feed)}
        last_replayed = {decode_quote(raw).product: raw for raw in finest[p]}
        assert last_on_kafka == last_replayed, f"{market}: the last quotes differ"
        assert len(feed) <= len(finest[p])


def test_only_the_matcher_writes_the_feed(as_, topics):
    """A broker, the operator, the gateway or the projector cannot write certx.marketdata (ACLs); a broker and a
    settlement service may read it."""
    for principal in ("broker-a", "operator", "gateway", "projector"):
        with pytest.raises(TopicAuthorizationFailedError):
            asyncio.run(send(as_(principal), topics.marketdata, [b'{"type": "quote"}']))
    for principal in ("broker-a", "settlement"):
        assert asyncio.run(everything_in(as_(principal), topics.marketdata, [0, 1, 2])) == {0: [], 1: [], 2: []}
