"""Latency at a fixed offered load, with and without the gateway hop (part 2 of loadtest.kafka_bench).

Both runs trade on today's date (China time) under all-day sessions, because the command time is the wall clock:
the producer's in the first run, the exchange's (the broker's append time) in the second. A run that crosses
midnight China time gets market_closed rejections after it: still events, still timed.

- Matcher alone: the set-up, then listing commands paced at --rate per second, written to `certx.commands`
  partition 0 as the gateway principal in the gateway's form, each with record timestamp = the wall clock when
  it was sent (ms). The matcher copies a command's timestamp to its events, so each event's latency is (wall
  clock when the reader's getmany returned it) - (its record timestamp).
- Through the gateway: the set-up on the operator's replay path, then broker B0 sends its own accounts' listing
  commands (the same kind of flow) to `certx.in.B0` at --rate per second, noting the wall clock of each send.
  The gateway stamps the broker's append time, so an event's timestamp is not its send time: each event is
  taken back to its command by its origin (the command's position in the market's stream; after the set-up's,
  they are B0's commands in the order sent, checked by id in `certx.commands`), and its latency is (wall clock
  when read) - (wall clock when that command was sent). Split: send -> appended to `certx.in.B0` (the event's
  timestamp), appended -> the command read committed from `certx.commands` (the gateway's transaction), and
  -> the event read committed (the matcher's).
Readers use read_committed: an event counts when its transaction has committed. The measuring process runs without
its cyclic collector meanwhile (`uncollected`): its pauses were its own, not the services'. Rounds alternate the two
runs, so a busier moment of the shared machine falls on both alike.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import gc
import time
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from certx.wire.codec import decode_logged, encode
from certx.wire.events import Origin
from loadtest import cea
from loadtest.cluster import (Deployment, broker_gc, gc_between, kind_of, last_data_offset, median, percentile,
                              preload, service, spread, wait_committed)
from loadtest.engine_bench import listing_flow


class _Answer(msgspec.Struct):
    type: str
    origin: Origin


answer_of = msgspec.json.Decoder(_Answer).decode


def now_ms() -> float:
    return time.time() * 1000.0


@contextlib.asynccontextmanager
async def uncollected():
    """This process's cyclic collector off while it offers and reads. Its full passes over the records read so far
    (45 k in a 20 s run) stopped its event loop 5 times a run, 180-340 ms the longest on a loaded host, and some 50
    younger passes up to 13-27 ms: the reader stamped events late and the sender then sent in bursts, none of it the
    matcher's doing. What it keeps holds no cycles; the few the clients make wait until the run ends."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


async def offer(producer: AIOKafkaProducer, topic: str, values: list[bytes], rate: int, seconds: float,
                key: bytes | None, stamp: bool) -> tuple[list[float], float]:
    """Send values paced at `rate` a second for `seconds`; returns each one's wall-clock send time (ms) and the
    seconds the offer lasted. With `stamp`, each record's timestamp is that time (ms)."""
    sent_at: list[float] = []
    pending = []
    t0 = time.monotonic()
    end = t0 + seconds
    sent = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = min(int((now - t0) * rate) + 1, len(values))
        while sent < due:
            at = now_ms()
            pending.append(await producer.send(topic, values[sent], key=key, partition=0,
                                               timestamp_ms=int(at) if stamp else None))
            sent_at.append(at)
            sent += 1
        if len(pending) >= 5_000:
            await asyncio.wait_for(asyncio.gather(*pending), 60)
            pending.clear()
        await asyncio.sleep(max(0.0, t0 + due / rate - time.monotonic()))
    offered = time.monotonic() - t0
    await asyncio.wait_for(asyncio.gather(*pending), 60)
    return sent_at, offered


class Reader:
    """Reads a partition of `certx.events` (read_committed) from its end, keeping (wall ms when read, record)."""

    def __init__(self, kafka, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False,
                                         fetch_max_wait_ms=100, max_partition_fetch_bytes=8 * 1024 * 1024,
                                         **kafka.aiokafka())
        self.tp = TopicPartition(topic, 0)
        self.got: list[tuple[float, object]] = []
        self.stop = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> "Reader":
        await self.consumer.start()
        self.consumer.assign([self.tp])
        await self.consumer.seek_to_end(self.tp)
        await self.consumer.position(self.tp)
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while not self.stop.is_set():
            fetched = await self.consumer.getmany(self.tp, timeout_ms=100, max_records=10_000)
            received = now_ms()
            for records in fetched.values():
                self.got.extend((received, r) for r in records)

    async def drain(self, timeout: float = 60) -> None:
        """Read up to the partition's committed end, then stop."""
        lso = (await self.consumer.end_offsets([self.tp]))[self.tp]
        deadline = time.monotonic() + timeout
        while await self.consumer.position(self.tp) < lso and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.stop.set()
        await asyncio.wait_for(self.task, 30)

    async def __aexit__(self, *exc) -> None:
        self.stop.set()
        if self.task is not None and not self.task.done():
            self.task.cancel()
        await self.consumer.stop()


def figures(lat: list[float]) -> dict:
    lat = sorted(lat)
    return {"p50_ms": round(percentile(lat, 0.50), 2), "p99_ms": round(percentile(lat, 0.99), 2),
            "p99_9_ms": round(percentile(lat, 0.999), 2), "max_ms": round(lat[-1], 2) if lat else None,
            "mean_ms": round(sum(lat) / len(lat), 2) if lat else None, "events_measured": len(lat)}


async def matcher_alone(bs: str, seconds: float, rate: int, rules_file: Path, logdir: Path, i: int) -> dict:
    async with Deployment(bs, f"lat{i}") as d:
        today = dt.datetime.now(cea.CST).date()
        setup = cea.logged(cea.setup_commands(today))
        commands = TopicPartition(d.topics.commands, 0)
        gateway = d.as_("gateway")
        await preload(gateway, d.topics.commands, 0, b"CEA", [(setup, [int(now_ms())] * len(setup))])
        flow = cea.logged(listing_flow(int(seconds * rate) + rate, seed=3))
        w = service(d, "matcher", logdir, "--rules", str(rules_file), log_name=f"latency-matcher-{i}")
        try:
            await wait_committed(d.as_("admin"), d.topics.group("matcher"), {commands: len(setup)}, 120, (w,))
            producer = AIOKafkaProducer(enable_idempotence=True, acks="all", linger_ms=0, **gateway.aiokafka())
            await producer.start()
            try:
                async with Reader(d.as_("operator"), d.topics.events) as reader, uncollected():
                    start = now_ms()
                    sent_at, offered = await offer(producer, d.topics.commands, flow, rate, seconds, b"CEA", True)
                    await wait_committed(d.as_("admin"), d.topics.group("matcher"),
                                         {commands: len(setup) + len(sent_at)}, 60, (w,))
                    await reader.drain()
            finally:
                await producer.stop()
        finally:
            w.stop()
    ours = [(received, r) for received, r in reader.got if r.timestamp >= int(start)]
    res = {"commands": len(sent_at), "seconds": round(offered, 2),
           "achieved_commands_per_s": round(len(sent_at) / offered),
           **figures([received - r.timestamp for received, r in ours]),
           "events_by_type": dict(sorted(collections.Counter(kind_of(r.value).type for _, r in ours).items()))}
    print(f"  latency, matcher alone, round {i + 1}: p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, p99.9 "
          f"{res['p99_9_ms']} ms, max {res['max_ms']} ms over {res['events_measured']:,} events", flush=True)
    return res


async def through_gateway(bs: str, seconds: float, rate: int, rules_file: Path, logdir: Path, i: int) -> dict:
    async with Deployment(bs, f"hop{i}") as d:
        today = dt.datetime.now(cea.CST).date()
        setup = cea.setup_commands(today)
        admin = d.as_("admin")
        commands = TopicPartition(d.topics.commands, 0)
        matcher = service(d, "matcher", logdir, "--rules", str(rules_file), log_name=f"hop-matcher-{i}")
        gateway = service(d, "gateway", logdir, log_name=f"hop-gateway-{i}")
        workers = (matcher, gateway)
        try:
            await matcher.wait_for("matcher.assigned")
            await gateway.wait_for("gateway.started")
            await preload(d.as_("operator"), d.topics.replay, 0, None,
                          [(cea.replayed(setup, [int(now_ms())] * len(setup)), None)])
            await wait_committed(admin, d.topics.group("gateway"), {TopicPartition(d.topics.replay, 0): len(setup)},
                                 120, workers)
            after_setup = await last_data_offset(admin, commands)
            await wait_committed(admin, d.topics.group("matcher"), {commands: after_setup}, 120, workers)
            cmds = listing_flow(int(seconds * rate) + rate, seed=3, broker=0)
            flow = [encode(cmd) for cmd in cmds]           # as broker B0 writes them (its own actor, no time)
            b0 = d.as_("B0")
            producer = AIOKafkaProducer(enable_idempotence=True, acks="all", linger_ms=0, **b0.aiokafka())
            await producer.start()
            try:
                # Also when each command became visible in the log (the gateway's transaction committed).
                async with Reader(b0, d.topics.events) as reader, \
                        Reader(d.as_("operator"), d.topics.commands) as logged, uncollected():
                    sent_at, offered = await offer(producer, d.topics.inbound("B0"), flow, rate, seconds, None, False)
                    inbound = TopicPartition(d.topics.inbound("B0"), 0)
                    await wait_committed(admin, d.topics.group("gateway"), {inbound: len(sent_at)}, 60, workers)
                    last = await last_data_offset(admin, commands)
                    await wait_committed(admin, d.topics.group("matcher"), {commands: last}, 60, workers)
                    await reader.drain()
                    await logged.drain()
            finally:
                await producer.stop()
            index, offsets = await command_index(d.as_("operator"), commands, after_setup, last, cmds[:len(sent_at)])
        finally:
            gateway.stop()
            matcher.stop()
    visible = {r.offset: received for received, r in logged.got}
    lat, to_append, gateway_part, matcher_part = [], [], [], []
    kinds: collections.Counter = collections.Counter()
    for received, r in reader.got:
        ans = answer_of(r.value)
        k = index.get(ans.origin.offset)        # Origin.offset: the command's position
        if k is None:
            continue            # an answer to the set-up
        kinds[ans.type] += 1
        lat.append(received - sent_at[k])
        to_append.append(r.timestamp - sent_at[k])           # the event's timestamp: the inbound append time
        in_log = visible[offsets[k]]
        gateway_part.append(in_log - r.timestamp)
        matcher_part.append(received - in_log)
    res = {"commands": len(sent_at), "seconds": round(offered, 2),
           "achieved_commands_per_s": round(len(sent_at) / offered), **figures(lat),
           "split_ms": {name: {"p50": round(median(xs), 2), "p99": round(percentile(sorted(xs), 0.99), 2)}
                        for name, xs in (("send_to_appended_inbound", to_append),
                                         ("appended_to_command_read_committed (gateway)", gateway_part),
                                         ("command_read_to_event_read_committed (matcher)", matcher_part))},
           "events_by_type": dict(sorted(kinds.items()))}
    print(f"  latency through the gateway, round {i + 1}: p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, p99.9 "
          f"{res['p99_9_ms']} ms, max {res['max_ms']} ms over {res['events_measured']:,} events", flush=True)
    return res


async def command_index(kafka, tp: TopicPartition, start: int, end: int,
                        sent: list) -> tuple[dict[int, int], list[int]]:
    """An event's origin names its command's position in the market's command stream (the engine numbers the
    commands; transaction markers take offsets but no position): position -> index of the command sent, for the
    commands from offset `start` to `end`, which the gateway wrote in the order B0 sent them (checked: each
    record is B0's, with the order id sent); and each command's offset."""
    consumer = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False,
                                max_partition_fetch_bytes=8 * 1024 * 1024, **kafka.aiokafka())
    await consumer.start()
    before, offsets = 0, []
    try:
        consumer.assign([tp])
        consumer.seek(tp, 0)
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(tp, timeout_ms=1000, max_records=50_000)).values():
                for r in records:
                    if r.offset < start:
                        before += 1
                    elif r.offset < end:
                        k = len(offsets)
                        cmd = decode_logged(r.value)
                        assert cmd is not None and cmd.order_id == sent[k].order_id and cmd.actor == "B0", \
                            f"command {k} at offset {r.offset} is not the one sent"
                        offsets.append(r.offset)
    finally:
        await consumer.stop()
    assert len(offsets) == len(sent), (len(offsets), len(sent))
    return {before + k: k for k in range(len(offsets))}, offsets


async def both(bs: str, seconds: float, rate: int, rounds: int, rules_file: Path, logdir: Path) -> dict:
    alone, hop = [], []
    for i in range(rounds):
        for runs, run in ((alone, matcher_alone), (hop, through_gateway)):
            before = broker_gc()
            runs.append(await run(bs, seconds, rate, rules_file, logdir, i))
            runs[-1]["broker_gc"] = gc_between(before, broker_gc())    # the whole run, its set-up included

    def summary(runs: list[dict]) -> dict:
        return {k: spread([r[k] for r in runs]) for k in ("p50_ms", "p99_ms", "p99_9_ms", "max_ms", "mean_ms")}

    out = {"offered_commands_per_s": rate, "seconds_per_run": seconds,
           "matcher_alone": {**summary(alone), "runs": alone},
           "through_gateway": {**summary(hop), "runs": hop}}
    out["gateway_hop_costs_ms"] = {k: spread([h[k] - a[k] for h, a in zip(hop, alone)])
                                   for k in ("p50_ms", "p99_ms", "p99_9_ms")}
    return out
