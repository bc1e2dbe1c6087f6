"""Idempotent Kafka topic set-up for certx.

    CERTX_KAFKA=127.0.0.1:9092 python -m certx.kafka.topics [--prefix P]

Creates the certx topics if they are missing; existing topics are left alone
(a partition-count mismatch is reported as a warning, never changed).
The broker runs with auto.create.topics.enable=false, so this is the only
place topics come from.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError, for_code

from certx.wire.routing import PARTITION

log = logging.getLogger("certx.topics")

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
SNAPSHOT_MAX_BYTES = 64 * 1024 * 1024
REPLICATION_FACTOR = 1


def bootstrap() -> str:
    return os.environ.get("CERTX_KAFKA", DEFAULT_BOOTSTRAP)


@dataclass(frozen=True)
class Topics:
    """The certx topic names. A prefix gives a test (or a second deployment) topics of its own."""

    prefix: str = ""

    @property
    def commands(self) -> str:
        return f"{self.prefix}certx.commands"

    @property
    def events(self) -> str:
        return f"{self.prefix}certx.events"

    @property
    def settlements(self) -> str:
        return f"{self.prefix}certx.settlements"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}certx.dlq"

    @property
    def snapshots(self) -> str:
        return f"{self.prefix}certx.snapshots"

    def layout(self) -> dict[str, tuple[int, dict[str, str]]]:
        """name -> (partitions, topic configs). One partition per market on the market-keyed topics
        (DESIGN 4); producers pick the partition from the market (certx.wire.routing.PARTITION)."""
        markets = len(PARTITION)
        # The log is the truth (DESIGN 2): nothing is ever deleted by age. Time retention would also go by
        # record timestamps, which are command times (DOMAIN U3), so a replayed past trade day would be
        # deleted as soon as it was written.
        kept = {"retention.ms": "-1", "retention.bytes": "-1"}
        return {
            self.commands: (markets, kept),
            self.events: (markets, kept),
            self.settlements: (markets, kept),
            self.dlq: (1, kept),
            # one snapshot per matcher partition, compacted to the latest; engines can be large
            self.snapshots: (markets, {"cleanup.policy": "compact", "max.message.bytes": str(SNAPSHOT_MAX_BYTES)}),
        }


async def send_batched(producer: AIOKafkaProducer, topic: str, partition: int, key: bytes | None,
                       values: list[bytes], stamps: list[int] | None = None) -> list[asyncio.Future]:
    """Send records in batches built by hand: far cheaper per record than `producer.send`. `stamps`, if
    given, are the records' timestamps. Returns the delivery futures (a transaction's commit also waits)."""
    sent = []
    builder = producer.create_batch()
    for i, value in enumerate(values):
        timestamp = stamps[i] if stamps else None
        if builder.append(key=key, value=value, timestamp=timestamp) is None:
            sent.append(await producer.send_batch(builder, topic, partition=partition))
            builder = producer.create_batch()
            builder.append(key=key, value=value, timestamp=timestamp)
    if builder.record_count():
        sent.append(await producer.send_batch(builder, topic, partition=partition))
    return sent


async def _start_admin(bootstrap: str, timeout_s: float) -> AIOKafkaAdminClient:
    deadline = time.monotonic() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
        try:
            await admin.start()
            return admin
        except KafkaConnectionError:
            await admin.close()
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.5)


async def _wait_for_leaders(admin: AIOKafkaAdminClient, layout: dict, timeout_s: float) -> dict[str, int]:
    """Wait until every certx topic has all partitions with a leader; return partition counts."""
    deadline = time.monotonic() + timeout_s
    while True:
        described = await admin.describe_topics(list(layout))
        counts: dict[str, int] = {}
        ready = True
        for t in described:
            if t["error_code"] != 0:
                ready = False
                continue
            parts = t["partitions"]
            counts[t["topic"]] = len(parts)
            if not parts or any(p["leader"] < 0 for p in parts):
                ready = False
        if ready and len(counts) == len(layout):
            return counts
        if time.monotonic() >= deadline:
            raise TimeoutError(f"topics not ready after {timeout_s}s: {described!r}")
        await asyncio.sleep(0.2)


async def _wait_for_partitions_ready(bootstrap: str, layout: dict, topics: list[str], timeout_s: float) -> None:
    """Wait until the leaders serve requests for the given topics.

    The metadata shows a leader slightly before the broker's replica manager has
    created the partition, so a produce right after creation can get
    NOT_LEADER_OR_FOLLOWER (clients retry, but it is noise). ListOffsets goes to
    the partition leader and is retried by aiokafka until the partition is live.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(layout[t][0])]
        await asyncio.wait_for(consumer.end_offsets(tps), timeout_s)
    finally:
        await consumer.stop()


async def ensure_topics(bootstrap: str, topics: Topics = Topics()) -> None:
    """Create the certx topics that are missing. Safe to call any number of times."""
    layout = topics.layout()
    admin = await _start_admin(bootstrap, timeout_s=30.0)
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=name,
                num_partitions=parts,
                replication_factor=REPLICATION_FACTOR,
                topic_configs=dict(configs),
            )
            for name, (parts, configs) in layout.items()
            if name not in existing
        ]
        if missing:
            resp = await admin.create_topics(missing, timeout_ms=30000)
            for err in resp.topic_errors:
                name, code = err[0], err[1]
                if code == 0:
                    log.info("created topic %s", name)
                    continue
                exc = for_code(code)
                if exc is TopicAlreadyExistsError:
                    log.info("topic %s already exists", name)
                    continue
                message = err[2] if len(err) > 2 else None
                raise exc(f"creating topic {name}: {message or exc.__name__}")
        counts = await _wait_for_leaders(admin, layout, timeout_s=30.0)
        for name, (parts, _) in layout.items():
            if counts.get(name) != parts:
                log.warning(
                    "topic %s has %s partitions, expected %d (left alone)",
                    name,
                    counts.get(name),
                    parts,
                )
    finally:
        await admin.close()
    if missing:
        await _wait_for_partitions_ready(bootstrap, layout, [t.name for t in missing], timeout_s=30.0)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="topics: %(message)s")
    prefix = sys.argv[sys.argv.index("--prefix") + 1] if "--prefix" in sys.argv else ""
    asyncio.run(ensure_topics(bootstrap(), Topics(prefix)))
    log.info("topics ready on %s: %s", bootstrap(), ", ".join(Topics(prefix).layout()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

