"""Fixtures for tests against the real Kafka broker that `deploy/test.sh` starts (never a mock), with SASL/SCRAM
authentication and ACLs: every client in a test logs in as one of the development principals
(deploy/principals.dev) and can do exactly what its role may.

Each test gets a deployment of its own: a unique prefix for its topics, consumer groups and transactional ids,
with the topics created and the ACLs granted for that prefix (and revoked, the topics deleted, at the end), so
tests never see each other's records. Without CERTX_KAFKA the tests skip, unless CERTX_REQUIRE_KAFKA is set
(the test command sets it), in which case they fail.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from certx import logs
from certx.kafka import access
from certx.kafka.connection import Connection
from certx.kafka.submit import submit
from certx.kafka.topics import Topics
from certx.replay import Replay
from certx.wire.codec import encode
from certx.wire.routing import PARTITION
from tests.servers import Schema, address, schema_of_its_own

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="session")
def broker() -> Connection:
    """The broker's address, as nobody in particular."""
    return Connection(bootstrap=address("CERTX_KAFKA", "CERTX_REQUIRE_KAFKA", "Kafka broker"))


@pytest.fixture(scope="session")
def principals() -> list[access.Principal]:
    return access.read_principals()


@pytest.fixture(scope="session")
def as_(broker, principals) -> Callable[[str], Connection]:
    """`as_("B1")`: a connection that logs in as that development principal."""
    passwords = {p.name: p.password for p in principals}

    def connect(name: str) -> Connection:
        return broker.as_user(name, passwords[name])
    return connect


@pytest.fixture
def topics(broker, principals, as_) -> Topics:
    t = Topics(prefix=f"t{uuid.uuid4().hex[:10]}.")
    access.set_up(broker, principals, t)
    yield t
    admin = as_("admin")
    access.revoke(admin, principals, t)
    asyncio.run(delete_topics(admin, list(t.layout(access.senders(principals)))))


async def delete_topics(admin: Connection, names: list[str]) -> None:
    client = AIOKafkaAdminClient(**admin.aiokafka())
    await client.start()
    try:
        await client.delete_topics(names)
    finally:
        await client.close()


def expected_events(lines: list[bytes]) -> dict[int, list[bytes]]:
    """What an uninterrupted embedded replay publishes, per market partition, encoded."""
    out: dict[int, list[bytes]] = {p: [] for p in PARTITION.values()}
    for event in Replay().run(lines):
        out[PARTITION[event.market]].append(encode(event))
    return out


def counts(expected: dict[int, list[bytes]]) -> dict[int, int]:
    return {p: len(v) for p, v in expected.items()}


def replay(kafka: Connection, topics: Topics, lines: list[bytes]) -> None:
    """Recorded commands through the operator's replay path (they keep their actors and times)."""
    asyncio.run(submit(lines, kafka, topics, replay=True))


async def read_topic(kafka: Connection, topic: str, partitions: list[int], want: int | None = None,
                     timeout: float = 60.0, settle: float = 1.0,
                     isolation: str = "read_committed") -> dict[int, list]:
    """The committed records of `topic` (read_committed; read_uncommitted: every record written, aborted ones
    too), until `want` in all (or the timeout), then `settle` seconds more so that duplicates, if any, would
    show."""
    consumer = AIOKafkaConsumer(isolation_level=isolation, enable_auto_commit=False,
                                auto_offset_reset="earliest", **kafka.aiokafka())
    await consumer.start()
    got: dict[int, list] = {p: [] for p in partitions}
    try:
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout
        done_at = None
        while time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=300)).items():
                got[tp.partition] += records
            if done_at is None and want is not None and sum(map(len, got.values())) >= want:
                done_at = time.monotonic()
            if done_at is not None and time.monotonic() - done_at >= settle:
                break
    finally:
        await consumer.stop()
    return got


async def committed_events(kafka: Connection, topics: Topics, want: dict[int, int], timeout: float = 120.0,
                           settle: float = 1.0) -> dict[int, list[bytes]]:
    """`certx.events` as committed, per partition, until each has `want[p]` records (or the timeout)."""
    got = await read_topic(kafka, topics.events, list(want), sum(want.values()), timeout, settle)
    return {p: [r.value for r in records] for p, records in got.items()}


def feeding(kafka: Connection, topic: str, records: list, chunk: int, pause: float,
            until: threading.Event | None = None) -> threading.Thread:
    """A thread that writes `records` (as `produce_raw` takes them) to `topic`, `chunk` at a time, `pause` seconds
    apart, as a matcher would while a test kills or restarts what reads them: already started. With `until`, it
    stops one chunk after that is set, so that it feeds for as long as the test's restarts take, however slow the
    host; `thread.sent` is how many records went, from the first."""
    async def paced() -> None:
        for i in range(0, len(records), chunk):
            last = until is not None and until.is_set()
            await produce_raw(kafka, topic, records[i:i + chunk])
            thread.sent = min(i + chunk, len(records))
            if last:
                return
            await asyncio.sleep(pause)

    thread = threading.Thread(target=lambda: asyncio.run(paced()))
    thread.sent = 0
    thread.start()
    return thread


async def produce_raw(kafka: Connection, topic: str, records: list[tuple[int, bytes | None, bytes, int]]) -> None:
    """(partition, key, value, timestamp_ms) records, in order, as a plain producer would send them."""
    producer = AIOKafkaProducer(enable_idempotence=True, acks="all", **kafka.aiokafka())
    await producer.start()
    try:
        for partition, key, value, ts in records:
            await (await producer.send(topic, value, key=key, partition=partition, timestamp_ms=ts))
    finally:
        await producer.stop()


async def produce_values(kafka: Connection, topic: str, values: list[bytes]) -> None:
    """Values as they are (empty ones too), in order, to partition 0 of `topic`: many in flight at once."""
    producer = AIOKafkaProducer(enable_idempotence=True, acks="all", linger_ms=5, max_batch_size=256 * 1024,
                                **kafka.aiokafka())
    await producer.start()
    try:
        pending = [await producer.send(topic, value, partition=0) for value in values]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


class ServiceProcess:
    """`certx serve <service>` in a process of its own, logged in as its principal, so a test can kill -9 it."""

    ready_event = {"gateway": "gateway.started", "projector": "projector.started"}

    def __init__(self, service: str, kafka: Connection, topics: Topics, log: Path, *extra: str) -> None:
        self.service, self.log = service, log
        args = [sys.executable, "-m", "certx.cli", "serve", service, "--bootstrap", kafka.bootstrap,
                "--prefix", topics.prefix, *extra]
        env = dict(os.environ, PYTHONUNBUFFERED="1", CERTX_KAFKA_USER=kafka.username,
                   CERTX_KAFKA_PASSWORD=kafka.password)
        env.pop("CERTX_KAFKA_CONFIG", None)
        self.proc = subprocess.Popen(args, stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def last(self, event: str) -> dict | None:
        """The service's latest log entry of that event (its log is JSON lines: certx.logs)."""
        return logs.last(self.text(), event)

    def assigned(self) -> list[int] | None:
        """The matcher's partitions at its latest assignment, or None if there has been none."""
        entry = self.last("matcher.assigned")
        return None if entry is None else entry["partitions"]

    def http_port(self, timeout: float = 60.0) -> int:
        """The port its health and metrics are served on (started with --metrics-port 0: any free port)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = self.last("service.http")
            if entry is not None:
                return entry["port"]
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.service} exited {self.proc.returncode}:\n{self.text()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"{self.service} serves no HTTP:\n{self.text()[-3000:]}")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.service} exited {self.proc.returncode}:\n{self.text()[-3000:]}")
            if (self.assigned() is not None if self.service == "matcher"
                    else self.last(self.ready_event[self.service]) is not None
                    or self.service == "projector" and self.last("projector.standby") is not None):
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.service} not ready in {timeout}s:\n{self.text()[-3000:]}")

    def wait_assigned(self, timeout: float = 60.0) -> list[int]:
        self.wait_ready(timeout)
        return self.assigned()

    wait_started = wait_ready

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode



def through_a_restore(operator: Connection, topics: Topics, matchers, before: list[bytes],
                      after: list[bytes]) -> dict[int, list[bytes]]:
    """`before` through a matcher that is then killed (-9), `after` through a new one that must have restored the
    GEC market from a snapshot; checks that the committed events equal, byte for byte, those of one uninterrupted
    embedded replay, and returns them, per partition."""
    first = matchers(snapshot_every=2)
    first.wait_assigned()
    replay(operator, topics, before)
    asyncio.run(committed_events(operator, topics, counts(expected_events(before))))
    first.kill9()
    second = matchers(snapshot_every=2)
    second.wait_assigned()
    restored = []
    for text in second.text().splitlines():
        try:
            record = msgspec.json.decode(text)
        except msgspec.DecodeError:
            continue
        if isinstance(record, dict) and record.get("event") == "matcher.restored" and record.get("partition") == 2:
            restored.append(record)
    assert restored and restored[-1]["snapshot_position"] > 0, "the GEC market was not restored from a snapshot"
    replay(operator, topics, after)
    want = expected_events(before + after)
    got = asyncio.run(committed_events(operator, topics, counts(want)))
    for p in want:
        assert got[p] == want[p], f"partition {p}: events differ from certx replay"
    return got


@pytest.fixture
def services(as_, topics, tmp_path):
    """Start services with `services("matcher", ...)`; every one is stopped at the end of the test."""
    started: list[ServiceProcess] = []

    def start(service: str, *extra: str, principal: str | None = None) -> ServiceProcess:
        p = ServiceProcess(service, as_(principal or service), topics,
                           tmp_path / f"{service}-{len(started)}.log", *extra)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


@pytest.fixture
def gateway(services):
    """The gateway, started and ready: every command reaches certx.commands through it."""
    g = services("gateway")
    g.wait_ready()
    return g


@pytest.fixture
def matchers(services):
    """Start matchers with `matchers(snapshot_every=..., rules=FILE)`."""
    def start(snapshot_every: int = 1_000, rules: Path | None = None) -> ServiceProcess:
        extra = ("--rules", str(rules)) if rules else ()
        return services("matcher", "--snapshot-every", str(snapshot_every), "--session-timeout-ms", "2000", *extra)
    return start


@pytest.fixture
def all_day_rules(tmp_path) -> Path:
    """DOMAIN's rules, but every market's sessions last the whole day: a test on the exchange's own clock
    (whatever the time of day it runs at) can trade."""
    import msgspec

    from certx.rules import DEFAULT

    whole = ((0, 24 * 60),)
    rules = msgspec.structs.replace(DEFAULT, **{
        m: msgspec.structs.replace(getattr(DEFAULT, m), listing_sessions=whole, block_sessions=whole)
        for m in ("cea", "ccer", "gec")})
    path = tmp_path / "rules.json"
    path.write_bytes(msgspec.json.encode(rules))
    return path


@pytest.fixture
def pg_schema() -> Schema:
    """A PostgreSQL schema of the test's own on the server the test command started; dropped afterwards."""
    with schema_of_its_own() as schema:
        yield schema


@pytest.fixture
def pg_dsn(pg_schema: Schema) -> str:
    """The projector's DSN for the test's schema."""
    return pg_schema.projector


@pytest.fixture
def projectors(services):
    def start(dsn: str) -> ServiceProcess:
        return services("projector", "--db", dsn)
    return start
