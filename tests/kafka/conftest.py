"""Fixtures for tests against the real Kafka broker that `deploy/test.sh` starts (never a mock).

Each test gets topics of its own (a unique prefix) and its own consumer group, so tests never see each
other's records. Without CERTX_KAFKA the tests skip, unless CERTX_REQUIRE_KAFKA is set (the test command
sets it), in which case they fail.
"""
from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from certx.kafka.topics import Topics, ensure_topics
from tests.servers import Schema, address, schema_of_its_own
from certx.replay import Replay
from certx.wire.codec import encode
from certx.wire.routing import PARTITION

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="session")
def bootstrap() -> str:
    return address("CERTX_KAFKA", "CERTX_REQUIRE_KAFKA", "Kafka broker")


@pytest.fixture
def topics(bootstrap: str) -> Topics:
    t = Topics(prefix=f"t{uuid.uuid4().hex[:10]}.")
    asyncio.run(ensure_topics(bootstrap, t))
    return t


def expected_events(lines: list[bytes]) -> dict[int, list[bytes]]:
    """What an uninterrupted embedded replay publishes, per market partition, encoded."""
    out: dict[int, list[bytes]] = {p: [] for p in PARTITION.values()}
    for event in Replay().run(lines):
        out[PARTITION[event.market]].append(encode(event))
    return out


async def committed_events(bootstrap: str, topics: Topics, want: dict[int, int], timeout: float = 120.0,
                           settle: float = 1.0) -> dict[int, list[bytes]]:
    """Read `certx.events` with read_committed until each partition has `want[p]` records (or the timeout),
    then keep reading `settle` seconds more so that duplicates, if any, would show."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    got: dict[int, list[bytes]] = {p: [] for p in want}
    try:
        consumer.assign([TopicPartition(topics.events, p) for p in want])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout
        done_at = None
        while time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                got[tp.partition] += [r.value for r in records]
            if done_at is None and all(len(got[p]) >= n for p, n in want.items()):
                done_at = time.monotonic()
            if done_at is not None and time.monotonic() - done_at >= settle:
                break
    finally:
        await consumer.stop()
    return got


async def produce_raw(bootstrap: str, topic: str, records: list[tuple[int, bytes | None, bytes, int]]) -> None:
    """(partition, key, value, timestamp_ms) records, in order, as a broker's producer would send them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for partition, key, value, ts in records:
            await (await producer.send(topic, value, key=key, partition=partition, timestamp_ms=ts))
    finally:
        await producer.stop()


class MatcherProcess:
    """`certx serve matcher` in a process of its own, so a test can kill -9 it."""

    def __init__(self, bootstrap: str, topics: Topics, log: Path, group: str | None = None,
                 snapshot_every: int = 1_000) -> None:
        self.log = log
        args = [sys.executable, "-m", "certx.cli", "serve", "matcher", "--bootstrap", bootstrap,
                "--prefix", topics.prefix, "--group", group or f"{topics.prefix}matcher",
                "--snapshot-every", str(snapshot_every), "--session-timeout-ms", "2000"]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(args, stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env)

    def assigned(self) -> list[int] | None:
        """The partitions of the latest assignment in the log, or None if there has been none."""
        found = re.findall(r"matcher\.assigned\s+partitions=\[([\d, ]*)\]", self.log.read_text(errors="replace"))
        return None if not found else [int(x) for x in found[-1].split(",") if x.strip()]

    def wait_assigned(self, timeout: float = 60.0) -> list[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"matcher exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            parts = self.assigned()
            if parts is not None:
                return parts
            time.sleep(0.05)
        raise AssertionError(f"matcher got no partitions in {timeout}s:\n{self.log.read_text()[-3000:]}")

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


@pytest.fixture
def matchers(bootstrap, topics, tmp_path):
    """Start matchers with `matchers()`; every one is stopped at the end of the test."""
    started: list[MatcherProcess] = []

    def start(**kw) -> MatcherProcess:
        m = MatcherProcess(bootstrap, topics, tmp_path / f"matcher-{len(started)}.log", **kw)
        started.append(m)
        return m

    yield start
    for m in started:
        m.stop()


@pytest.fixture
def pg_schema() -> Schema:
    """A PostgreSQL schema of the test's own on the server the test command started; dropped afterwards."""
    with schema_of_its_own() as schema:
        yield schema


@pytest.fixture
def pg_dsn(pg_schema: Schema) -> str:
    """The projector's DSN for the test's schema."""
    return pg_schema.projector


class ProjectorProcess:
    """`certx serve projector` in a process of its own."""

    def __init__(self, bootstrap: str, topics: Topics, dsn: str, log: Path) -> None:
        self.log = log
        args = [sys.executable, "-m", "certx.cli", "serve", "projector", "--bootstrap", bootstrap,
                "--prefix", topics.prefix, "--db", dsn]
        self.proc = subprocess.Popen(args, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"))

    def wait_started(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"projector exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            if "projector.started" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.05)
        raise AssertionError(f"projector did not start:\n{self.log.read_text()[-3000:]}")

    kill9 = MatcherProcess.kill9
    stop = MatcherProcess.stop


@pytest.fixture
def projectors(bootstrap, topics, tmp_path):
    started: list[ProjectorProcess] = []

    def start(dsn: str) -> ProjectorProcess:
        p = ProjectorProcess(bootstrap, topics, dsn, tmp_path / f"projector-{len(started)}.log")
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()
