"""Real trade days through the real stack: the operator's replay path (`certx submit FILE --replay --speed S
--measures`) into the gateway, the matcher, the projector and PostgreSQL, on the broker of deploy/kafka.sh.

    python -m loadtest.replay_bench [--modes history,ceiling,stress] [--from 2021-07-16] [--to 2026-08-07]
                                    [--ceiling-start 8000] [--ceiling-runs 7] [--ceiling-speeds 8000,...]
                                    [--p99-ms 50] [--no-marketdata] [--out loadtest/results/replay.json]

- history: every CEA day of the range (by default the whole official history) at `--speed max`. Figures: time
  taken, commands, trades, latency (command -> committed event, command -> settled row) p50/p99/p99.9/max, the
  peak matcher and projector lag, every day summary against the official row (mismatches listed), and the
  trades in PostgreSQL against the trades published. The events are read back (`certx tail events --json`) and
  `certx report` draws them with the measures: loadtest/results/replay-history.html.
- ceiling: December 2021, the busiest real period (the tide before the first compliance deadline), after its
  two trading days before at full speed to warm the fresh stack (not measured), at speed-ups
  that double from `--ceiling-start` while p99 (command -> committed event) stays within `--p99-ms`, halve while
  it does not, then bisect between the highest that held and the lowest that did not. Each run in a fresh
  deployment (topics, groups, schema of its own), so no run inherits another's backlog.
- stress: 2021-12-16, the busiest real day, with every participant's commands ten times over
  (`certx days build --copies 10`) at `--speed max`.

Each mode replaces its own entry in the results file. Not a test: the history takes minutes.
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from certx.days import build, official
from certx.kafka.measures import CST
from certx.kafka.submit import recorded_ms
from certx.wire.codec import decode_event
from loadtest.cluster import PYTHON, ROOT, Deployment, bootstrap, cpu_seconds, machine, service, stop_all
from loadtest.days_bench import mismatches
from loadtest.settlement_bench import Schemas, postgres_dsn

DECEMBER_2021 = (dt.date(2021, 12, 1), dt.date(2021, 12, 31))
BUSIEST_DAY = dt.date(2021, 12, 16)
RESULTS = ROOT / "loadtest" / "results"
MATCHER_ARGS: list[str] = []            # `--no-marketdata`: the same runs without the quotes feed
TERMINAL = sys.stderr.isatty()          # submit's progress bar (the replayed day, the lag) on a terminal only


class Stack:
    """A deployment of its own with the gateway, the matcher and the projector (into a schema of its own), each
    logged in as its principal."""

    def __init__(self, name: str, schemas: Schemas, logdir: Path) -> None:
        self.name, self.schemas, self.logdir = name, schemas, logdir
        self.matcher_args = MATCHER_ARGS

    async def __aenter__(self) -> "Stack":
        self.deployment = await Deployment(bootstrap(), self.name).__aenter__()
        _, self.db = self.schemas.new(self.name.replace("-", "_"))
        d, tag = self.deployment, self.name
        self.workers = [service(d, "matcher", self.logdir, *self.matcher_args, log_name=f"{tag}-matcher"),
                        service(d, "gateway", self.logdir, log_name=f"{tag}-gateway"),
                        service(d, "projector", self.logdir, "--db", self.db, log_name=f"{tag}-projector")]
        for worker, ready in zip(self.workers, ("matcher.assigned", "gateway.started", "projector.started")):
            await worker.wait_for(ready)
        return self

    async def __aexit__(self, *exc) -> None:
        for worker in self.workers:
            worker.stop()
        await self.deployment.__aexit__(*exc)

    def operator(self, *argv: str, timeout: float, progress: bool = False) -> subprocess.CompletedProcess:
        """certx as the operator, in this deployment; with `progress`, its stderr (a progress bar) goes to ours."""
        kafka = self.deployment.as_("operator")
        env = {**os.environ, "CERTX_KAFKA_USER": kafka.username, "CERTX_KAFKA_PASSWORD": kafka.password}
        env.pop("CERTX_KAFKA_CONFIG", None)
        return subprocess.run([PYTHON, "-m", "certx.cli", *argv, "--bootstrap", kafka.bootstrap,
                               "--prefix", self.deployment.topics.prefix], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=None if progress else subprocess.PIPE,
                              timeout=timeout)

    def submit(self, stream: Path, speed: float | None, measures: Path) -> subprocess.CompletedProcess:
        """The operator's replay path, measured: returns once every answer and settlement is in (or 900 s)."""
        return self.operator("submit", str(stream), "--replay", "--speed", "max" if speed is None else f"{speed:g}",
                             "--measures", str(measures), "--catch-up-timeout", "900",
                             *(() if TERMINAL else ("--quiet",)), timeout=7200, progress=TERMINAL)

    def cpu(self) -> dict[str, float]:
        return {w.name.rsplit("-", 1)[1]: round(cpu_seconds(w.proc.pid), 1) for w in self.workers}

    def settled_trades(self) -> tuple[int, int]:
        """(rows, distinct trade ids) in the projector's trades table."""
        with psycopg.connect(self.db) as conn:
            return conn.execute("SELECT count(*), count(DISTINCT trade_id) FROM trades").fetchone()


async def replay(name: str, stream: Path, speed: float | None, schemas: Schemas, logdir: Path,
                 official_check: bool = True, report: Path | None = None, warm_up: Path | None = None) -> dict:
    """One stream through a fresh stack at one speed-up; the figures of `certx submit --measures`, and what
    this run checks around them. `warm_up`, the days just before, goes first at full speed and is not measured:
    a fresh deployment's first transactions and the year's set-up burst are not the period's latency."""
    measures_file = logdir / f"{name}-measures.json"
    async with Stack(name, schemas, logdir) as stack:
        warmed = {"commands": 0, "trades": 0}
        if warm_up is not None:
            warm_file = logdir / f"{name}-warm-up-measures.json"
            done = await asyncio.to_thread(stack.submit, warm_up, None, warm_file)
            warm = json.loads(warm_file.read_text())["run"]
            warmed = {"commands": warm["commands"], "trades": warm["trades"], "caught_up": done.returncode == 0}
        t0 = time.monotonic()
        submit = await asyncio.to_thread(stack.submit, stream, speed, measures_file)
        took = time.monotonic() - t0
        if not measures_file.is_file():
            raise RuntimeError(f"{name}: certx submit wrote no measures:\n{submit.stdout.decode()}"
                               f"{(submit.stderr or b'(its stderr is above)').decode()[-3000:]}")
        measured = json.loads(measures_file.read_text())
        run, per_day = measured["run"], measured["days"].values()
        rejections: dict[str, int] = {}
        for day in per_day:
            for reason, n in day["rejections"].items():
                rejections[reason] = rejections.get(reason, 0) + n
        rows, distinct = await asyncio.to_thread(stack.settled_trades)
        cpu = stack.cpu()
        figures = {
            "speed": speed or "max", "seconds": round(took, 1), "caught_up": submit.returncode == 0,
            "commands": run["commands"], "answered": run["answered"], "unanswered": run["unanswered"],
            "events": sum(day["events"] for day in per_day), "trades": run["trades"], "settled": run["settled"],
            "settled_rows": rows, "settled_distinct": distinct,
            "warm_up": warmed if warm_up is not None else None,
            "settled_once": rows == distinct == run["trades"] + warmed["trades"], "settled_equals_trades": run["settled_equals_trades"],
            "commands_per_s": run["commands_per_s"], "latency": run["latency"],
            "settle_latency": run["settle_latency"], "peak_matcher_lag": run["peak_matcher_lag"],
            "peak_projector_lag": run["peak_projector_lag"], "rejections": rejections,
            "cpu_seconds": cpu,
        }
        if official_check:
            figures.update(official_figures(run["summaries"]))
        if report is not None:
            figures["report"] = await asyncio.to_thread(draw, stack, measures_file, report)
    return figures


def official_figures(summaries: list[dict]) -> dict:
    """Every CEA day summary the engine published against the official row (DOMAIN D3-D5), and the official
    rows of the replayed days that got no summary at all."""
    days = [decode_event(json.dumps(s).encode()) for s in summaries]
    cea = [d for d in days if d.product.startswith("CEA")]
    wrong = [m for d in cea for m in mismatches(d, {})]
    got = {(d.date, d.product) for d in cea}
    first, last = min(d.date for d in cea), max(d.date for d in cea)
    missing = [f"{row.date} {row.product}" for day in official.trading_days(first, last)
               for row in official.cea_days().get(day, ()) if (row.date, row.product) not in got]
    return {"cea_summaries": len(cea), "mismatches": len(wrong) + len(missing), "mismatched": wrong[:100],
            "missing_summaries": missing[:100]}


def draw(stack: Stack, measures_file: Path, page: Path) -> dict:
    """Read the run's events back as the operator, and draw the report with its measures."""
    events = stack.logdir / f"{stack.name}-events.jsonl"
    tail = stack.operator("tail", "events", "--json", timeout=1800)
    if tail.returncode != 0:
        return {"error": tail.stderr.decode()[-2000:]}
    events.write_bytes(tail.stdout)
    csvs = sorted(str(p) for p in official.data_dir().glob("cea_daily_*.csv"))
    made = subprocess.run([PYTHON, "-m", "certx.cli", "report", str(events), "--measures", str(measures_file),
                           "--official", *csvs, "--out", str(page)], cwd=ROOT, capture_output=True, timeout=1800)
    if made.returncode != 0:
        return {"error": made.stderr.decode()[-2000:]}
    compared = json.loads(page.with_suffix(".json").read_text()).get("official") or {}
    return {"page": str(page.relative_to(ROOT)), "events": tail.stdout.count(b"\n"),
            "compared": compared.get("compared"), "matched": compared.get("matched")}


async def history(args, schemas: Schemas, logdir: Path) -> dict:
    stream = logdir / "history.jsonl"
    days, commands = build.write(stream, args.first, args.last, markets=("CEA",))
    figures = await replay("history", stream, None, schemas, logdir, report=RESULTS / "replay-history.html")
    return {"from": args.first.isoformat(), "to": args.last.isoformat(), "trading_days": days, **figures}


async def ceiling(args, schemas: Schemas, logdir: Path) -> dict:
    """The highest speed-up whose p99 (command -> committed event) is within the bound on December 2021."""
    whole, stream, warm_up = logdir / "ceiling.jsonl", logdir / "december-2021.jsonl", logdir / "warm-up.jsonl"
    build.write(whole, DECEMBER_2021[0] - dt.timedelta(days=2), DECEMBER_2021[1], markets=("CEA",))
    days = len(official.trading_days(*DECEMBER_2021))
    commands = split(whole, DECEMBER_2021[0], warm_up, stream)
    runs: list[dict] = []
    held, failed = None, None

    async def attempt(speed: float) -> bool:
        figures = await replay(f"ceiling-{int(speed)}", stream, speed, schemas, logdir, warm_up=warm_up)
        p99 = figures["latency"].get("p99_ms")
        ok = figures["caught_up"] and figures["mismatches"] == 0 and p99 is not None and p99 <= args.p99_ms
        runs.append({**figures, "within_bound": ok})
        print(f"ceiling: speed {speed:g}: p99 {p99} ms, {'held' if ok else 'missed'}", file=sys.stderr, flush=True)
        return ok

    if args.ceiling_speeds:
        for speed in map(float, args.ceiling_speeds.split(",")):
            if await attempt(speed):
                held = speed if held is None else max(held, speed)
            else:
                failed = speed if failed is None else min(failed, speed)
    speed = float(args.ceiling_start)
    while len(runs) < args.ceiling_runs and not args.ceiling_speeds:
        if held is not None and failed is not None:
            if failed / held <= 1.2:
                break
            speed = round((held * failed) ** 0.5)       # bisect on the log scale: speed-ups double
        if await attempt(speed):
            held = speed if held is None else max(held, speed)
            if failed is None:
                speed *= 2
        else:
            failed = speed if failed is None else min(failed, speed)
            if held is None:
                speed /= 2
    return {"period": f"{DECEMBER_2021[0]}..{DECEMBER_2021[1]}", "trading_days": days, "commands": commands,
            "p99_bound_ms": args.p99_ms, "ceiling_speed": held, "lowest_missed": failed, "runs": runs}


def split(whole: Path, first: dt.date, before: Path, rest: Path) -> int:
    """Split a built stream at the first command of `first` (in the exchange's time); the lines from there on."""
    moved, n = False, 0
    with open(whole, "rb") as lines, open(before, "wb") as a, open(rest, "wb") as b:
        for line in lines:
            moved = moved or recorded_day(line) >= first
            (b if moved else a).write(line)
            n += moved
    return n


def recorded_day(line: bytes) -> dt.date:
    return dt.datetime.fromtimestamp(recorded_ms(line) / 1000, CST).date()


async def stress(args, schemas: Schemas, logdir: Path) -> dict:
    stream = logdir / "stress.jsonl"
    days, commands = build.write(stream, BUSIEST_DAY, BUSIEST_DAY, markets=("CEA",), copies=args.copies)
    figures = await replay("stress", stream, None, schemas, logdir, official_check=False)
    return {"day": BUSIEST_DAY.isoformat(), "copies": args.copies, **figures}


MODES = {"history": history, "ceiling": ceiling, "stress": stress}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modes", default="history,ceiling,stress")
    ap.add_argument("--from", dest="first", type=dt.date.fromisoformat, default=dt.date(2021, 7, 16))
    ap.add_argument("--to", dest="last", type=dt.date.fromisoformat, default=dt.date(2026, 8, 7))
    ap.add_argument("--ceiling-start", type=float, default=8000)
    ap.add_argument("--ceiling-runs", type=int, default=7)
    ap.add_argument("--ceiling-speeds", help="comma-separated speed-ups to run as they are, instead of the search")
    ap.add_argument("--p99-ms", type=float, default=50.0)
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--no-marketdata", action="store_true",
                    help="run the matcher without its quotes feed (certx serve matcher --no-marketdata), to see what "
                         "the feed costs")
    ap.add_argument("--out", type=Path, default=RESULTS / "replay.json")
    args = ap.parse_args()
    if args.no_marketdata:
        MATCHER_ARGS.append("--no-marketdata")
    modes = args.modes.split(",")
    unknown = set(modes) - set(MODES)
    if unknown:
        ap.error(f"unknown modes {sorted(unknown)}: choose from {sorted(MODES)}")
    # a directory of this run's own: a service's log is appended to, and an old "started" would pass for new
    logdir = ROOT / ".cache" / "bench-logs" / "replay" / dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    logdir.mkdir(parents=True)
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))     # so that the finally below runs
    dsn, started_pg = postgres_dsn()
    schemas = Schemas(dsn)
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    try:
        for mode in modes:
            results[mode] = asyncio.run(MODES[mode](args, schemas, logdir))
            results["machine"] = machine()
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
            print(json.dumps({mode: results[mode]}, indent=2, ensure_ascii=False)[:4000], flush=True)
    finally:
        stop_all()
        schemas.drop_all()
        if started_pg:
            subprocess.run(["bash", "deploy/postgres.sh", "stop"], cwd=ROOT, timeout=120)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
