"""What the market-data feed (certx.marketdata, issue 14) costs the matcher: loadtest.kafka_bench's figure 1a (the
matcher alone on pre-loaded commands, real broker, SASL and ACLs) with the feed and with `--no-marketdata`, in
alternating order each round (fresh deployments; medians with their spread), and the same split in process
(certx.kafka.batch.run in 10,000-record batches with and without the quotes, CPU µs per command: no Kafka, no
noise from the shared host). Target: the feed costs at most 10% of the matcher's throughput.

    python -m loadtest.marketdata_bench [--commands 300000] [--rounds 3] [--out loadtest/results/marketdata.json]

The flow is kafka_bench's: loadtest.engine_bench.listing_flow (CEA limit orders near the mid, ~10% crossing, 25%
cancels) on one product, so every batch changes it and is quoted: one quote per batch.
"""
from __future__ import annotations

import argparse
import collections
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import TopicPartition

from certx.engine import Engine
from certx.kafka import batch
from certx.marketdata import Changes, quotes
from certx.wire.codec import encode
from loadtest import cea
from loadtest.cluster import (Deployment, bootstrap, end_offsets, machine, median, preload, read_kinds, run_bench,
                              service, spread)
from loadtest.engine_bench import AT, listing_flow
from loadtest.kafka_bench import NEVER, measure

TARGET_COST = 0.10          # of the matcher's commands per second


async def alone(bs: str, values: list[bytes], stamps: list[int], kinds: dict, rules_file: Path, logdir: Path,
                name: str, feed: bool, timeout: float) -> dict:
    """kafka_bench 1a, with or without the feed: commands per second from the first commit to the last."""
    async with Deployment(bs, name) as d:
        tp = TopicPartition(d.topics.commands, 0)
        await preload(d.as_("gateway"), d.topics.commands, 0, b"CEA", [(values, stamps)])
        total = (await end_offsets(d.as_("admin"), [tp]))[tp]
        load = os.getloadavg()[0]
        extra = () if feed else ("--no-marketdata",)
        w = service(d, "matcher", logdir, "--rules", str(rules_file), "--snapshot-every", NEVER, *extra,
                    log_name=name)
        m = await measure(d, w, d.topics.group("matcher"), {tp: total}, timeout)
        m["feed"] = feed
        m["load_average_1m_before"] = round(load, 2)
        got = await read_kinds(d.as_("operator"), TopicPartition(d.topics.events, 0))
        m["events_match_embedded_engine"] = dict(got) == kinds
        quoted = TopicPartition(d.topics.marketdata, 0)
        m["quotes"] = (await end_offsets(d.as_("admin"), [quoted]))[quoted]   # with the transactions' markers
        print(f"  {'with' if feed else 'without'} the feed: {m['records_per_s']:,} commands/s, "
              f"{m.get('records_per_cpu_s')} per CPU-second, marketdata end offset {m['quotes']:,}, events as "
              f"embedded: {m['events_match_embedded_engine']}", flush=True)
        return m


def in_process(values: list[bytes], stamps: list[int], rules, rounds: int) -> dict:
    """batch.run over the same records in 10,000-record batches, with the quotes of each batch computed and encoded
    and without: CPU µs per command (best of `rounds`, garbage collector off, as kafka_bench's ceiling)."""
    Rec = collections.namedtuple("Rec", "partition offset timestamp key value")
    records = [Rec(0, i, ts, b"CEA", v) for i, (v, ts) in enumerate(zip(values, stamps))]

    def once(feed: bool) -> tuple[float, int]:
        engine, quoted = Engine("CEA", rules), 0
        gc.collect()
        gc.disable()
        c0 = time.process_time()
        for i in range(0, len(records), 10_000):
            changes = Changes() if feed else None
            batch.run(engine, records[i:i + 10_000], "commands", changes=changes)
            if changes is not None:
                quoted += len(list(map(encode, quotes(engine, changes))))
        cpu = time.process_time() - c0
        gc.enable()
        return cpu * 1e6 / len(records), quoted

    runs = {True: [], False: []}
    for _ in range(rounds):
        for feed in (True, False):
            runs[feed].append(once(feed))
    with_feed, without = min(us for us, _ in runs[True]), min(us for us, _ in runs[False])
    return {"cpu_us_per_command_with_feed": round(with_feed, 3), "cpu_us_per_command_without": round(without, 3),
            "cost": round(1 - without / with_feed, 4), "quotes": runs[True][0][1], "batch_records": 10_000}


async def bench(args: argparse.Namespace) -> dict:
    result: dict = {"machine": machine(), "target_cost": TARGET_COST,
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    cmds = cea.setup_commands(cea.day_of(AT)) + listing_flow(args.commands)
    stamps = [AT + i // 100 for i in range(len(cmds))]        # 100 commands a millisecond, as kafka_bench
    values = cea.logged(cmds)
    rules = cea.all_day_rules()
    kinds, _, _ = cea.expected_run(values, stamps, rules)
    result["in_process"] = in_process(values, stamps, rules, args.rounds)
    print(f"in process: {result['in_process']}", flush=True)
    logdir = Path(tempfile.mkdtemp(prefix="certx-marketdata-bench-"))
    rules_file = cea.write_rules(logdir / "rules.json")
    runs: dict[bool, list[dict]] = {True: [], False: []}
    try:
        for i in range(args.rounds):
            order = (True, False) if i % 2 == 0 else (False, True)   # neither always runs first
            print(f"round {i + 1}:", flush=True)
            for feed in order:
                runs[feed].append(await alone(args.bootstrap, values, stamps, kinds, rules_file, logdir,
                                              f"md{i}{'f' if feed else 'n'}", feed, 120.0))
    finally:
        for f in sorted(logdir.iterdir()):
            f.unlink()
        logdir.rmdir()
    with_feed, without = (spread([r["records_per_s"] for r in runs[f]]) for f in (True, False))
    cpu_with, cpu_without = (spread([r["records_per_cpu_s"] for r in runs[f] if r.get("records_per_cpu_s")])
                             for f in (True, False))
    cost = 1 - with_feed["median"] / without["median"]
    cpu_cost = 1 - cpu_with["median"] / cpu_without["median"] if cpu_with and cpu_without else None
    # Each round's two runs back to back: their ratio cancels the host's slower drifts (other work on it)
    paired = [1 - f["records_per_s"] / n["records_per_s"] for f, n in zip(runs[True], runs[False])]
    paired_cpu = [1 - f["records_per_cpu_s"] / n["records_per_cpu_s"] for f, n in zip(runs[True], runs[False])
                  if f.get("records_per_cpu_s") and n.get("records_per_cpu_s")]
    result["matcher_alone"] = {
        "commands": len(values), "listing_commands": args.commands,
        "with_feed": {"commands_per_s": with_feed, "commands_per_cpu_s": cpu_with},
        "without_feed": {"commands_per_s": without, "commands_per_cpu_s": cpu_without},
        "cost_per_wall_second": round(cost, 4),
        "cost_per_cpu_second": round(cpu_cost, 4) if cpu_cost is not None else None,
        "cost_paired_by_round": {"per_wall_second": spread([round(x, 4) for x in paired]),
                                 "per_cpu_second": spread([round(x, 4) for x in paired_cpu])},
        "all_runs_match_embedded_engine": all(r["events_match_embedded_engine"] for f in runs for r in runs[f]),
        "runs": runs[True] + runs[False],
    }
    result["meets_target"] = {"in_process": result["in_process"]["cost"] <= TARGET_COST,
                              "matcher_alone_paired": median(paired) <= TARGET_COST}
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"matcher alone: {with_feed['median']:,.0f} commands/s with the feed, {without['median']:,.0f} without: "
          f"the feed costs {cost:.1%} (per CPU-second {cpu_cost if cpu_cost is None else f'{cpu_cost:.1%}'}; "
          f"paired by round {median(paired):.1%}); "
          f"in process {result['in_process']['cost']:.1%}", flush=True)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", type=int, default=300_000, help="CEA listing commands per run")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; each runs the matcher with and without the feed")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "marketdata.json"))
    ap.add_argument("--bootstrap", default=bootstrap())
    args = ap.parse_args()
    run_bench(bench, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
