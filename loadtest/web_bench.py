"""The market page under load (issue 14's target: "the page shows a trade within 250 ms of its commit at 2,000
commands/s").

Each round is a deployment of its own: the gateway, the matcher (all-day sessions, so the flow trades on today's
date, the command time being the wall clock) and `certx serve web`, each as its principal, and Debian's headless
Chromium showing the page with `?measure`, which makes the page note when it first draws each trade (page.js:
`window.certxShown`, trade id -> Date.now()). After the set-up (on the operator's replay path), broker B0 sends
the listing flow of the Kafka benchmark (loadtest.engine_bench.listing_flow) to its inbound topic at --rate
commands a second for --seconds. A read_committed reader of `certx.events` notes when it gets each trade.

Per trade shown, from the same machine's clock:
- from the commit, the target's figure: shown - when the benchmark's own read_committed reader got the trade's
  record, i.e. just after the matcher's transaction committed (a committed record is readable at once; the
  reader's fetch adds a few ms, so this errs slightly in the page's favour). It spans the page's reader, the
  server's frame and the browser's drawing.
- from the exchange's time: shown - the trade's record timestamp. `certx.events` is not a LogAppendTime topic:
  the matcher stamps each event with its command's time, the broker's append time of the inbound record. So
  this also spans the gateway and the matcher (`exchange_time_to_commit`): the whole way from a broker's order to
  the page, an upper bound of commit -> shown.
The page's tape keeps each product's last 12 trades a message, at most one message a frame (certx.web.app), so
at this rate some trades are conflated away before they are ever drawn: those are counted, not timed.

    python -m loadtest.web_bench [--seconds 30] [--rate 2000] [--rounds 3] [--out loadtest/results/web.json]

Needs the broker of deploy/kafka.sh (loadtest/run.sh starts it) and Chromium (deploy/test.sh installs it).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer, TopicPartition

from certx import logs
from certx.wire.codec import decode_event, encode
from loadtest import cea
from loadtest.cluster import (Deployment, bootstrap, cpu_seconds, last_data_offset, machine, percentile, preload,
                              run_bench, service, spread, wait_committed)
from loadtest.engine_bench import listing_flow
from loadtest.kafka_latency import Reader, now_ms, offer
from tests.report.browser import Browser

TARGET_MS = 250.0
SETTLE_S = 2.0          # after the last commit: the page's last frames


def cpu(workers: dict, browser: Browser) -> dict[str, float]:
    """CPU seconds so far of each service (with its supervised child) and of the browser (chromedriver and every
    Chromium process under it)."""
    return {**{name: cpu_seconds(w.proc.pid) for name, w in workers.items()},
            "chromium": cpu_seconds(browser.driver.pid)}


def figures(lat: list[float]) -> dict:
    lat = sorted(lat)
    return {"p50_ms": round(percentile(lat, 0.50), 1), "p99_ms": round(percentile(lat, 0.99), 1),
            "max_ms": round(lat[-1], 1) if lat else None}


async def one_round(bs: str, seconds: float, rate: int, rules_file: Path, logdir: Path, i: int) -> dict:
    async with Deployment(bs, f"web{i}") as d:
        today = dt.datetime.now(cea.CST).date()
        setup = cea.setup_commands(today)
        admin = d.as_("admin")
        commands = TopicPartition(d.topics.commands, 0)
        matcher = service(d, "matcher", logdir, "--rules", str(rules_file), log_name=f"web-matcher-{i}")
        gateway = service(d, "gateway", logdir, log_name=f"web-gateway-{i}")
        web = service(d, "web", logdir, "--port", "0", log_name=f"web-{i}")
        workers = (matcher, gateway, web)
        named = {"gateway": gateway, "matcher": matcher, "web": web}
        browser = None
        try:
            await matcher.wait_for("matcher.assigned")
            await gateway.wait_for("gateway.started")
            await web.wait_for("service.http")
            await preload(d.as_("operator"), d.topics.replay, 0, None,
                          [(cea.replayed(setup, [int(now_ms())] * len(setup)), None)])
            await wait_committed(admin, d.topics.group("gateway"), {TopicPartition(d.topics.replay, 0): len(setup)},
                                 120, workers)
            after_setup = await last_data_offset(admin, commands)
            await wait_committed(admin, d.topics.group("matcher"), {commands: after_setup}, 120, workers)
            browser = Browser(logdir / f"chromium-{i}", reach=("127.0.0.1",))
            port = logs.last(web.text(), "service.http")["port"]
            browser.open(f"http://127.0.0.1:{port}/?measure")
            deadline = time.monotonic() + 30
            while browser.run("return document.documentElement.dataset.ready || null") != "yes":
                assert time.monotonic() < deadline, "the page never connected"
                await asyncio.sleep(0.1)
            flow = [encode(cmd) for cmd in listing_flow(int(seconds * rate) + rate, seed=3, broker=0)]
            b0 = d.as_("B0")
            producer = AIOKafkaProducer(enable_idempotence=True, acks="all", linger_ms=0, **b0.aiokafka())
            await producer.start()
            try:
                async with Reader(d.as_("operator"), d.topics.events) as reader:
                    start = now_ms()
                    cpu_before = cpu(named, browser)
                    sent_at, offered = await offer(producer, d.topics.inbound("B0"), flow, rate, seconds, None,
                                                   False)
                    inbound = TopicPartition(d.topics.inbound("B0"), 0)
                    await wait_committed(admin, d.topics.group("gateway"), {inbound: len(sent_at)}, 60, workers)
                    last = await last_data_offset(admin, commands)
                    await wait_committed(admin, d.topics.group("matcher"), {commands: last}, 60, workers)
                    cpu_used = {k: round(v - cpu_before[k], 2) for k, v in cpu(named, browser).items()}
                    await reader.drain()
            finally:
                await producer.stop()
            await asyncio.sleep(SETTLE_S)
            shown: dict[str, float] = browser.run("return window.certxShown")
            console = browser.log("browser")
        finally:
            if browser is not None:
                browser.close()
            for w in workers:
                w.stop()
    trades = [(received, r.timestamp, decode_event(r.value)) for received, r in reader.got
              if r.timestamp >= int(start) and r.value.startswith(b'{"type":"trade"')]
    timed = [(shown[ev.trade_id], received, stamp) for received, stamp, ev in trades if ev.trade_id in shown]
    res = {"commands": len(sent_at), "seconds": round(offered, 2),
           "achieved_commands_per_s": round(len(sent_at) / offered), "trades": len(trades),
           "trades_shown": len(timed), "trades_conflated_away": len(trades) - len(timed),
           "from_exchange_time": figures([at - stamp for at, _, stamp in timed]),
           "from_commit": figures([at - received for at, received, _ in timed]),
           "exchange_time_to_commit": figures([received - stamp for _, received, stamp in timed]),
           "cpu_seconds_during_the_load": cpu_used,
           "console": [f"{e['level']}: {e['message']}" for e in console]}
    commit, exchange = res["from_commit"], res["from_exchange_time"]
    print(f"  round {i + 1}: {res['trades_shown']:,} of {res['trades']:,} trades shown; commit -> shown p50 "
          f"{commit['p50_ms']} ms, p99 {commit['p99_ms']} ms, max {commit['max_ms']} ms; from the exchange's time "
          f"p50 {exchange['p50_ms']} ms, p99 {exchange['p99_ms']} ms", flush=True)
    return res


async def bench(args: argparse.Namespace) -> dict:
    logdir = Path(tempfile.mkdtemp(prefix="certx-web-bench-"))
    rules_file = cea.write_rules(logdir / "rules.json")
    result: dict = {"machine": machine(), "target_ms": TARGET_MS, "offered_commands_per_s": args.rate,
                    "seconds_per_round": args.seconds,
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        rounds = [await one_round(args.bootstrap, args.seconds, args.rate, rules_file, logdir, i)
                  for i in range(args.rounds)]
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    for basis in ("from_commit", "from_exchange_time", "exchange_time_to_commit"):
        result[basis] = {k: spread([r[basis][k] for r in rounds]) for k in ("p50_ms", "p99_ms", "max_ms")}
    result["meets_target"] = result["from_commit"]["p99_ms"]["median"] <= TARGET_MS
    result["rounds"] = rounds
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0, help="seconds of offered load a round")
    ap.add_argument("--rate", type=int, default=2_000, help="offered load, commands/s")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (fresh deployments); the figures are medians")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "web.json"))
    ap.add_argument("--bootstrap", default=bootstrap())
    result = run_bench(bench, ap.parse_args())
    print(json.dumps({k: v for k, v in result.items() if k not in ("machine", "rounds")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
