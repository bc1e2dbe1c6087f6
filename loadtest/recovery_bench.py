"""Recovery benchmark: how long a matcher takes to serve again after kill -9, on a market that has seen millions of
commands and holds millions of resting orders (issue "nothing lost, nothing stops", Benchmark).

    python -m loadtest.recovery_bench [--commands 10000000] [--tail 20000] [--out loadtest/results/recovery.json]

1. The set-up (loadtest.cea) and --commands CEA commands (`flow` below: about half of them leave an order resting,
   over 900 price levels) are pre-loaded into `certx.commands` partition 0 as the gateway principal, in the
   gateway's form, streamed in chunks (the benchmark never holds them all).
2. `certx serve matcher` chews through them once, with --snapshot-every set so that its one snapshot falls
   about --tail commands before the end. Figure: commands per second from its first commit to the last, and its
   CPU and peak memory.
3. The snapshot is read back and loaded here once, to count the orders resting in it.
4. kill -9 once everything is committed. A supervisor would start the new process at once, and then it waits for
   the dead member's session to expire (the group's session timeout, 10 s by default) before it is given the
   partition: that wait is measured apart (polling the group until it has no member), and the new process is
   started after it, so that its own figures are its own.
5. The new process starts, and one new command is written to the log as it does. From the process start: (a) the
   snapshot read from `certx.snapshots` and decoded, (b) the tail replayed (both from the `matcher.restored`
   line, which gives each phase's seconds, the snapshot's size and the commands replayed, and the time the line
   appeared), (c) the new command's event read back committed (read_committed): the first new batch served.
   4 and 5 run --restarts times on the same log (each new matcher is killed in turn): medians and spread.
"""
from __future__ import annotations

import argparse
import array
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from certx import logs
from certx.money import Price
from certx.wire import commands as c
from loadtest import cea
from loadtest.cluster import (Deployment, Worker, bootstrap, broker_pid, end_offsets, machine, median, preload,
                              run_bench, service, spread, vm_hwm_mb, wait_committed)
from loadtest.engine_bench import ACCOUNTS, AT

TARGET_S = 2.0
CHUNK = 100_000


def flow(n: int, seed: int = 5) -> Iterator[c.Command]:
    """62% limit orders that rest (buys at 45.50-49.99, sells at 50.00-54.49, inside the ±10% band around
    50.00: 900 levels, never crossing each other), 18% orders that cross (1-20 units against the best level),
    20% cancels of random earlier resting orders (some already gone: refused). About 45% of the commands are
    orders still resting at the end."""
    rng = random.Random(seed)
    rest_ids = array.array("I")         # the resting orders placed so far, by number, and their accounts
    rest_accounts = array.array("H")
    for k in range(n):
        roll = rng.random()
        if roll < 0.20 and rest_ids:
            j = rng.randrange(len(rest_ids))
            i = rest_accounts[j]
            yield c.OrderCancel(order_id=f"R{rest_ids[j]}", actor=f"B{i % 10}", account=f"A{i}")
            continue
        i = rng.randrange(ACCOUNTS)
        buy = rng.random() < 0.5
        if roll < 0.38:
            price, quantity = (5449 if buy else 4550), rng.randint(1, 20)
        else:
            price, quantity = (rng.randint(4550, 4999) if buy else rng.randint(5000, 5449)), rng.randint(1, 500)
            rest_ids.append(k)
            rest_accounts.append(i)
        yield c.OrderNew(order_id=f"R{k}", actor=f"B{i % 10}", account=f"A{i}", product="CEA21",
                         side="buy" if buy else "sell", quantity=quantity, price=Price(price))


def chunks(n: int) -> Iterator[tuple[list[bytes], list[int]]]:
    """The set-up, then the flow, as (canonical records, timestamps): 1,000 commands a millisecond of one day."""
    position = 0

    def stamped(cmds: list[c.Command]) -> tuple[list[bytes], list[int]]:
        nonlocal position
        stamps = [AT + (position + i) // 1000 for i in range(len(cmds))]
        position += len(cmds)
        return cea.logged(cmds), stamps

    yield stamped(cea.setup_commands(cea.day_of(AT)))
    batch: list[c.Command] = []
    for cmd in flow(n):
        batch.append(cmd)
        if len(batch) == CHUNK:
            yield stamped(batch)
            batch = []
    if batch:
        yield stamped(batch)


async def members(kafka, group: str) -> int:
    admin = AIOKafkaAdminClient(**kafka.aiokafka())
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([group])
        # raw DescribeGroups responses: each group is (error, id, state, protocol type, protocol, members, ...)
        return sum(len(group[5]) for response in described for group in response.groups)
    finally:
        await admin.close()


def restored_fields(text: str) -> dict:
    """The numbers of partition 0's `matcher.restored` log line (a JSON line: certx.logs)."""
    entry = next(e for e in logs.read(text) if e.get("event") == "matcher.restored" and e.get("partition") == 0)
    return {k: v for k, v in entry.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


async def bench(args: argparse.Namespace) -> dict:
    logdir = Path(tempfile.mkdtemp(prefix="certx-recovery-bench-"))
    rules_file = cea.write_rules(logdir / "rules.json")
    result: dict = {"machine": machine(), "target_s": TARGET_S, "commands": args.commands,
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    async with Deployment(args.bootstrap, "recovery") as d:
        admin = d.as_("admin")
        tp = TopicPartition(d.topics.commands, 0)
        t0 = time.perf_counter()
        await preload(d.as_("gateway"), d.topics.commands, 0, b"CEA", chunks(args.commands))
        total = (await end_offsets(admin, [tp]))[tp]
        result["preload"] = {"records": total, "seconds": round(time.perf_counter() - t0, 1)}
        print(f"recovery: pre-loaded {total:,} commands in {result['preload']['seconds']}s", flush=True)

        snapshot_every = max(1, total - args.tail)
        extra = ("--rules", str(rules_file), "--snapshot-every", str(snapshot_every))
        first = service(d, "matcher", logdir, *extra, log_name="matcher-first")
        trace = await wait_committed(admin, d.topics.group("matcher"), {tp: total}, 300, (first,), every=0.2,
                                     pids=(first.proc.pid, broker_pid()))
        start = next(x for x in trace if x[1] > 0)
        seconds = trace[-1][0] - start[0]
        done = total - start[1]
        result["first_pass"] = {
            "commands": done, "seconds": round(seconds, 1), "commands_per_s": round(done / seconds),
            "matcher_cpu_share": round((trace[-1][2] - start[2]) / seconds, 2),
            "broker_cpu_share": round((trace[-1][3] - start[3]) / seconds, 2),
            "matcher_peak_rss_mb": vm_hwm_mb(first.proc.pid), "snapshot_every": snapshot_every}
        first_pass = result["first_pass"]
        print(f"recovery: the matcher chewed {done:,} commands in {seconds:.0f}s: {first_pass['commands_per_s']:,}/s, "
              f"peak RSS {first_pass['matcher_peak_rss_mb']} MB", flush=True)

        result["resting_orders_at_the_snapshot"] = await resting_orders(d)
        print(f"recovery: {result['resting_orders_at_the_snapshot']:,} orders resting at the snapshot", flush=True)

        restarts, running = [], first
        for i in range(args.restarts):
            running.kill9()
            evicted = await evicted_after(d)
            running, figures = await restart(d, logdir, extra, total + i, i)
            restarts.append({"dead_member_evicted_after_s": evicted, **figures})
            print(f"recovery: restart {i + 1}: {figures['process_started_to_s']}", flush=True)
        running.stop()
    result["restarts"] = restarts
    phases = restarts[0]["process_started_to_s"]
    result["restart"] = {
        **{k: spread([r["process_started_to_s"][k] for r in restarts]) for k in phases},
        "dead_member_evicted_after_s": spread([r["dead_member_evicted_after_s"] for r in restarts]),
        **{k: spread([r[k] for r in restarts]) for k in ("snapshot_read_s", "snapshot_decode_s", "replay_s")},
        **{k: restarts[0][k] for k in ("snapshot_mb", "snapshot_position", "tail_commands_replayed")},
        "meets_target": median([r["process_started_to_s"]["c_first_new_batch_committed"] for r in restarts])
        <= TARGET_S,
    }
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    for f in sorted(logdir.iterdir()):
        f.unlink()
    logdir.rmdir()
    return result


async def resting_orders(d: Deployment) -> int:
    """How many orders rest in the book the snapshot holds: the snapshot read back and loaded here."""
    from certx.engine import snapshot
    from certx.kafka import snapshots

    found = await snapshots.latest(d.as_("admin"), d.topics.snapshots, 0, 2**62)
    blob = found.blob if found else None
    engine, _ = snapshot.load(blob, cea.all_day_rules())
    return len(engine.products["CEA21"].book.orders)


async def evicted_after(d: Deployment) -> float:
    """Seconds until the group has no member left (the killed one's session expired)."""
    killed = time.monotonic()
    while await members(d.as_("admin"), d.topics.group("matcher")):
        await asyncio.sleep(0.05)
    return round(time.monotonic() - killed, 2)


async def restart(d: Deployment, logdir: Path, extra: tuple, stamp: int, i: int) -> tuple[Worker, dict]:
    """Start a matcher, write one new command as it starts, and time the phases until that command's event is
    read back committed. Returns the running matcher and its figures."""
    events = TopicPartition(d.topics.events, 0)
    reader = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False, fetch_max_wait_ms=20,
                              **d.as_("operator").aiokafka())
    await reader.start()
    try:
        reader.assign([events])
        await reader.seek_to_end(events)
        await reader.position(events)
        matcher = service(d, "matcher", logdir, *extra, log_name=f"matcher-restart-{i}")
        born = matcher.started
        ref = f"after-restart-{i}"
        new = c.OrderNew(order_id=ref, actor="B0", account="A0", product="CEA21", side="buy", quantity=1,
                         price=Price(4600))
        await preload(d.as_("gateway"), d.topics.commands, 0, b"CEA", [(cea.logged([new]), [AT + stamp])])
        watch = {line: asyncio.create_task(matcher.wait_for(line, 300, every=0.005))
                 for line in ("matcher.started", "matcher.restored", "matcher.assigned")}
        answered = None
        while answered is None:
            for records in (await reader.getmany(events, timeout_ms=100)).values():
                if any(f'"{ref}"'.encode() in r.value for r in records):
                    answered = time.monotonic()
            if time.monotonic() - born > 300:
                raise TimeoutError(f"no answer 300 s after the restart:\n{matcher.tail()}")
        seen = {line: await task - born for line, task in watch.items()}
    finally:
        await reader.stop()
    fields = restored_fields(matcher.text())
    restored = seen["matcher.restored"]
    return matcher, {
        "process_started_to_s": {
            "matcher_started": round(seen["matcher.started"], 3),
            "a_snapshot_decoded": round(restored - fields["replay_s"], 3),
            "b_tail_replayed": round(restored, 3),
            "partitions_assigned": round(seen["matcher.assigned"], 3),
            "c_first_new_batch_committed": round(answered - born, 3)},
        "snapshot_mb": round(fields["snapshot_bytes"] / 1e6, 1), "snapshot_read_s": fields["snapshot_read_s"],
        "snapshot_decode_s": fields["snapshot_decode_s"], "snapshot_position": fields["snapshot_position"],
        "tail_commands_replayed": fields["replayed"], "replay_s": fields["replay_s"],
        "commands_in_engine": fields["commands"], "matcher_peak_rss_mb": vm_hwm_mb(matcher.proc.pid),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", type=int, default=10_000_000)
    ap.add_argument("--tail", type=int, default=20_000, help="commands after the snapshot (about)")
    ap.add_argument("--restarts", type=int, default=3, help="kill -9 and restart this many times (medians)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "recovery.json"))
    ap.add_argument("--bootstrap", default=bootstrap())
    args = ap.parse_args()
    result = run_bench(bench, args)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
