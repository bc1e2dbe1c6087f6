"""Benchmark of the matcher on the real Kafka broker (issue 2, the Kafka figures).

    python -m loadtest.kafka_bench [--commands 300000] [--latency-seconds 30] [--out loadtest/results/kafka.json]

Every run uses topics of its own (`bench<uuid>.certx.*`), its own consumer groups and transactional ids, and
deletes its topics at the end (unless --keep-topics). The matcher and the raw pipe each run in a process of
their own, started and stopped here.

1. Throughput, one partition (CEA), transactions on: the set-up commands and N CEA listing commands
   (loadtest.engine_bench.listing_flow: limit orders near the mid, ~10% crossing, 25% cancels) are pre-loaded
   as wire JSON into `certx.commands` partition 0, stamped with the current time (the broker's 7-day
   retention would delete older records mid-run) under all-day sessions, then `certx serve matcher` is
   started. Figure: commands per second from the first transaction commit to the group's committed offset
   reaching the end, polled with the admin client every 20 ms. Events per second = that times the
   events-per-command of the run (the events are read back, read_committed, and compared by type with an
   embedded run of the same records through certx.kafka.batch.run, whose rate is reported too: the
   matcher's CPU ceiling without Kafka). The host may be shared, so each run also gives its worker's CPU
   share and its rate per CPU-second of the worker.
2. The floor: a raw aiokafka consume -> produce pipe (this module, `--raw-pipe`), with the matcher's consumer
   and producer settings, getmany(max_records=10000), one transaction per fetched batch (create_batch /
   send_batch, send_offsets_to_transaction), copying each record to an output topic, on the same
   pre-loaded topic; measured the same way. Ratio = matcher / raw.
   1 and 2 run --rounds times (fresh topics each round); the figures are the medians, every round is kept.
3. Latency at a fixed offered load: the matcher runs with all-day sessions (a rules file) and a session
   opened for today (China time); a producer sends listing commands paced at --rate per second with record
   timestamp = the wall clock (ms); a read_committed consumer takes, per event record, (wall clock when
   getmany returns it) - (record timestamp, which the matcher copies from the command). A run that crosses
   midnight China time gets market_closed rejections after it (still events, still timed).

--profile runs the matcher instrumented instead of `certx serve matcher` (the same certx.kafka.matcher.Matcher,
without the FastStream shell, with wall-clock timers per stage and per broker request, retries and their
errors, slow batches, and for the latency run the split of each event's latency by the matcher's batch
timeline); --cprofile adds cProfile. --retry-backoff-ms N is an experiment with the matcher's producers.
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import collections
import datetime as dt
import gc
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CoordinatorNotAvailableError, GroupCoordinatorNotAvailableError

from certx.engine import Engine
from certx.kafka import batch
from certx.kafka.topics import Topics, bootstrap, ensure_topics
from certx.rules import DEFAULT, Rules
from certx.wire import commands as c
from certx.wire.codec import encode
from loadtest.engine_bench import ACCOUNTS, listing_flow

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CST = dt.timezone(dt.timedelta(hours=8))
TARGETS = {"commands_per_s": 50_000, "matcher_over_raw": 0.60, "p99_ms": 50.0}


# --- commands ------------------------------------------------------------------------------------

def setup_commands(day: dt.date) -> list[c.Command]:
    """What the CEA engine needs before trading: a product with a reference price, funded accounts holding
    allowances, an open session (as loadtest.engine_bench._setup, but as commands for the wire)."""
    cmds: list[c.Command] = [c.ProductList(id="p", actor="operator", market="CEA", product="CEA21",
                                           reference_price=c.Amount(5000))]
    for i in range(ACCOUNTS):
        a = f"A{i}"
        cmds.append(c.AccountOpen(id=f"o{a}", actor="registry", account=a, broker=f"B{i % 10}"))
        cmds.append(c.FundsDeposit(id=f"d{a}", actor="bank", account=a, market="CEA", amount=c.Amount(10**15)))
        cmds.append(c.IssueCea(id=f"i{a}", actor="registry", account=a, product="CEA21", quantity=10**12))
    cmds.append(c.SessionOpen(id="s", actor="operator", market="CEA", date=day))
    return cmds


def recent_stamp_base(records: int) -> tuple[int, dt.date]:
    """A first record timestamp (now, in epoch ms) for `records` records 100 to a millisecond, and the China
    date they all fall on (if now is just before midnight there, the next day's first second)."""
    base = time.time_ns() // 1_000_000
    day = dt.datetime.fromtimestamp(base / 1000, CST).date()
    if dt.datetime.fromtimestamp((base + records // 100) / 1000, CST).date() != day:
        day += dt.timedelta(days=1)
        base = int(dt.datetime.combine(day, dt.time(0, 0, 1), CST).timestamp() * 1000)
    return base, day


def all_day_rules() -> Rules:
    """DOMAIN's rules with the CEA listing and block sessions over the whole day, so that commands stamped
    with the wall clock are accepted at any hour."""
    day = ((0, 1440),)
    return msgspec.structs.replace(DEFAULT, cea=msgspec.structs.replace(DEFAULT.cea, listing_sessions=day,
                                                                        block_sessions=day))


def write_rules(path: Path) -> Path:
    path.write_bytes(msgspec.json.encode(all_day_rules()))
    decoded = msgspec.json.decode(path.read_bytes(), type=Rules)          # as certx.cli.load_rules does
    assert decoded == all_day_rules(), "rules file does not round-trip"
    return path


class _Kind(msgspec.Struct):
    type: str


_kind = msgspec.json.Decoder(_Kind)


def expected_run(values: list[bytes], stamps: list[int], rules: Rules) -> tuple[dict[str, int], float, float]:
    """The events an uninterrupted matcher must publish for these records (by type), from the engine in
    process through certx.kafka.batch.run (decode, apply, encode) in 10,000-record batches, and that path's
    rate per wall second and per CPU second (garbage collector off): the matcher's ceiling, no Kafka at all."""
    Rec = collections.namedtuple("Rec", "partition offset timestamp key value")
    records = [Rec(0, i, ts, b"CEA", v) for i, (v, ts) in enumerate(zip(values, stamps))]
    engine = Engine("CEA", rules)
    kinds: collections.Counter = collections.Counter()
    gc.collect()
    gc.disable()            # as engine_bench: this process holds every record, so collections cost more here
    t0, c0 = time.perf_counter(), time.process_time()
    outs = [batch.run(engine, records[i:i + 10_000], "commands") for i in range(0, len(records), 10_000)]
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    gc.enable()
    for out in outs:
        assert not out.dead, "a pre-loaded command did not decode"
        kinds.update(_kind.decode(v).type for v in out.events)
    return dict(kinds), len(records) / elapsed, len(records) / cpu


def split_batch_run(values: list[bytes], stamps: list[int], rules: Rules) -> dict:
    """batch.run's three parts timed apart on the same records, in CPU µs per command: JSON decode of the
    command, Engine.apply, JSON encode of its events."""
    from certx.wire.codec import decode_command
    gc.collect()
    gc.disable()
    t0 = time.process_time()
    cmds = [decode_command(v) for v in values]
    t1 = time.process_time()
    engine = Engine("CEA", rules)
    apply = engine.apply
    produced = [apply(cmd, ts, i) for i, (cmd, ts) in enumerate(zip(cmds, stamps))]
    t2 = time.process_time()
    for events in produced:
        for ev in events:
            encode(ev)
    t3 = time.process_time()
    gc.enable()
    n = len(values)
    return {"decode_us": round((t1 - t0) / n * 1e6, 2), "engine_apply_us": round((t2 - t1) / n * 1e6, 2),
            "encode_events_us": round((t3 - t2) / n * 1e6, 2)}


# --- Kafka helpers -------------------------------------------------------------------------------

async def preload(bs: str, topic: str, values: list[bytes], stamps: list[int]) -> None:
    await asyncio.wait_for(_preload(bs, topic, values, stamps), timeout=300)


async def _preload(bs: str, topic: str, values: list[bytes], stamps: list[int]) -> None:
    """Write the records to partition 0 (key CEA) in hand-built batches: the fastest way in."""
    producer = AIOKafkaProducer(bootstrap_servers=bs, enable_idempotence=True, acks="all", linger_ms=5,
                                max_batch_size=1024 * 1024, max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        futures = []
        builder = producer.create_batch()
        for value, ts in zip(values, stamps):
            if builder.append(key=b"CEA", value=value, timestamp=ts) is None:
                futures.append(await producer.send_batch(builder, topic, partition=0))
                builder = producer.create_batch()
                builder.append(key=b"CEA", value=value, timestamp=ts)
        if builder.record_count():
            futures.append(await producer.send_batch(builder, topic, partition=0))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def create_topic(bs: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bs)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=1, replication_factor=1)], timeout_ms=30_000)
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bs)          # wait until its leader serves requests
    await consumer.start()
    try:
        await asyncio.wait_for(consumer.end_offsets([TopicPartition(name, 0)]), 30)
    finally:
        await consumer.stop()


async def delete_topics(bs: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bs)
    await admin.start()
    try:
        await admin.delete_topics(names, timeout_ms=30_000)
    finally:
        await admin.close()


class Committed:
    """Polls a group's committed offset on one partition."""

    def __init__(self, bs: str, group: str, tp: TopicPartition) -> None:
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bs)
        self.group, self.tp = group, tp

    async def __aenter__(self) -> "Committed":
        await self.admin.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.admin.close()

    async def offset(self) -> int:
        try:
            got = await asyncio.wait_for(self.admin.list_consumer_group_offsets(self.group, partitions=[self.tp]), 30)
        except (GroupCoordinatorNotAvailableError, CoordinatorNotAvailableError):
            return 0   # a fresh broker creates its offsets topic on the first group request: not yet
        meta = got.get(self.tp)
        return meta.offset if meta is not None and meta.offset >= 0 else 0

    async def wait_for(self, target: int, timeout: float, proc: subprocess.Popen | None = None,
                       every: float = 0.02, pids: tuple = (), trace: list | None = None) -> list[tuple]:
        """Poll until the committed offset reaches `target`; return (monotonic time, offset, CPU seconds of
        each of `pids`...) at each change (appended to `trace` if given)."""
        trace = [] if trace is None else trace
        deadline = time.monotonic() + timeout
        last = -1
        while True:
            off = await self.offset()
            now = time.monotonic()
            if off != last:
                trace.append((now, off, *(cpu_seconds(p) for p in pids)))
                last = off
            if off >= target:
                return trace
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode} at committed offset {off} of {target}")
            if now > deadline:
                raise TimeoutError(f"committed offset {off} of {target} after {timeout:.0f}s")
            await asyncio.sleep(every)


class RoundFailed(Exception):
    """A throughput round that did not finish; its details go to the results."""


def cpu_seconds(pid: int | None) -> float:
    """user + system CPU time of a process so far (0 if unknown)."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def broker_pid() -> int | None:
    """The broker deploy/kafka.sh started (for its CPU share), if any."""
    try:
        return int((ROOT / ".cache" / "kafka" / "run" / "kafka.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def rate_from(trace: list[tuple[float, int]]) -> dict:
    """From the first commit (first non-zero committed offset) to the last: records / seconds."""
    first = next(x for x in trace if x[1] > 0)
    t_end, o_end = trace[-1][:2]
    seconds = t_end - first[0]
    done = o_end - first[1]
    return {"records_measured": done, "seconds": round(seconds, 3),
            "records_per_s": round(done / seconds) if seconds > 0 else None,
            "first_commit_offset": first[1], "commits_seen": len(trace) - 1}


async def read_events(bs: str, topic: str, want: int, timeout: float) -> collections.Counter:
    consumer = AIOKafkaConsumer(bootstrap_servers=bs, isolation_level="read_committed", enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    kinds: collections.Counter = collections.Counter()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        deadline = time.monotonic() + timeout
        n = 0
        while await consumer.position(tp) < end and time.monotonic() < deadline:
            for records in (await consumer.getmany(tp, timeout_ms=500, max_records=50_000)).values():
                for r in records:
                    kinds[_kind.decode(r.value).type] += 1
                n += len(records)
        if n < want:
            kinds["<missing>"] = want - n
    finally:
        await consumer.stop()
    return kinds


# --- subprocesses --------------------------------------------------------------------------------

RUNNING: list["Worker"] = []      # stopped at exit whatever happens (atexit; SIGTERM becomes SystemExit)


class Worker:
    """A child process of this benchmark, stopped (TERM, then KILL) however the benchmark ends."""

    def __init__(self, name: str, argv: list[str], logdir: Path) -> None:
        RUNNING.append(self)
        self.name = name
        self.log = logdir / f"{name}.log"
        self.out = open(self.log, "wb")
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=self.out, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL)

    def tail(self, lines: int = 40) -> str:
        self.out.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if not self.out.closed:
            self.out.close()
        if self in RUNNING:
            RUNNING.remove(self)
        return self.proc.returncode


def stop_all() -> None:
    for w in list(RUNNING):
        w.stop(timeout=10)

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


PROFILE = {"on": False, "cprofile": False, "retry_backoff_ms": None}      # set by --profile / --cprofile / ...


def matcher_worker(bs: str, topics: Topics, group: str, rules_file: Path, logdir: Path, name: str) -> Worker:
    """`certx serve matcher` as deployed; with --profile the instrumented Matcher instead."""
    if PROFILE["on"]:
        argv = [PYTHON, "-m", "loadtest.kafka_bench", "--matcher-worker", "--bootstrap", bs, "--prefix", topics.prefix,
                "--group", group, "--rules", str(rules_file), "--profile-out", str(logdir / f"{name}.profile.json")]
        if PROFILE["retry_backoff_ms"] is not None:
            argv += ["--retry-backoff-ms", str(PROFILE["retry_backoff_ms"])]
        return Worker(name, argv + (["--cprofile"] if PROFILE["cprofile"] else []), logdir)
    return Worker(name, [PYTHON, "-m", "certx.cli", "serve", "matcher", "--bootstrap", bs, "--prefix", topics.prefix,
                         "--group", group, "--rules", str(rules_file), "--snapshot-every", "10000000"], logdir)


def profile_of(w: Worker) -> dict | None:
    path = w.log.with_name(f"{w.name}.profile.json")
    return json.loads(path.read_text()) if path.exists() else None


# --- the raw pipe (runs in its own process: python -m loadtest.kafka_bench --raw-pipe ...) ------------

async def raw_pipe(bs: str, source: str, sink: str, group: str, max_records: int) -> None:
    """Consume -> produce with no work, with the matcher's settings: one transaction per fetched batch."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bs, group_id=group, enable_auto_commit=False, isolation_level="read_committed",
        auto_offset_reset="earliest", max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_wait_ms=5,
        session_timeout_ms=10_000, heartbeat_interval_ms=2_500)
    producer = AIOKafkaProducer(
        bootstrap_servers=bs, transactional_id=f"{group}-0", enable_idempotence=True, acks="all", linger_ms=0,
        max_batch_size=1024 * 1024)
    await producer.start()
    await consumer.start()
    consumer.subscribe([source])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=100, max_records=max_records)
            for tp, records in fetched.items():
                if not records:
                    continue
                async with producer.transaction():
                    builder = producer.create_batch()
                    for r in records:
                        if builder.append(key=r.key, value=r.value, timestamp=r.timestamp) is None:
                            await producer.send_batch(builder, sink, partition=0)
                            builder = producer.create_batch()
                            builder.append(key=r.key, value=r.value, timestamp=r.timestamp)
                    if builder.record_count():
                        await producer.send_batch(builder, sink, partition=0)
                    await producer.send_offsets_to_transaction({tp: records[-1].offset + 1}, group)
    finally:
        await consumer.stop()
        await producer.stop()


# --- the instrumented matcher (--profile; runs in its own process: --matcher-worker) ----------------

async def instrumented_matcher(bs: str, prefix: str, group: str, rules_file: str, out: str,
                               use_cprofile: bool, retry_backoff_ms: int | None = None) -> None:
    """certx.kafka.matcher.Matcher as `certx serve matcher` runs it (without the FastStream shell), with
    wall-clock timers around each stage of a batch and around each broker request of the producer's
    sender; on SIGTERM it writes the totals to `out` (JSON)."""
    import cProfile
    import pstats
    from io import StringIO

    from aiokafka import errors as aio_errors
    from aiokafka.producer import sender as aio_sender

    from certx.cli import load_rules
    from certx.kafka import matcher as mm

    spent: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()
    retries: collections.Counter = collections.Counter()
    records = collections.Counter()
    when: list = []           # (seconds since the first batch, what) of the first retries
    cur: collections.Counter = collections.Counter()     # stage times within the current batch
    slow: list = []           # batches that took over 40 ms, with their stage times
    timeline: list = []       # per batch: (wall ms fetched, wall ms committed, first and last record timestamp, n)

    def timed(name, fn):
        if asyncio.iscoroutinefunction(fn):
            async def wrapper(*a, **k):
                t = time.perf_counter()
                try:
                    return await fn(*a, **k)
                finally:
                    d = time.perf_counter() - t
                    spent[name] += d
                    calls[name] += 1
                    cur[name] += d
        else:
            def wrapper(*a, **k):
                t = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    spent[name] += time.perf_counter() - t
                    calls[name] += 1
        return wrapper

    real_process = mm.Matcher._process
    first: list[float] = []

    async def process(self, part, recs):
        if not first:
            first.append(time.perf_counter())
        records["in"] += len(recs)
        cur.clear()
        t = time.perf_counter()
        fetched_ms = time.time() * 1000
        await real_process(self, part, recs)
        d = time.perf_counter() - t
        if len(timeline) < 100_000:
            timeline.append((round(fetched_ms, 2), round(time.time() * 1000, 2), recs[0].timestamp,
                             recs[-1].timestamp, len(recs)))
        if d > 0.04 and len(slow) < 50:
            slow.append({"at_s": round(t - first[0], 3), "records": len(recs), "ms": round(d * 1000, 1),
                         **{k.split(" ")[0]: round(v * 1000, 1) for k, v in cur.items()}})
        cur.clear()
        spent["process (one batch, one transaction)"] += d
        calls["process (one batch, one transaction)"] += 1
        first[1:] = [time.perf_counter()]

    real_run = batch.run

    def run(engine, recs, source, publish=True):
        t = time.perf_counter()
        o = real_run(engine, recs, source, publish)
        spent["batch.run (decode + engine + encode)"] += time.perf_counter() - t
        cur["batch.run"] += time.perf_counter() - t
        calls["batch.run (decode + engine + encode)"] += 1
        records["events"] += len(o.events)
        return o

    mm.Matcher._process = process
    batch.run = run
    mm.Matcher._send_all = staticmethod(timed("_send_all (append to batches + send_batch)", mm.Matcher._send_all))
    AIOKafkaConsumer.getmany = timed("consumer.getmany (fetch, incl. waiting)", AIOKafkaConsumer.getmany)
    for name in ("begin_transaction", "send_batch", "send_offsets_to_transaction", "commit_transaction"):
        setattr(AIOKafkaProducer, name, timed(f"producer.{name}", getattr(AIOKafkaProducer, name)))
    real_do = aio_sender.BaseHandler.do

    async def do(self, node_id):
        t = time.perf_counter()
        ok = await real_do(self, node_id)
        name = f"sender {type(self).__name__} (request, incl. retry backoff)"
        spent[name] += time.perf_counter() - t
        cur[type(self).__name__] += time.perf_counter() - t
        calls[name] += 1
        if not ok:
            retries[f"{type(self).__name__} failed attempts (all causes)"] += 1
        return ok

    aio_sender.BaseHandler.do = do
    real_handle = aio_sender.AddPartitionsToTxnHandler.handle_response

    def handle(self, resp):
        backoff = real_handle(self, resp)
        if backoff is not None:
            codes = [code for _, parts in resp.errors for _, code in parts if code]
            name = aio_errors.for_code(codes[0]).__name__ if codes else "?"
            retries[f"AddPartitionsToTxn: {name}, {backoff * 1000:.0f} ms backoff"] += 1
            if len(when) < 100:
                when.append((round(time.perf_counter() - (first[0] if first else 0), 3), f"AddPartitionsToTxn: {name}"))
        return backoff

    aio_sender.AddPartitionsToTxnHandler.handle_response = handle

    def note_errors(cls):
        real = cls.handle_response

        def handle_response(self, resp):
            backoff = real(self, resp)
            if backoff is not None:
                codes = [code for _, parts in getattr(resp, "errors", ()) for _, code in parts] or \
                        [getattr(resp, "error_code", -1)]
                for code in codes:
                    if code:
                        name = (f"{cls.__name__[:-7]}: {aio_errors.for_code(code).__name__}, "
                                f"{backoff * 1000:.0f} ms backoff")
                        retries[name] += 1
                        if len(when) < 100:
                            when.append((round(time.perf_counter() - (first[0] if first else 0), 3), name))
            return backoff

        cls.handle_response = handle_response

    for cls in (aio_sender.AddOffsetsToTxnHandler, aio_sender.TxnOffsetCommitHandler, aio_sender.EndTxnHandler):
        note_errors(cls)
    real_produce = aio_sender.SendProduceReqHandler.handle_response

    def produce_response(self, response):
        real_produce(self, response)
        for _, partitions in response.topics:
            for info in partitions:
                if info[1]:
                    name = (f"Produce: {aio_errors.for_code(info[1]).__name__}, "
                            f"{self._default_backoff * 1000:.0f} ms backoff")
                    retries[name] += 1
                    if len(when) < 100:
                        when.append((round(time.perf_counter() - (first[0] if first else 0), 3), name))

    aio_sender.SendProduceReqHandler.handle_response = produce_response

    if retry_backoff_ms is not None:        # an experiment: the matcher's producers with a shorter retry backoff
        real_init = AIOKafkaProducer.__init__

        def init(self, *a, **k):
            real_init(self, *a, **{**k, "retry_backoff_ms": retry_backoff_ms})

        AIOKafkaProducer.__init__ = init
    settings = mm.Settings(bootstrap=bs, topics=Topics(prefix), group=group, transactional_prefix=group,
                           rules=load_rules(rules_file), snapshot_every=10_000_000)
    matcher = mm.Matcher(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    profiler = cProfile.Profile() if use_cprofile else None
    await matcher.start()
    cpu0 = time.process_time()
    if profiler:
        profiler.enable()
    task = asyncio.create_task(matcher.run())
    await asyncio.wait([task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    if profiler:
        profiler.disable()
    cpu = time.process_time() - cpu0
    task.cancel()
    await matcher.stop()
    busy = (first[1] - first[0]) if len(first) == 2 else 0.0
    report = {
        "records": records["in"], "events": records["events"], "batches": calls["process (one batch, one transaction)"],
        "first_to_last_batch_s": round(busy, 3), "process_cpu_s": round(cpu, 3),
        "stages_s": {k: round(v, 3) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])},
        "calls": dict(calls), "sender_retries": dict(retries), "first_retries_at_s": when[:20],
        "slow_batches": slow, "timeline": timeline,
    }
    if profiler:
        text = StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(35)
        report["cprofile_top_tottime"] = text.getvalue().splitlines()
    Path(out).write_text(json.dumps(report, indent=2))


# --- 1 and 2: throughput ---------------------------------------------------------------------------

async def measure(bs: str, w: Worker, group: str, tp: TopicPartition, total: int, timeout: float) -> dict:
    """Run a worker until its group has committed `total` records of `tp`; its rate and CPU use, and the
    broker's, between the first commit and the last."""
    broker = broker_pid()
    trace: list[tuple] = []
    try:
        async with Committed(bs, group, tp) as committed:
            await committed.wait_for(total, timeout, w.proc, pids=(w.proc.pid, broker), trace=trace)
    except (TimeoutError, RuntimeError) as exc:
        progress = [(round(t - trace[0][0], 2), o) for t, o, *_ in trace[-5:]] if trace else []
        raise RoundFailed({"worker": w.name, "error": str(exc), "last_progress_s_offset": progress,
                           "exit_code": w.proc.poll(), "log_tail": w.tail(40).splitlines()}) from exc
    finally:
        w.stop()
    m = rate_from(trace)
    first = next(x for x in trace if x[1] > 0)
    last = trace[-1]
    wall = last[0] - first[0]
    if wall > 0:
        m["worker_cpu_share"] = round((last[2] - first[2]) / wall, 2)
        if last[2] > first[2]:       # CPU clock ticks (10 ms): fine over seconds
            m["records_per_cpu_s"] = round(m["records_measured"] / (last[2] - first[2]))
        if broker:
            m["broker_cpu_share"] = round((last[3] - first[3]) / wall, 2)
    return m


async def throughput(bs: str, n: int, rounds: int, rules_file: Path, logdir: Path, result: dict,
                     cleanup: list[str]) -> None:
    # Record timestamps near the wall clock (the rules open the session all day): the broker deletes records
    # stamped more than log.retention.hours (168) ago at its next retention check, even mid-run.
    base, day = recent_stamp_base(n + 1_000)
    cmds = setup_commands(day) + listing_flow(n)
    values = [encode(cmd) for cmd in cmds]
    stamps = [base + i // 100 for i in range(len(values))]
    total = len(values)
    kinds, ceiling, ceiling_cpu = expected_run(values, stamps, all_day_rules())
    split = split_batch_run(values, stamps, all_day_rules())
    events_expected = sum(kinds.values())
    timeout = max(120.0, n / 2_000)
    matcher_runs, raw_runs = [], []
    failures: list[dict] = []
    result["throughput_failures"] = failures
    for i in range(rounds):
        run = uuid.uuid4().hex[:10]
        topics = Topics(prefix=f"bench{run}.")
        await ensure_topics(bs, topics)
        cleanup += list(topics.layout())
        raw_topic = f"bench{run}.raw.out"
        await create_topic(bs, raw_topic)
        cleanup.append(raw_topic)
        t0 = time.perf_counter()
        await preload(bs, topics.commands, values, stamps)
        print(f"round {i + 1}/{rounds}: pre-loaded {total:,} records ({sum(map(len, values)) / 1e6:.1f} MB) in "
              f"{time.perf_counter() - t0:.1f}s on {topics.commands}[0]", flush=True)
        tp = TopicPartition(topics.commands, 0)
        load = os.getloadavg()[0]

        group = f"bench{run}-matcher"
        w = matcher_worker(bs, topics, group, rules_file, logdir, f"matcher-throughput-{i}")
        try:
            m = await measure(bs, w, group, tp, total, timeout)
        except RoundFailed as exc:
            failures.append({"round": i + 1, **exc.args[0]})
            print(f"  matcher FAILED: {json.dumps(exc.args[0], indent=2)}", file=sys.stderr, flush=True)
            continue
        m["load_average_1m_before"] = round(load, 2)
        if PROFILE["on"]:
            prof = profile_of(w) or {}
            prof.pop("timeline", None)
            result.setdefault("profile_throughput", []).append(prof)
        got = await read_events(bs, topics.events, events_expected, timeout=120)
        m["events_committed"] = sum(got.values())
        m["events_match_embedded_engine"] = dict(got) == kinds
        if not m["events_match_embedded_engine"]:
            m["events_by_type"] = dict(sorted(got.items()))
        matcher_runs.append(m)
        print(f"  matcher: {m['records_per_s']:,} commands/s over {m['seconds']}s, "
              f"cpu matcher {m.get('worker_cpu_share')} broker {m.get('broker_cpu_share')}, "
              f"events as embedded: {m['events_match_embedded_engine']}", flush=True)

        group = f"bench{run}-raw"
        w = Worker(f"raw-pipe-{i}", [PYTHON, "-m", "loadtest.kafka_bench", "--raw-pipe", "--bootstrap", bs,
                                     "--source", topics.commands, "--sink", raw_topic, "--group", group], logdir)
        try:
            r = await measure(bs, w, group, tp, total, timeout)
        except RoundFailed as exc:
            failures.append({"round": i + 1, **exc.args[0]})
            print(f"  raw pipe FAILED: {json.dumps(exc.args[0], indent=2)}", file=sys.stderr, flush=True)
            matcher_runs.pop()
            continue
        raw_runs.append(r)
        print(f"  raw pipe: {r['records_per_s']:,} records/s over {r['seconds']}s, "
              f"cpu pipe {r.get('worker_cpu_share')} broker {r.get('broker_cpu_share')}", flush=True)

    if not matcher_runs:
        raise RuntimeError(f"every throughput round failed: {json.dumps(failures, indent=2)}")

    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

    cps = median([m["records_per_s"] for m in matcher_runs])
    raw = median([r["records_per_s"] for r in raw_runs])
    result["matcher_throughput"] = {
        "commands_per_s": round(cps), "events_per_s": round(cps * events_expected / total),
        "commands_per_s_best": max(m["records_per_s"] for m in matcher_runs),
        "records_preloaded": total, "listing_commands": n, "setup_commands": total - n, "rounds": rounds,
        "events_per_run": events_expected, "events_by_type": dict(sorted(kinds.items())),
        "all_runs_match_embedded_engine": all(m["events_match_embedded_engine"] for m in matcher_runs),
        "matcher_process": "instrumented Matcher (--profile)" if PROFILE["on"] else "certx serve matcher",
        "in_process_batch_run_commands_per_s": round(ceiling),
        "in_process_batch_run_commands_per_cpu_s": round(ceiling_cpu),
        "in_process_split_us_per_command": split,
        "runs": matcher_runs,
    }
    result["raw_pipe"] = {"commands_per_s": round(raw),
                          "commands_per_s_best": max(r["records_per_s"] for r in raw_runs), "runs": raw_runs}
    result["matcher_over_raw"] = round(cps / raw, 3)
    # The host may be shared: the same figures per CPU-second of the worker process hold up better.
    m_cpu = [m["records_per_cpu_s"] for m in matcher_runs if m.get("records_per_cpu_s")]
    r_cpu = [r["records_per_cpu_s"] for r in raw_runs if r.get("records_per_cpu_s")]
    if m_cpu and r_cpu:
        result["per_cpu_second"] = {"matcher_commands": round(median(m_cpu)), "raw_pipe_records": round(median(r_cpu)),
                                    "matcher_over_raw": round(median(m_cpu) / median(r_cpu), 3),
                                    "in_process_batch_run_commands": round(ceiling_cpu),
                                    "matcher_cpu_us_per_command": round(1e6 / median(m_cpu), 2),
                                    "raw_pipe_cpu_us_per_record": round(1e6 / median(r_cpu), 2)}
    result["matcher_over_raw_per_round"] = [round(m["records_per_s"] / r["records_per_s"], 3)
                                            for m, r in zip(matcher_runs, raw_runs)]
    print(f"matcher {cps:,.0f} commands/s (median of {len(matcher_runs)}; in-process batch.run alone "
          f"{ceiling:,.0f}/s), raw pipe {raw:,.0f}/s: matcher/raw = {cps / raw:.0%}", flush=True)
    if "per_cpu_second" in result:
        pc = result["per_cpu_second"]
        print(f"per CPU-second of the worker: matcher {pc['matcher_commands']:,} commands "
              f"({pc['matcher_cpu_us_per_command']} µs each), raw pipe {pc['raw_pipe_records']:,} records "
              f"({pc['raw_pipe_cpu_us_per_record']} µs each): {pc['matcher_over_raw']:.0%}; "
              f"in-process batch.run {ceiling_cpu:,.0f} ({1e6 / ceiling_cpu:.2f} µs each)", flush=True)


# --- 3: latency at a fixed offered load -----------------------------------------------------------

def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def latency_parts(events: list[tuple[float, int]], batches: list[tuple]) -> dict:
    """Split each event's latency by the matcher's batch timeline: command timestamp -> fetched by the matcher
    (queueing behind the transaction in flight, fetch wait), fetched -> transaction committed, committed ->
    received by the reader (markers, read_committed fetch)."""
    import bisect
    firsts = [b[2] for b in batches]
    parts = []
    for received, ts in events:
        i = max(bisect.bisect_right(firsts, ts) - 1, 0)
        while i > 0 and batches[i - 1][3] >= ts:
            i -= 1
        while i < len(batches) - 1 and batches[i][3] < ts:
            i += 1
        fetched, committed = batches[i][0], batches[i][1]
        parts.append((received - ts, fetched - ts, committed - fetched, received - committed))
    out = {}
    names = ("total", "command_to_fetched", "fetched_to_committed", "committed_to_received")
    for k, name in enumerate(names):
        xs = sorted(p[k] for p in parts)
        out[name] = {"p50": round(percentile(xs, 0.5), 1), "p99": round(percentile(xs, 0.99), 1),
                     "max": round(xs[-1], 1)}
    cut = out["total"]["p99"]
    worst = [p for p in parts if p[0] >= cut]
    out["worst_1pct_mean"] = {name: round(sum(p[k] for p in worst) / len(worst), 1) for k, name in enumerate(names)}
    return out


async def latency(bs: str, seconds: float, rate: int, rules_file: Path, logdir: Path, result: dict,
                  reader_fetch_wait_ms: int, cleanup: list[str], dump: str | None = None) -> None:
    run = uuid.uuid4().hex[:10]
    topics = Topics(prefix=f"bench{run}.")
    await ensure_topics(bs, topics)
    cleanup += list(topics.layout())
    group = f"bench{run}-latency"
    today = dt.datetime.now(CST).date()
    setup = [encode(cmd) for cmd in setup_commands(today)]
    now_ms = time.time_ns() // 1_000_000
    await preload(bs, topics.commands, setup, [now_ms] * len(setup))
    flow = [encode(cmd) for cmd in listing_flow(int(seconds * rate) + rate, seed=3)]
    tp = TopicPartition(topics.commands, 0)
    w = matcher_worker(bs, topics, group, rules_file, logdir, "matcher-latency")
    lat: list[float] = []
    trace: list[tuple[float, int]] = []         # (received ms, record timestamp) per event, when asked
    keep_trace = bool(dump) or PROFILE["on"]
    kinds: collections.Counter = collections.Counter()
    sent = 0
    try:
        async with Committed(bs, group, tp) as committed:
            await committed.wait_for(len(setup), 120, w.proc, every=0.1)
            consumer = AIOKafkaConsumer(bootstrap_servers=bs, isolation_level="read_committed",
                                        enable_auto_commit=False, auto_offset_reset="latest",
                                        fetch_max_wait_ms=reader_fetch_wait_ms,
                                        max_partition_fetch_bytes=8 * 1024 * 1024)
            producer = AIOKafkaProducer(bootstrap_servers=bs, enable_idempotence=True, acks="all", linger_ms=0)
            await consumer.start()
            await producer.start()
            try:
                etp = TopicPartition(topics.events, 0)
                consumer.assign([etp])
                await consumer.seek_to_end(etp)
                start_ms = time.time_ns() // 1_000_000 + 1

                async def consume(stop: asyncio.Event) -> None:
                    while not stop.is_set():
                        batch_ = await consumer.getmany(etp, timeout_ms=100, max_records=10_000)
                        received = time.time() * 1000.0
                        for records in batch_.values():
                            lat.extend(received - r.timestamp for r in records if r.timestamp >= start_ms)
                            kinds.update(_kind.decode(r.value).type for r in records if r.timestamp >= start_ms)
                            if keep_trace:
                                trace.extend((received, r.timestamp) for r in records if r.timestamp >= start_ms)

                stop = asyncio.Event()
                reader = asyncio.create_task(consume(stop))
                await asyncio.sleep(max(0.0, start_ms / 1000 - time.time()))
                t0 = time.monotonic()
                end = t0 + seconds
                pending = []
                while True:
                    now = time.monotonic()
                    if now >= end:
                        break
                    due = min(int((now - t0) * rate) + 1, len(flow))
                    ts = time.time_ns() // 1_000_000
                    while sent < due:
                        pending.append(await producer.send(topics.commands, flow[sent], key=b"CEA", partition=0,
                                                           timestamp_ms=ts))
                        sent += 1
                    if len(pending) >= 5_000:
                        await asyncio.wait_for(asyncio.gather(*pending), 60)
                        pending.clear()
                    await asyncio.sleep(max(0.0, t0 + due / rate - time.monotonic()))
                offered_seconds = time.monotonic() - t0
                await asyncio.wait_for(asyncio.gather(*pending), 60)
                await committed.wait_for(len(setup) + sent, 60, w.proc, every=0.05)
                lso = (await consumer.end_offsets([etp]))[etp]
                deadline = time.monotonic() + 30
                while await consumer.position(etp) < lso and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                stop.set()
                await asyncio.wait_for(reader, 30)
            finally:
                await producer.stop()
                await consumer.stop()
    except Exception:
        print(w.tail(), file=sys.stderr)
        raise
    finally:
        w.stop()
    if PROFILE["on"]:
        prof = profile_of(w) or {}
        timeline = prof.pop("timeline", [])
        if timeline and trace:
            prof["latency_parts_ms"] = latency_parts(trace, timeline)
        result["profile_latency"] = prof
        if dump:
            Path(dump).write_text(json.dumps({"events": trace, "batches": timeline}))
    elif dump:
        Path(dump).write_text(json.dumps({"events": trace}))
    lat.sort()
    res = {
        "offered_commands_per_s": rate, "commands": sent, "seconds": round(offered_seconds, 2),
        "achieved_commands_per_s": round(sent / offered_seconds), "events_measured": len(lat),
        "p50_ms": round(percentile(lat, 0.50), 2), "p99_ms": round(percentile(lat, 0.99), 2),
        "p99_9_ms": round(percentile(lat, 0.999), 2), "max_ms": round(lat[-1], 2) if lat else None,
        "mean_ms": round(sum(lat) / len(lat), 2) if lat else None,
        "session_date_cst": today.isoformat(), "events_by_type": dict(sorted(kinds.items())),
    }
    result["latency"] = res
    print(f"latency at {rate:,}/s: p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, p99.9 {res['p99_9_ms']} ms, "
          f"max {res['max_ms']} ms over {len(lat):,} events of {sent:,} commands", flush=True)


# --- main ------------------------------------------------------------------------------------------

def machine() -> dict:
    info: dict = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                  "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
        info["memory_gb"] = round(int(mem[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    import aiokafka
    info["aiokafka"] = aiokafka.__version__
    info["msgspec"] = msgspec.__version__
    info["kafka"] = "4.1.1 (deploy/kafka.sh, single KRaft node, same machine)"
    try:
        info["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                     text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


async def bench(args: argparse.Namespace) -> dict:
    result: dict = {"machine": machine(), "targets": TARGETS,
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    cleanup: list[str] = []
    logdir = Path(tempfile.mkdtemp(prefix="certx-kafka-bench-"))
    rules_file = write_rules(logdir / "rules.json")
    try:
        if args.commands > 0:
            await throughput(args.bootstrap, args.commands, args.rounds, rules_file, logdir, result, cleanup)
        if args.latency_seconds > 0:
            await latency(args.bootstrap, args.latency_seconds, args.rate, rules_file, logdir, result,
                          args.fetch_wait_ms, cleanup, args.dump_latency)
    finally:
        if cleanup and not args.keep_topics:
            try:
                await delete_topics(args.bootstrap, cleanup)
            except Exception as exc:  # noqa: BLE001 - the figures matter more than the clean-up
                print(f"could not delete the bench topics: {exc!r}", file=sys.stderr)
        for f in sorted(logdir.iterdir()):
            f.unlink()
        logdir.rmdir()
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    lat = result.get("latency", {})
    result["meets_targets"] = {
        "commands_per_s": result.get("matcher_throughput", {}).get("commands_per_s", 0) >= TARGETS["commands_per_s"],
        "matcher_over_raw": result.get("matcher_over_raw", 0) >= TARGETS["matcher_over_raw"],
        "p99_ms": lat.get("p99_ms", float("inf")) <= TARGETS["p99_ms"],
    }
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", type=int, default=300_000, help="CEA listing commands for the throughput runs")
    ap.add_argument("--rounds", type=int, default=3, help="throughput rounds (matcher then raw pipe, fresh topics "
                    "each); the figures are the medians")
    ap.add_argument("--latency-seconds", type=float, default=30.0)
    ap.add_argument("--rate", type=int, default=2_000, help="offered load of the latency run, commands/s")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "kafka.json"))
    ap.add_argument("--bootstrap", default=bootstrap())
    ap.add_argument("--fetch-wait-ms", type=int, default=100, help="fetch_max_wait_ms of the latency reader")
    ap.add_argument("--keep-topics", action="store_true", help="do not delete the bench topics at the end")
    ap.add_argument("--profile", action="store_true",
                    help="run the matcher instrumented (stage timers, sender retries) and add the breakdowns")
    ap.add_argument("--cprofile", action="store_true", help="with --profile: also cProfile the matcher process")
    ap.add_argument("--dump-latency", help="write (received ms, record timestamp ms) per event here (JSON)")
    ap.add_argument("--retry-backoff-ms", type=int, help="experiment (implies --profile): give the matcher's "
                    "producers this retry_backoff_ms instead of aiokafka's default 100")
    ap.add_argument("--raw-pipe", action="store_true", help=argparse.SUPPRESS)    # the worker of figure 2
    ap.add_argument("--matcher-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--prefix", help=argparse.SUPPRESS)
    ap.add_argument("--rules", help=argparse.SUPPRESS)
    ap.add_argument("--profile-out", help=argparse.SUPPRESS)
    ap.add_argument("--source", help=argparse.SUPPRESS)
    ap.add_argument("--sink", help=argparse.SUPPRESS)
    ap.add_argument("--group", help=argparse.SUPPRESS)
    ap.add_argument("--max-records", type=int, default=10_000, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.raw_pipe:
        asyncio.run(raw_pipe(args.bootstrap, args.source, args.sink, args.group, args.max_records))
        return 0
    if args.matcher_worker:
        asyncio.run(instrumented_matcher(args.bootstrap, args.prefix, args.group, args.rules, args.profile_out,
                                         args.cprofile, args.retry_backoff_ms))
        return 0
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    PROFILE.update(on=args.profile or args.cprofile or args.retry_backoff_ms is not None, cprofile=args.cprofile,
                   retry_backoff_ms=args.retry_backoff_ms)
    if args.retry_backoff_ms is not None:
        result_note = (f"experiment: matcher producers with retry_backoff_ms={args.retry_backoff_ms} "
                       "(certx uses aiokafka's default, 100)")
    else:
        result_note = None
    result = asyncio.run(bench(args))
    if result_note:
        result["experiment"] = result_note
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
