"""Fairness of the front door on the real sender path: what one broker's flood costs another broker.

Every run is a deployment of its own (loadtest.cluster.Deployment) on the broker of deploy/kafka.sh, with
`certx serve gateway` and `certx serve matcher` as child processes, the CEA set-up replayed by the operator, and
sessions that last all day (commands are stamped with the exchange's clock).

1. Sender-path throughput: `--senders` brokers (B0, B1, ...) each write `--commands / senders` listing commands of
   their own accounts (loadtest.engine_bench.listing_flow) to their own inbound topics `certx.in.B<k>`, all at
   once (their records interleave in time, 1 MiB batches); then the
   gateway starts alone (no matcher) and reads them all, sequencing them in arrival order across senders
   (certx.gateway.arrival). Commands per second from its first commit to its last, and per CPU-second of the
   gateway (and of the broker, beside it).
2. A quiet broker's latency beside a neighbour: B1 sends one resting CEA order (ids `Q<k>`) every 1/--rate
   seconds for --seconds, noting the wall clock of each send; its latency is (wall clock when its first answer,
   the event whose `ref` is the order id, was read committed from `certx.events`) - (when it was sent).
   Measured alone, then with broker B0 flooding from a process of its own (`--flood KIND`, started a second
   before B1's first order):
     valid          --flood-records listing orders as fast as the broker takes them (hand-built 1 MiB batches)
     invalid        as many records, half not JSON (dead letters), half JSON objects breaking the contract
                    (refusals the CEA engine answers)
     megabyte       --flood-records / 1000 records of about 1 MB each (a JSON object over the 64 KiB limit)
     small_batches  --flood-records / 10 valid orders, each record a batch of its own
     held           a transaction holding one order open for the whole run, then committed
     bomb           ten rounds, a second apart, of 5,000 small valid orders in one batch and a zstd batch of a
                    few kilobytes inflating past the gateway's bound (certx.kafka.inflate), sent at once
     backlog        --flood-records valid orders written before the gateway starts (a partition with a huge
                    backlog), B1's orders from the moment it starts
     bomb_backlog   three such rounds written before the gateway starts, so that each bomb comes in the fetch
                    that brings the orders before it (the gateway reads those again with everyone else paused)
   Each run also reads back CEA's partition of `certx.commands` and counts the senders' commands (B0's and B1's:
   the operator's replayed set-up keeps its recorded times) sequenced after one with a later exchange time (the
   gateway's stamp), with a few examples: arrival order across senders (DOMAIN M1, U3) says none.
   A flood's own records need not be answered within the run: what is measured is B1's orders.

    nice -n 10 python -m loadtest.fair_bench  -> loadtest/results/fair.json
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from certx.money import Price
from certx.wire import commands as c
from certx.wire.codec import encode
from loadtest import cea
from loadtest.cluster import (PYTHON, Deployment, Worker, bootstrap, broker_pid, last_data_offset, machine,
                              preload, run_bench, service, shown, wait_committed)
from loadtest.engine_bench import listing_flow
from loadtest.kafka_latency import Reader, figures, now_ms, offer
from loadtest.kafka_bench import rate_from

FLOODS = ("valid", "invalid", "megabyte", "small_batches", "held", "bomb", "backlog", "bomb_backlog")
QUIET, FLOODER = "B1", "B0"


class _Answer(msgspec.Struct):
    type: str
    ref: str = ""


answer_of = msgspec.json.Decoder(_Answer).decode


def quiet_orders(n: int) -> list[bytes]:
    """B1's resting buys (below every sell of the flows), as it writes them: its own actor, no time."""
    return [encode(c.OrderNew(order_id=f"Q{k}", actor=QUIET, account="A1", product="CEA21", side="buy",
                              quantity=1, price=Price(4000))) for k in range(n)]


def valid_flood(n: int, broker: int = 0) -> list[bytes]:
    return [encode(cmd) for cmd in listing_flow(n, seed=7 + broker, broker=broker)]


def invalid_flood(n: int) -> list[bytes]:
    return [b"not json %d" % k if k % 2 else
            b'{"type":"order.new","order_id":"X%d","account":"A0","market":"CEA","price":"-1"}' % k
            for k in range(n)]


def megabyte_flood(n: int) -> list[bytes]:
    pad = "x" * 1_000_000
    return [b'{"type":"order.new","order_id":"M%d","account":"A0","market":"CEA","memo":"%s"}' % (k, pad.encode())
            for k in range(n)]


# --- the flooding broker, in a process of its own ------------------------------------------------------------

async def flood(kind: str, topic: str, records: int, hold: float) -> None:
    from certx.kafka.connection import load

    kafka = load()
    if kind in ("valid", "backlog"):
        await preload(kafka, topic, 0, None, [(valid_flood(records), None)])
    elif kind == "invalid":
        await preload(kafka, topic, 0, None, [(invalid_flood(records), None)])
    elif kind == "megabyte":
        await one_per_batch(kafka, topic, megabyte_flood(max(1, records // 1000)))
    elif kind == "small_batches":
        await one_per_batch(kafka, topic, valid_flood(max(1, records // 10)))
    elif kind == "held":
        prefix = topic[:-len(f"in.{FLOODER}")]      # the deployment's prefix: transactional ids `<prefix>B0-...`
        producer = AIOKafkaProducer(transactional_id=f"{prefix}{FLOODER}-held", enable_idempotence=True,
                                    transaction_timeout_ms=int(hold * 1000) + 60_000, **kafka.aiokafka())
        await producer.start()
        try:
            async with producer.transaction():
                await (await producer.send(topic, valid_flood(1)[0], partition=0))
                await asyncio.sleep(hold)
        finally:
            await producer.stop()
    elif kind == "bomb":
        await bombs(kafka, topic, 10, 5_000)
    print(f"flood {kind} written", flush=True)


async def one_per_batch(kafka, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(enable_idempotence=True, acks="all", linger_ms=0, max_request_size=8 << 20,
                                max_batch_size=2 << 20, **kafka.aiokafka())
    await producer.start()
    try:
        futures = []
        for value in values:
            builder = producer.create_batch()
            builder.append(key=None, value=value, timestamp=None)
            futures.append(await producer.send_batch(builder, topic, partition=0))
            if len(futures) >= 1_000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def bombs(kafka, topic: str, rounds: int, before: int) -> None:
    """`rounds` times: `before` small valid orders in one batch, then a batch of a few kilobytes inflating to
    68 MiB of zeros (as tests/kafka/test_gateway.py sends), each pair sent at once, so that one fetch brings both."""
    producer = AIOKafkaProducer(compression_type="zstd", max_request_size=80 << 20, max_batch_size=80 << 20,
                                enable_idempotence=True, acks="all", **kafka.aiokafka())
    await producer.start()
    try:
        orders = valid_flood(rounds * before)
        futures = []
        for k in range(rounds):
            builder = producer.create_batch()
            for value in orders[k * before:(k + 1) * before]:
                builder.append(key=None, value=value, timestamp=None)
            futures.append(await producer.send_batch(builder, topic, partition=0))
            builder = producer.create_batch()
            for _ in range(4):
                builder.append(key=None, value=bytes(17 << 20), timestamp=None)
            futures.append(await producer.send_batch(builder, topic, partition=0))
            await asyncio.gather(*futures)
            await asyncio.sleep(1.0)
    finally:
        await producer.stop()


# --- the runs ------------------------------------------------------------------------------------------------

async def set_up(d: Deployment, logdir: Path, rules_file: Path, name: str, matcher: bool = True) -> list[Worker]:
    """The services started, the CEA set-up replayed and answered; returns the workers."""
    admin = d.as_("admin")
    workers = []
    if matcher:
        workers.append(service(d, "matcher", logdir, "--rules", str(rules_file), log_name=f"{name}-matcher"))
    workers.append(service(d, "gateway", logdir, log_name=f"{name}-gateway"))
    for w in workers:
        await w.wait_for("matcher.assigned" if w.name.endswith("matcher") else "gateway.started")
    setup = cea.setup_commands(dt.datetime.now(cea.CST).date())
    await preload(d.as_("operator"), d.topics.replay, 0, None,
                  [(cea.replayed(setup, [int(now_ms())] * len(setup)), None)])
    await wait_committed(admin, d.topics.group("gateway"), {TopicPartition(d.topics.replay, 0): len(setup)}, 120,
                         tuple(workers))
    if matcher:
        commands = TopicPartition(d.topics.commands, 0)
        await wait_committed(admin, d.topics.group("matcher"), {commands: await last_data_offset(admin, commands)},
                             120, tuple(workers))
    return workers


async def quiet_run(bs: str, kind: str | None, args: argparse.Namespace, rules_file: Path, logdir: Path) -> dict:
    """B1's order latency, alone (kind None) or beside B0's flood of that kind."""
    name = kind or "alone"
    async with Deployment(bs, f"fair-{name}") as d:
        flooder = None
        if kind == "backlog":       # written before the gateway starts: a backlog it reads over many batches
            await preload(d.as_(FLOODER), d.topics.inbound(FLOODER), 0, None,
                          [(valid_flood(args.flood_records), None)])
        elif kind == "bomb_backlog":        # each bomb read in the same fetch as the orders before it
            await bombs(d.as_(FLOODER), d.topics.inbound(FLOODER), 3, 5_000)
        workers = await set_up(d, logdir, rules_file, name)
        b1 = d.as_(QUIET)
        producer = AIOKafkaProducer(enable_idempotence=True, acks="all", linger_ms=0, **b1.aiokafka())
        await producer.start()
        try:
            async with Reader(b1, d.topics.events) as reader:
                if kind not in (None, "backlog", "bomb_backlog"):
                    flooder = Worker(f"{name}-flood", [PYTHON, "-m", "loadtest.fair_bench", "--flood", kind,
                                                       "--topic", d.topics.inbound(FLOODER), "--flood-records",
                                                       str(args.flood_records), "--hold", str(args.seconds + 5)],
                                     logdir, d.as_(FLOODER))
                    await asyncio.sleep(1.0)
                values = quiet_orders(int(args.seconds * args.rate) + args.rate)
                sent_at, offered = await offer(producer, d.topics.inbound(QUIET), values, args.rate, args.seconds,
                                               None, False)
                inbound = TopicPartition(d.topics.inbound(QUIET), 0)
                # every order of B1's sequenced: the gateway's position past them (however long the flood holds it)
                await wait_committed(d.as_("admin"), d.topics.group("gateway"), {inbound: len(sent_at)},
                                     args.timeout, tuple(workers))
                answered = await answers_to(reader, len(sent_at), args.timeout)
        finally:
            await producer.stop()
            if flooder is not None:
                flooder.stop()
            for w in workers:
                w.stop()
        order = await sequence_check(d)
    lat = [answered[f"Q{k}"] - sent_at[k] for k in range(len(sent_at)) if f"Q{k}" in answered]
    out = {"flood": kind, "quiet_orders": len(sent_at), "answered": len(lat), **figures(lat), **order}
    print(f"  {name}: B1's orders p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms, max {out['max_ms']} ms, "
          f"{out['answered']}/{out['quiet_orders']} answered; out of arrival order: {order['out_of_order']}",
          flush=True)
    return out


async def answers_to(reader: Reader, n: int, timeout: float) -> dict[str, float]:
    """The wall clock when each of B1's orders got its first answer (read committed)."""
    first: dict[str, float] = {}
    seen = 0
    deadline = time.monotonic() + timeout
    while len(first) < n and time.monotonic() < deadline:
        for received, r in reader.got[seen:]:
            ref = answer_of(r.value).ref
            if ref.startswith("Q") and ref not in first:
                first[ref] = received
        seen = len(reader.got)
        await asyncio.sleep(0.05)
    return first


async def sequence_check(d: Deployment) -> dict:
    """CEA's command log read back: how many of the senders' commands (B0's and B1's; the operator's replayed
    set-up keeps its recorded times) were sequenced after a sender's command with a later exchange time, and how
    many of those were B1's after B0's."""
    consumer = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False,
                                max_partition_fetch_bytes=8 << 20, **d.as_("operator").aiokafka())
    await consumer.start()
    tp = TopicPartition(d.topics.commands, 0)
    latest, latest_actor, out_of_order, quiet_after_later_flood, n = 0, "", 0, 0, 0
    examples: list[dict] = []
    actor_of = msgspec.json.Decoder(type=dict).decode
    try:
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        consumer.seek(tp, 0)
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(tp, timeout_ms=1000, max_records=50_000)).values():
                for r in records:
                    actor = actor_of(r.value).get("actor", "")
                    if actor not in (QUIET, FLOODER):
                        continue
                    n += 1
                    if r.timestamp < latest:
                        out_of_order += 1
                        quiet_after_later_flood += latest_actor == FLOODER and actor == QUIET
                        if len(examples) < 5:
                            examples.append({"offset": r.offset, "actor": actor, "after": latest_actor,
                                             "earlier_by_ms": latest - r.timestamp})
                    elif r.timestamp > latest:
                        latest, latest_actor = r.timestamp, actor
    finally:
        await consumer.stop()
    return {"sender_commands_logged": n, "out_of_order": out_of_order,
            "quiet_after_later_flood": quiet_after_later_flood, "examples": examples}


async def sender_path(bs: str, senders: int, commands: int, rules_file: Path, logdir: Path) -> dict:
    """The gateway alone reading `senders` brokers' backlogs written beforehand."""
    async with Deployment(bs, f"fair-tp{senders}") as d:
        each = commands // senders
        topics = [d.topics.inbound(f"B{k}") for k in range(senders)]
        # written at once, so that their records interleave in time as live senders' do
        await asyncio.gather(*(preload(d.as_(f"B{k}"), topic, 0, None, [(valid_flood(each, broker=k), None)])
                               for k, topic in enumerate(topics)))
        targets = {TopicPartition(topic, 0): each for topic in topics}
        gateway = service(d, "gateway", logdir, log_name=f"tp{senders}-gateway")
        try:
            trace = await wait_committed(d.as_("admin"), d.topics.group("gateway"), targets, 120, (gateway,),
                                         pids=(gateway.proc.pid, broker_pid()))
        finally:
            gateway.stop()
    m, cpu, done = rate_from(trace)
    out = {"senders": senders, "commands": each * senders, "commands_measured": done, "seconds": m["seconds"],
           "commands_per_s": m["records_per_s"], "gateway_cpu_share": m.get("cpu_share", [None])[0],
           "broker_cpu_share": (m.get("cpu_share", [None, None]) + [None])[1],
           "commands_per_gateway_cpu_s": round(done / cpu[0]) if cpu and cpu[0] else None}
    print(f"  sender path, {senders} senders: {out['commands_per_s']} commands/s, "
          f"{out['commands_per_gateway_cpu_s']} per gateway CPU-second", flush=True)
    return out


async def bench(args: argparse.Namespace) -> dict:
    result: dict = {"machine": machine(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                    "settings": {k: getattr(args, k) for k in ("senders", "commands", "rate", "seconds",
                                                                "flood_records")}}
    logdir = Path(tempfile.mkdtemp(prefix="certx-fair-bench-"))
    rules_file = cea.write_rules(logdir / "rules.json")
    try:
        if args.commands > 0:
            result["sender_path"] = [await sender_path(args.bootstrap, n, args.commands, rules_file, logdir)
                                     for n in sorted({1, args.senders})]
        runs = [None] + [k for k in args.floods.split(",") if k]
        result["quiet_broker"] = {k or "alone": await quiet_run(args.bootstrap, k, args, rules_file, logdir)
                                  for k in runs}
    finally:
        for f in sorted(logdir.iterdir()):
            if f.suffix == ".log" and args.keep_logs:
                continue
            f.unlink()
        if not args.keep_logs:
            logdir.rmdir()
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--senders", type=int, default=4, help="brokers writing at once in the throughput run (<= 4)")
    ap.add_argument("--commands", type=int, default=200_000, help="commands of the throughput run, all senders")
    ap.add_argument("--rate", type=int, default=20, help="B1's orders per second")
    ap.add_argument("--seconds", type=float, default=20.0, help="how long B1 sends")
    ap.add_argument("--flood-records", type=int, default=200_000)
    ap.add_argument("--floods", default=",".join(FLOODS), help="comma-separated kinds of flood to run")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--keep-logs", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "fair.json"))
    ap.add_argument("--bootstrap", default=bootstrap())
    ap.add_argument("--flood", choices=FLOODS, help=argparse.SUPPRESS)        # the flooding broker's process
    ap.add_argument("--topic", help=argparse.SUPPRESS)
    ap.add_argument("--hold", type=float, default=30.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.flood:
        asyncio.run(flood(args.flood, args.topic, args.flood_records, args.hold))
        return 0
    print(shown(run_bench(bench, args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
