"""certx's topics, consumer groups and transactional ids, and their idempotent set-up.

The broker runs with `auto.create.topics.enable=false`, so topics come from here only (run by
`python -m certx.kafka.access`, which also grants the rights). Existing topics are left alone (a partition-count
mismatch is reported, never changed).
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError, for_code

from certx.kafka.connection import Connection
from certx.wire.routing import PARTITION

log = structlog.get_logger("certx.topics")

SNAPSHOT_MAX_BYTES = 8 * 1024 * 1024     # per record: a larger snapshot is written in chunks
REPLICATION_FACTOR = 1
ANY_AGE = str(2 ** 63 - 1)                # a record timestamp of any age, past or future (Kafka's Long.MAX_VALUE)


@dataclass(frozen=True)
class Topics:
    """The names of one deployment. A prefix gives a test (or a second deployment) topics, groups and
    transactional ids of its own."""

    prefix: str = ""

    def _topic(self, name: str) -> str:
        return f"{self.prefix}certx.{name}"

    @property
    def commands(self) -> str:
        return self._topic("commands")

    @property
    def events(self) -> str:
        return self._topic("events")

    @property
    def settlements(self) -> str:
        return self._topic("settlements")

    @property
    def dlq(self) -> str:
        return self._topic("dlq")

    @property
    def snapshots(self) -> str:
        return self._topic("snapshots")

    @property
    def marketdata(self) -> str:
        """Quotes (certx.marketdata): the matcher's, in the same transactions as the events they reflect."""
        return self._topic("marketdata")

    @property
    def replay(self) -> str:
        """The operator's replay path: recorded commands that keep their actors and times (PROTOCOL)."""
        return self._topic("replay")

    def inbound(self, principal: str) -> str:
        """A sender's own inbound topic, which only it may write."""
        return self._topic(f"in.{principal}")

    def sender_of(self, topic: str) -> str | None:
        """The principal an inbound topic belongs to; None for the replay topic."""
        head = self.inbound("")
        return topic[len(head):] if topic.startswith(head) else None

    def group(self, service: str) -> str:
        return f"{self.prefix}certx-{service}"

    def transactional_id(self, service: str, suffix: str) -> str:
        return f"{self.prefix}certx-{service}-{suffix}"

    def layout(self, senders: list[str]) -> dict[str, tuple[int, dict[str, str]]]:
        """name -> (partitions, topic configs). One partition per market on the market topics (DESIGN 4);
        the gateway picks the partition from the market (certx.wire.routing.PARTITION)."""
        markets = len(PARTITION)
        # The log is the truth (DESIGN 2): nothing is ever deleted by age. Time retention would also go by
        # record timestamps, which are command times (DOMAIN U3), so a replayed past trade day would be
        # deleted as soon as it was written.
        kept = {"retention.ms": "-1", "retention.bytes": "-1"}
        # An inbound record's time is the broker's, whatever the sender's clock says: the gateway stamps it.
        received = {**kept, "message.timestamp.type": "LogAppendTime"}
        # The command log's record timestamps are the gateway's (U3), and the events', quotes' and settlements'
        # are their commands': said here, not left to the broker's defaults. A default of LogAppendTime would date a
        # replayed day today; a default limit on a record's age (log.message.timestamp.before.max.ms) would refuse
        # the gateway's and the matcher's transactions for a recorded day on every restart, stopping every market.
        stamped = {**kept, "message.timestamp.type": "CreateTime",
                   "message.timestamp.before.max.ms": ANY_AGE, "message.timestamp.after.max.ms": ANY_AGE}
        layout = {
            self.commands: (markets, stamped),
            self.events: (markets, stamped),
            self.settlements: (markets, stamped),
            # kept like the events it is derived from: a reader may start from any day, and a replay compares it
            self.marketdata: (markets, stamped),
            self.dlq: (1, kept),
            self.replay: (1, kept),
            # one snapshot per matcher partition, compacted to the latest (chunks keyed by partition and index)
            self.snapshots: (markets, {"cleanup.policy": "compact", "max.message.bytes": str(SNAPSHOT_MAX_BYTES)}),
        }
        layout.update({self.inbound(s): (1, received) for s in senders})
        return layout


async def send_batched(producer: AIOKafkaProducer, topic: str, partition: int, key: bytes | None,
                       values: list[bytes], stamps: list[int] | None = None) -> list[asyncio.Future]:
    """Send records in batches built by hand: far cheaper per record than `producer.send`. `stamps`, if
    given, are the records' timestamps. Returns the delivery futures: a transaction must await them all
    before it commits, so that a failed send aborts it."""
    sent = []
    builder = producer.create_batch()
    for i, value in enumerate(values):
        timestamp = stamps[i] if stamps else None
        if builder.append(key=key, value=value, timestamp=timestamp) is None:
            sent.append(await producer.send_batch(builder, topic, partition=partition))
            builder = producer.create_batch()
            if builder.append(key=key, value=value, timestamp=timestamp) is None:
                raise ValueError(f"a record of {len(value):,} bytes does not fit a batch for {topic}")
    if builder.record_count():
        sent.append(await producer.send_batch(builder, topic, partition=partition))
    return sent


async def _start_admin(kafka: Connection, timeout_s: float) -> AIOKafkaAdminClient:
    deadline = time.monotonic() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(request_timeout_ms=30000, **kafka.aiokafka())
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


async def _wait_for_partitions_ready(kafka: Connection, layout: dict, topics: list[str], timeout_s: float) -> None:
    """Wait until the leaders serve requests for the given topics.

    The metadata shows a leader slightly before the broker's replica manager has created the partition, so a
    produce right after creation can get NOT_LEADER_OR_FOLLOWER (clients retry, but it is noise). ListOffsets
    goes to the partition leader and is retried by aiokafka until the partition is live.
    """
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kafka.aiokafka())
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(layout[t][0])]
        await asyncio.wait_for(consumer.end_offsets(tps), timeout_s)
    finally:
        await consumer.stop()


async def ensure_topics(kafka: Connection, topics: Topics, senders: list[str]) -> None:
    """Create the certx topics that are missing and align the configs of those that exist (as a principal allowed
    to: the admin). Safe to repeat."""
    layout = topics.layout(senders)
    admin = await _start_admin(kafka, timeout_s=30.0)
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name=name, num_partitions=parts, replication_factor=REPLICATION_FACTOR,
                            topic_configs=dict(configs))
                   for name, (parts, configs) in layout.items() if name not in existing]
        if missing:
            resp = await admin.create_topics(missing, timeout_ms=30000)
            for err in resp.topic_errors:
                name, code = err[0], err[1]
                exc = for_code(code)
                if code == 0 or exc is TopicAlreadyExistsError:
                    continue
                message = err[2] if len(err) > 2 else None
                raise exc(f"creating topic {name}: {message or exc.__name__}")
        counts = await _wait_for_leaders(admin, layout, timeout_s=30.0)
        for name, (parts, _) in layout.items():
            if counts.get(name) != parts:
                log.warning("topics.partitions_differ", topic=name, have=counts.get(name), want=parts)
    finally:
        await admin.close()
    if missing:
        await _wait_for_partitions_ready(kafka, layout, [t.name for t in missing], timeout_s=30.0)
    kept = [name for name in layout if name in existing and layout[name][1]]
    for change in await asyncio.to_thread(align, kafka, layout, kept):
        log.warning("topics.aligned", change=change)


def align(kafka: Connection, layout: dict, names: list[str]) -> list[str]:
    """Topics that exist take the configs certx sets on them: a topic created by an earlier release, or by hand,
    keeps its own otherwise, and an upgrade that changes how a topic must be kept (its timestamps, its retention)
    would reach new deployments only. Only certx's keys are set; a topic's other configs stay as they are.
    Returns `topic key=value` for each one changed. (confluent-kafka's admin client: aiokafka's can only replace
    a topic's whole config set.)"""
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

    if not names:
        return []
    admin = AdminClient(kafka.librdkafka())
    described = {r.name: f.result(timeout=30)
                 for r, f in admin.describe_configs([ConfigResource("topic", n) for n in names]).items()}
    changes, resources = [], []
    for name in names:
        have = described[name]
        differ = {k: v for k, v in layout[name][1].items() if k not in have or have[k].value != v}
        if differ:
            resources.append(ConfigResource("topic", name, incremental_configs=[
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in sorted(differ.items())]))
            changes += [f"{name} {k}={v}" for k, v in sorted(differ.items())]
    for future in admin.incremental_alter_configs(resources).values() if resources else ():
        future.result(timeout=30)
    return changes


async def describe(kafka: Connection, topics: Topics, senders: list[str]) -> list[dict]:
    """Each topic of the deployment: the partitions it should have and has (None: not there, or not visible to
    this principal), its records (the sum of its partitions' end offsets) and the configs it is created with."""
    layout = topics.layout(senders)
    admin = await _start_admin(kafka, timeout_s=5.0)
    reader = AIOKafkaConsumer(enable_auto_commit=False, **kafka.aiokafka())
    await reader.start()
    rows = []
    try:
        have = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(list(layout))
                if t["error_code"] == 0}
        for name, (parts, configs) in layout.items():
            tps = [TopicPartition(name, p) for p in range(have.get(name, 0))]
            ends = await reader.end_offsets(tps) if tps else {}
            rows.append({"topic": name, "partitions": have.get(name), "want": parts,
                         "records": sum(ends.values()) if name in have else None,
                         "configs": " ".join(f"{k}={v}" for k, v in sorted(configs.items()))})
    finally:
        await reader.stop()
        await admin.close()
    return rows
