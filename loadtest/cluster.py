"""What the Kafka benchmarks share: the broker of deploy/kafka.sh (SASL/SCRAM, ACLs), a deployment of their own
for each run, certx's services as child processes logged in as their principals, writing records fast, and
watching consumer groups' committed offsets.

Every client logs in as one of the development principals (deploy/principals.dev) and does only what its role
may, as in production: the gateway principal writes `certx.commands`, the matcher principal `certx.events`, an
operator `certx.replay`, a broker its own `certx.in.<name>`. The admin principal (the broker's super user) only
sets up and tears down, reads committed offsets, and runs the raw pipe (which no role of certx describes).
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import collections
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Awaitable, Callable, Iterable

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CoordinatorNotAvailableError, GroupCoordinatorNotAvailableError

from certx import logs
from certx.kafka import access
from certx.kafka.connection import Connection
from certx.kafka.topics import Topics

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PRINCIPALS = access.read_principals()
PASSWORDS = {p.name: p.password for p in PRINCIPALS}


def bootstrap() -> str:
    return os.environ.get("CERTX_KAFKA") or f"127.0.0.1:{os.environ.get('CERTX_KAFKA_PORT', '9092')}"


def as_(name: str, bootstrap_servers: str) -> Connection:
    """A connection that logs in as that development principal."""
    return Connection(bootstrap_servers).as_user(name, PASSWORDS[name])


# --- a deployment of the run's own -----------------------------------------------------------------------

class Deployment:
    """A prefix of its own (topics, consumer groups, transactional ids), with the topics created and the ACLs
    granted for it, as tests/kafka/conftest.py does; torn down (ACLs revoked, topics deleted) at the end."""

    def __init__(self, bootstrap_servers: str, name: str) -> None:
        self.bootstrap = bootstrap_servers
        self.topics = Topics(prefix=f"bench{uuid.uuid4().hex[:8]}-{name}.")
        self.extra: list[str] = []          # topics of the benchmark's own under the prefix (the raw pipe's)

    def as_(self, name: str) -> Connection:
        return as_(name, self.bootstrap)

    async def __aenter__(self) -> "Deployment":
        # certx.kafka.access runs the set-up with asyncio.run: in a thread of its own, away from this loop
        await asyncio.to_thread(access.set_up, Connection(self.bootstrap), PRINCIPALS, self.topics)
        return self

    async def __aexit__(self, *exc) -> None:
        admin = self.as_("admin")
        try:
            await asyncio.to_thread(access.revoke, admin, PRINCIPALS, self.topics)
            names = list(self.topics.layout(access.senders(PRINCIPALS))) + self.extra
            client = AIOKafkaAdminClient(**admin.aiokafka())
            await client.start()
            try:
                await client.delete_topics(names, timeout_ms=60_000)
            finally:
                await client.close()
        except Exception as e:  # noqa: BLE001 - the figures matter more than the clean-up
            print(f"could not tear down {self.topics.prefix}: {e!r}", file=sys.stderr)

    async def create_topic(self, suffix: str) -> str:
        """A one-partition topic under the prefix for the benchmark itself (kept forever, like certx's)."""
        name = f"{self.topics.prefix}{suffix}"
        admin = self.as_("admin")
        client = AIOKafkaAdminClient(**admin.aiokafka())
        await client.start()
        try:
            await client.create_topics([NewTopic(name=name, num_partitions=1, replication_factor=1,
                                                 topic_configs={"retention.ms": "-1"})], timeout_ms=30_000)
        finally:
            await client.close()
        self.extra.append(name)
        await end_offsets(admin, [TopicPartition(name, 0)])      # its leader serves requests
        return name


# --- writing and reading ----------------------------------------------------------------------------------

async def preload(kafka: Connection, topic: str, partition: int, key: bytes | None,
                  chunks: Iterable[tuple[list[bytes], list[int] | None]]) -> float:
    """Write (values, timestamps) chunks to one partition in hand-built batches, the fastest way in, with an
    idempotent producer (in order, no duplicates); returns the seconds it took. A chunk's timestamps may be None
    (the producer's clock, or the broker's on a LogAppendTime topic)."""
    producer = AIOKafkaProducer(enable_idempotence=True, acks="all", linger_ms=5, max_batch_size=1024 * 1024,
                                max_request_size=8 * 1024 * 1024, **kafka.aiokafka())
    await producer.start()
    t0 = time.perf_counter()
    try:
        for values, stamps in chunks:
            futures = []
            builder = producer.create_batch()
            for i, value in enumerate(values):
                ts = stamps[i] if stamps else None
                if builder.append(key=key, value=value, timestamp=ts) is None:
                    futures.append(await producer.send_batch(builder, topic, partition=partition))
                    builder = producer.create_batch()
                    builder.append(key=key, value=value, timestamp=ts)
            if builder.record_count():
                futures.append(await producer.send_batch(builder, topic, partition=partition))
            await asyncio.wait_for(asyncio.gather(*futures), 300)
    finally:
        await producer.stop()
    return time.perf_counter() - t0


async def end_offsets(kafka: Connection, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **kafka.aiokafka())
    await consumer.start()
    try:
        return await asyncio.wait_for(consumer.end_offsets(tps), 60)
    finally:
        await consumer.stop()


async def last_data_offset(kafka: Connection, tp: TopicPartition) -> int:
    """The offset after the last committed record of a transactionally written partition (its end offset also
    counts the last commit marker, which a consumer's committed position may or may not have passed)."""
    consumer = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False, **kafka.aiokafka())
    await consumer.start()
    try:
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        back = 1
        while True:
            start = max(0, end - 16 * back)
            consumer.seek(tp, start)
            last = None
            while await consumer.position(tp) < end:
                for records in (await consumer.getmany(tp, timeout_ms=1000)).values():
                    if records:
                        last = records[-1].offset
            if last is not None or start == 0:
                return (last + 1) if last is not None else 0
            back *= 16
    finally:
        await consumer.stop()


async def read_kinds(kafka: Connection, tp: TopicPartition, timeout: float = 120) -> collections.Counter:
    """The committed records of one partition, counted by `type`."""
    consumer = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=8 * 1024 * 1024,
                                **kafka.aiokafka())
    await consumer.start()
    kinds: collections.Counter = collections.Counter()
    try:
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        deadline = time.monotonic() + timeout
        while await consumer.position(tp) < end and time.monotonic() < deadline:
            for records in (await consumer.getmany(tp, timeout_ms=500, max_records=50_000)).values():
                kinds.update(kind_of(r.value).type for r in records)
    finally:
        await consumer.stop()
    return kinds


class _Kind(msgspec.Struct):
    type: str = ""          # dead letters have none


kind_of = msgspec.json.Decoder(_Kind).decode


class Committed:
    """Polls a consumer group's committed offsets (as the admin)."""

    def __init__(self, kafka: Connection, group: str) -> None:
        self.admin = AIOKafkaAdminClient(**kafka.aiokafka())
        self.group = group

    async def __aenter__(self) -> "Committed":
        await self.admin.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.admin.close()

    async def offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        try:
            got = await asyncio.wait_for(self.admin.list_consumer_group_offsets(self.group, partitions=tps), 30)
        except (GroupCoordinatorNotAvailableError, CoordinatorNotAvailableError):
            return {tp: 0 for tp in tps}   # a fresh broker makes its offsets topic on the first group request
        return {tp: (got[tp].offset if tp in got and got[tp].offset >= 0 else 0) for tp in tps}


async def wait_committed(kafka: Connection, group: str, targets: dict[TopicPartition, int], timeout: float,
                         workers: tuple["Worker", ...] = (), every: float = 0.02, pids: tuple = ()) -> list[tuple]:
    """Poll until the group has committed `targets`; return (monotonic time, records committed in all, CPU
    seconds of each of `pids`...) at each change. Fails if a worker exits or nothing moves for `timeout`."""
    trace: list[tuple] = []
    tps = list(targets)
    async with Committed(kafka, group) as committed:
        moved = time.monotonic()
        last = -1
        while True:
            got = await committed.offsets(tps)
            now = time.monotonic()
            done = sum(got.values())
            if done != last:
                trace.append((now, done, *(cpu_seconds(p) for p in pids)))
                last, moved = done, now
            if all(got[tp] >= target for tp, target in targets.items()):
                return trace
            for w in workers:
                if w.proc.poll() is not None:
                    raise RuntimeError(f"{w.name} exited with {w.proc.returncode} at {got} of {targets}:\n"
                                       f"{w.tail()}")
            if now - moved > timeout:
                raise TimeoutError(f"{group} committed {got} of {targets}: no progress for {timeout:.0f}s")
            await asyncio.sleep(every)


# --- child processes ---------------------------------------------------------------------------------------

RUNNING: list["Worker"] = []      # stopped at exit whatever happens (atexit; SIGTERM becomes SystemExit)


class Worker:
    """A child process of a benchmark, logged in as a principal, stopped (TERM, then KILL) however the benchmark
    ends."""

    def __init__(self, name: str, argv: list[str], logdir: Path, kafka: Connection | None = None) -> None:
        RUNNING.append(self)
        self.name = name
        self.log = logdir / f"{name}.log"
        self.out = open(self.log, "ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        env.pop("CERTX_KAFKA_CONFIG", None)
        if kafka is not None:
            env.update(CERTX_KAFKA=kafka.bootstrap, CERTX_KAFKA_USER=kafka.username or "",
                       CERTX_KAFKA_PASSWORD=kafka.password or "")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=self.out, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL)

    def text(self) -> str:
        self.out.flush()
        return self.log.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def logged(self, event: str) -> bool:
        """Whether the service's log (JSON lines: certx.logs) has an entry of that event."""
        return logs.last(self.text(), event) is not None

    async def wait_for(self, event: str, timeout: float = 120.0, every: float = 0.01) -> float:
        """Wait until the log has an entry of `event`; returns the monotonic time it was seen (to `every`)."""
        deadline = time.monotonic() + timeout
        while not self.logged(event):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: no {event!r} after {timeout:.0f}s:\n{self.tail()}")
            await asyncio.sleep(every)
        return time.monotonic()

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._close()

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close()
        return self.proc.returncode

    def _close(self) -> None:
        if not self.out.closed:
            self.out.close()
        if self in RUNNING:
            RUNNING.remove(self)


def stop_all() -> None:
    for w in list(RUNNING):
        w.stop(timeout=10)


def run_bench(bench: Callable[[argparse.Namespace], Awaitable[dict]], args: argparse.Namespace) -> dict:
    """Run a benchmark whose child processes stop however it ends (atexit; SIGTERM becomes SystemExit), and
    write its figures to `args.out`."""
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = asyncio.run(bench(args))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return result


def shown(result: dict) -> str:
    """A benchmark's figures as its run ends them on the terminal: without the machine, cut to a screenful (the
    whole file is `args.out`)."""
    return json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2)[:6000]


def service(deployment: Deployment, name: str, logdir: Path, *extra: str, principal: str | None = None,
            log_name: str | None = None) -> Worker:
    """`certx serve <name>` as deployed, logged in as its principal (the service's own by default)."""
    kafka = deployment.as_(principal or name)
    argv = [PYTHON, "-m", "certx.cli", "serve", name, "--prefix", deployment.topics.prefix, *extra]
    return Worker(log_name or name, argv, logdir, kafka)


# --- the machine ---------------------------------------------------------------------------------------------

def cpu_seconds(pid: int | None) -> float:
    """user + system CPU time so far of a process and its living descendants (0 if unknown), to the clock tick
    (10 ms): `certx serve` is a supervisor whose child does the work."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0
    return own + sum(cpu_seconds(child) for child in children(pid))


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except (OSError, ValueError):
        pass
    return found


def vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def broker_pid() -> int | None:
    """The broker deploy/kafka.sh started (for its CPU share), if any."""
    state = Path(os.environ.get("CERTX_KAFKA_STATE") or ROOT / ".cache" / "kafka" / "run")
    try:
        return int((state / "kafka.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def broker_gc() -> dict | None:
    """The broker's collections so far, from the JDK's `jstat -gc` (young, full, concurrent: counts and seconds),
    or None without jstat or a broker. A latency run's difference of two says how much of its tail the broker's
    pauses could be: a broker that has served many runs' transactional ids and topics was seen in full
    collections of 170-420 ms, a fresh one in young pauses of 5-30 ms."""
    pid = broker_pid()
    if pid is None:
        return None
    try:
        out = subprocess.run(["jstat", "-gc", str(pid)], capture_output=True, text=True, timeout=10).stdout
        head, row = out.split("\n")[:2]
        values = dict(zip(head.split(), row.split()))
        # a collector without young or full collections (ZGC) shows "-" there
        return {k: float(values.get(k, "-").replace("-", "0")) for k in ("YGC", "YGCT", "FGC", "FGCT", "CGC", "CGCT")}
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def gc_between(before: dict | None, after: dict | None) -> dict | None:
    """The broker's collections between two `broker_gc` readings: counts and milliseconds."""
    if not before or not after:
        return None
    return {"young": int(after["YGC"] - before["YGC"]), "young_ms": round((after["YGCT"] - before["YGCT"]) * 1000, 1),
            "full": int(after["FGC"] - before["FGC"]), "full_ms": round((after["FGCT"] - before["FGCT"]) * 1000, 1),
            "concurrent": int(after["CGC"] - before["CGC"]),    # their pauses (G1's remark, ZGC's): concurrent_ms
            "concurrent_ms": round((after["CGCT"] - before["CGCT"]) * 1000, 1)}


def machine() -> dict:
    import aiokafka

    info: dict = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                  "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  "aiokafka": aiokafka.__version__, "msgspec": msgspec.__version__,
                  "kafka": "4.1.1 (deploy/kafka.sh: single KRaft node, SASL/SCRAM and ACLs, same machine)"}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
        info["memory_gb"] = round(int(mem[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        info["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                     text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def spread(xs: list[float]) -> dict | None:
    """Median, lowest and highest of a few runs (the host is shared: single figures vary)."""
    if not xs:
        return None
    return {"median": round(median(xs), 3), "min": round(min(xs), 3), "max": round(max(xs), 3), "runs": len(xs)}


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]
