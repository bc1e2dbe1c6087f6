"""Benchmark of settlement: engine events -> Ledger -> Journal -> Store (PostgreSQL), pure and through Kafka.

    python -m loadtest.settlement_bench [--certificates 1000000000] [--trades 200000]
                                        [--out loadtest/results/settlement.json]

Needs the PostgreSQL of deploy/postgres.sh (used if running, else started here and stopped at the end) and, for
part 2, the broker of deploy/kafka.sh. Every run works in schemas of its own (`bench_<uuid>_*`, reached with
`?options=-csearch_path=...` in the DSN) and a Kafka deployment of its own (loadtest.cluster.Deployment: topics
and ACLs for a prefix), dropped at the end.

1. Pure settlement (no Kafka): a stream of GEC events built directly (certx.wire.events): FundsDeposited for
   200 accounts, Issued with serials for 1,000 issuance batches (5 per account) covering --certificates serials,
   then --settle-trades Trade events (market GEC, origin partition 2 with increasing offsets, increasing seq),
   each a lot of (certificates / trades) serials. Lots are taken from the issuance batches in a scattered order
   (an affine permutation of the lot slots), so holdings and the cancelled set fragment and merge again as they
   would in a real market. The events are generated in chunks of --batch outside the clock; the clock runs over
   Journal.add (Ledger.apply + provenance rows + settlement encoding), Journal.take and Store.write (one
   PostgreSQL transaction per chunk). Each scenario runs in a fresh child process, so ru_maxrss is its own:
   once timed (no tracemalloc) and once under tracemalloc (peak of Python allocations). The same number of
   trades runs at certificates/trades per trade (1e9 in all) and at 10 per trade (1e6 in all): peak memory side
   by side. A half-length run at 10 per trade gives the growth per trade (the trade-id set).
2. Through Kafka: `<prefix>certx.events` is pre-loaded with encoded engine events (funding + issuance, then
   --trades trades) in their market's partition (CEA 0, GEC 2) as the matcher principal (its only writer), then
   `certx serve projector --db DSN --prefix P` is started as the projector principal. Figure: trades per second
   from the projector's `projector.started` log line (start of consumption) to the `marks` row of the partition
   reaching the end offset, polled every 20 ms (also given: from the first committed batch, and until the outbox
   is empty = all settlements published). Two runs: CEA
   listing trades, and GEC lot trades (certificates / trades serials each). Then the same projector code runs
   in-process on the same topic (fresh schema) with wall-clock timers on each stage (getmany, decode,
   Ledger.apply, settlement encode, journal provenance, take, Store.write per table + commit, publishing from
   memory: send_batched, acks; clearing the outbox), and once more under cProfile.
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import cProfile
import gc
import json
import math
import os
import pstats
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Iterator

from aiokafka import TopicPartition

from certx.kafka.connection import Connection
from certx.kafka.topics import Topics
from certx.money import Fen
from certx.wire import events as e
from loadtest.cluster import (Deployment, bootstrap, broker_pid, cpu_seconds, end_offsets, machine, preload, service,
                              stop_all, vm_hwm_mb)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TARGET_TRADES_PER_S = 20_000
STALL_SECONDS = 120              # a run without progress for this long has failed
ACCOUNTS = 200
BATCHES_PER_ACCOUNT = 5
PROVINCES = ["Gansu", "Qinghai", "Inner Mongolia", "Xinjiang", "Hebei", "Yunnan", "Sichuan", "Jiangsu"]
TECHS = ["wind", "solar", "offshore wind", "biomass", "hydro"]


# --- the event streams ---------------------------------------------------------------------------

class Stream:
    """Stamps events as the matcher would: seq = position in the market's stream, origin = (command
    partition, increasing offset, 0)."""

    def __init__(self, market: str, partition: int) -> None:
        self.market, self.partition, self.n = market, partition, 0

    def stamp(self, ev: e.Event) -> e.Event:
        ev.seq = self.n
        ev.origin = e.Origin(self.partition, self.n, 0)
        ev.market = self.market
        self.n += 1
        return ev


def _coprime_step(n: int) -> int:
    """A multiplier near n / golden ratio, coprime to n: k -> (k * m + 7) mod n is a well-spread permutation."""
    m = max(1, int(n * 0.6180339887)) | 1
    while math.gcd(m, n) != 1:
        m += 2
    return m


class GecFlow:
    """200 funded accounts, 1,000 issuance batches, then `trades` lots of `per_trade` serials each; no serial is
    traded twice, each buyer is not the seller.

    pattern "front": each trade takes the next lot from the front of an issuance batch (sellers sell their
    lowest serials first; batches visited in a spread order): the cancelled set stays at most one range per
    batch. pattern "scattered": the lot slots of all batches are visited in a spread order (a permutation), so
    holdings and the cancelled set fragment (up to ~0.4 ranges per trade here) before merging back: the worst
    case for RangeSet."""

    def __init__(self, trades: int, per_trade: int, pattern: str = "front") -> None:
        self.trades, self.per_trade, self.pattern = trades, per_trade, pattern
        self.batches = ACCOUNTS * BATCHES_PER_ACCOUNT
        self.slots = math.ceil(trades / self.batches)             # lots per issuance batch
        self.batch_size = self.slots * per_trade
        self.certificates = self.batches * self.batch_size         # issued (>= traded)
        self.n_slots = self.batches * self.slots
        self.mult = _coprime_step(self.n_slots)
        self.mult_b = _coprime_step(self.batches)

    def slot(self, k: int) -> tuple[int, int]:
        """(issuance batch, lot slot within it) of trade k."""
        if self.pattern == "scattered":
            return divmod((k * self.mult + 7) % self.n_slots, self.slots)
        j, i = divmod(k, self.batches)
        return (i * self.mult_b + 7) % self.batches, j

    def owner(self, b: int) -> int:
        return b // BATCHES_PER_ACCOUNT

    def setup(self, s: Stream) -> list[e.Event]:
        out: list[e.Event] = [s.stamp(e.FundsDeposited(account=f"A{i}", amount=Fen(10**13))) for i in range(ACCOUNTS)]
        for b in range(self.batches):
            first = 1 + b * self.batch_size
            out.append(s.stamp(e.Issued(
                account=f"A{self.owner(b)}", product="GEC", quantity=self.batch_size, project=f"P{b}",
                serials=[(first, first + self.batch_size - 1)], province=PROVINCES[b % len(PROVINCES)],
                technology=TECHS[b % len(TECHS)], production_month=f"{2024 + b % 2}-{1 + b % 12:02d}",
                subsidised=b % 3 == 0)))
        return out

    def trade(self, s: Stream, k: int) -> e.Trade:
        b, j = self.slot(k)
        first = 1 + b * self.batch_size + j * self.per_trade
        seller = self.owner(b)
        buyer = (seller + 1 + k % (ACCOUNTS - 1)) % ACCOUNTS
        return s.stamp(e.Trade(
            trade_id=f"GEC-{k + 1}", product="GEC", mode="lot", price=Fen(100 + (k * 37) % 700),
            quantity=self.per_trade, buy_order=f"B{k}", sell_order=f"S{k}", buyer=f"A{buyer}", seller=f"A{seller}",
            serials=[(first, first + self.per_trade - 1)], project=f"P{b}", province=PROVINCES[b % len(PROVINCES)],
            technology=TECHS[b % len(TECHS)], production_month=f"{2024 + b % 2}-{1 + b % 12:02d}",
            subsidised=b % 3 == 0, beneficiary=f"Corp{buyer}"))

    def events(self) -> Iterator[e.Event]:
        s = Stream("GEC", 2)
        yield from self.setup(s)
        for k in range(self.trades):
            yield self.trade(s, k)

    def chunks(self, size: int) -> Iterator[list[e.Event]]:
        it = self.events()
        while True:
            chunk = [ev for _, ev in zip(range(size), it)]
            if not chunk:
                return
            yield chunk


class CeaFlow:
    """200 funded accounts holding CEA21, then `trades` listing trades between random accounts."""

    def __init__(self, trades: int, seed: int = 7) -> None:
        self.trades, self.seed = trades, seed

    def events(self) -> Iterator[e.Event]:
        s = Stream("CEA", 0)
        for i in range(ACCOUNTS):
            yield s.stamp(e.FundsDeposited(account=f"A{i}", amount=Fen(10**13)))
            yield s.stamp(e.Issued(account=f"A{i}", product="CEA21", quantity=10**9))
        rng = random.Random(self.seed)
        for k in range(self.trades):
            seller = rng.randrange(ACCOUNTS)
            buyer = (seller + rng.randrange(1, ACCOUNTS)) % ACCOUNTS
            yield s.stamp(e.Trade(trade_id=f"CEA-{k + 1}", product="CEA21", mode="listing",
                                  price=Fen(rng.randint(4900, 5100)), quantity=rng.randint(1, 500),
                                  buy_order=f"L{2 * k}", sell_order=f"L{2 * k + 1}",
                                  buyer=f"A{buyer}", seller=f"A{seller}"))


# --- PostgreSQL ----------------------------------------------------------------------------------

def schema_dsn(dsn: str, schema: str) -> str:
    return f"{dsn}{'&' if '?' in dsn else '?'}options=-csearch_path%3D{schema}"


class Schemas:
    """bench_<uuid>_<name> schemas, made on a connection of our own and dropped at the end."""

    def __init__(self, dsn: str) -> None:
        self.dsn, self.made = dsn, []
        self.base = f"bench_{uuid.uuid4().hex[:10]}"

    def new(self, name: str) -> tuple[str, str]:
        import psycopg

        schema = f"{self.base}_{name}"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        self.made.append(schema)
        return schema, schema_dsn(self.dsn, schema)

    def drop_all(self) -> None:
        import psycopg

        if not self.made:
            return
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            for schema in self.made:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        self.made.clear()


def postgres_dsn() -> tuple[str, bool]:
    """(DSN, whether we started the server and must stop it)."""
    st = subprocess.run(["bash", "deploy/postgres.sh", "status"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    if st.returncode == 0:
        dsn = subprocess.run(["bash", "deploy/postgres.sh", "dsn"], cwd=ROOT, capture_output=True, text=True,
                             timeout=60).stdout.strip().splitlines()[-1]
        return dsn, False
    out = subprocess.run(["bash", "deploy/postgres.sh", "start"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600, check=True).stdout.strip().splitlines()
    return out[-1], True


# --- part 1: pure settlement (child process) -------------------------------------------------------

def maxrss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def pure_child(spec: dict) -> dict:
    """One scenario in this (fresh) process: settle the GEC flow into the schema the DSN names."""
    from certx.ledger import Ledger
    from certx.ledger.journal import Journal
    from certx.store import open_store
    from certx.wire import settlements as st

    trace = spec["tracemalloc"]
    flow = GecFlow(spec["trades"], spec["per_trade"], spec["pattern"])
    store = open_store(spec["dsn"])
    journal = Journal(Ledger())
    gc.collect()
    rss_before = maxrss_mb()
    if trace:
        tracemalloc.start()
    traced_before = tracemalloc.get_traced_memory()[0] if trace else 0
    t_gen = t_add = t_take = t_write = 0.0
    rejected = events = trades = most_cancelled = most_held = 0
    clock = time.perf_counter
    add = journal.add
    chunks = flow.chunks(spec["batch"])
    wall0 = clock()
    while True:
        t = clock()
        chunk = next(chunks, None)
        t_gen += clock() - t
        if chunk is None:
            break
        t = clock()
        for ev in chunk:
            for x in add(ev):
                if type(x) is st.SettlementRejected:
                    rejected += 1
        t2 = clock()
        batch = journal.take()
        t3 = clock()
        store.write(batch)
        t4 = clock()
        t_add += t2 - t
        t_take += t3 - t2
        t_write += t4 - t3
        events += len(chunk)
        trades += len(batch.trades)
        most_cancelled = max(most_cancelled, len(journal.ledger.cancelled))
        most_held = max(most_held, sum(len(r) for r in journal.ledger.gec.values()))
        del chunk, batch
    wall = clock() - wall0
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    if trace:
        tracemalloc.stop()
    from certx import money

    text_cache = len(money._TEXT)
    t = clock()
    reloaded = store.load_ledger()
    restart = clock() - t
    restart_ok = reloaded.cash == journal.ledger.cash and list(reloaded.cancelled) == list(journal.ledger.cancelled)
    del reloaded
    ledger = journal.ledger
    settled_bytes = sys.getsizeof(ledger.settled) + sum(sys.getsizeof(t) for t in ledger.settled)
    db_trades, db_qty = store.query("SELECT count(*), coalesce(sum(quantity), 0) FROM trades")[0]
    db_cancelled, db_certs = store.query("SELECT count(*), coalesce(sum(last - first + 1), 0) FROM gec_cancellations")[0]
    db_outbox = store.query("SELECT count(*) FROM outbox")[0][0]
    db_bytes = store.query("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                           "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'")[0][0]
    store.close()
    settle = t_add + t_take + t_write
    traded = trades * flow.per_trade
    out = {
        "trades": trades, "certificates_per_trade": flow.per_trade, "certificates_traded": traded,
        "certificates_issued": flow.certificates, "issuance_batches": flow.batches, "events": events,
        "events_per_store_batch": spec["batch"], "store_transactions": math.ceil(events / spec["batch"]),
        "rejected": rejected,
        "wall_seconds_incl_event_generation": round(wall, 3),
        "settle_seconds": round(settle, 3),
        "split_seconds": {"event_generation_not_timed": round(t_gen, 3), "journal_add": round(t_add, 3),
                          "journal_take": round(t_take, 3), "store_write": round(t_write, 3)},
        "us_per_trade": {"journal_add": round(t_add / trades * 1e6, 2), "store_write": round(t_write / trades * 1e6, 2)},
        "trades_per_s": round(trades / settle), "certificates_per_s": round(traded / settle),
        "maxrss_mb_before": rss_before, "maxrss_mb_after": maxrss_mb(),
        "pattern": flow.pattern,
        "ledger_ranges_most_after_a_batch": {"cancelled": most_cancelled, "holdings": most_held},
        "ledger_ranges_at_end": {"cancelled": len(ledger.cancelled), "retired": len(ledger.retired),
                                 "holdings": sum(len(r) for r in ledger.gec.values())},
        "money_text_cache_entries": text_cache,
        "restart_store_load_ledger_seconds": round(restart, 2), "restart_ledger_equal": restart_ok,
        "ledger_settled_trade_ids": len(ledger.settled), "ledger_settled_set_mb": round(settled_bytes / 2**20, 2),
        "db": {"trades": db_trades, "quantity": int(db_qty), "cancellation_rows": db_cancelled,
               "certificates_cancelled": int(db_certs), "outbox_rows_unpublished": db_outbox,
               "schema_mb": round(float(db_bytes or 0) / 2**20, 1)},
        "checks": {"all_settled": trades == flow.trades and rejected == 0 and db_trades == flow.trades,
                   "cancelled_equals_traded": ledger.cancelled.count() == traded == int(db_certs)},
    }
    if trace:
        out["tracemalloc_peak_mb"] = round(peak / 2**20, 2)
        out["tracemalloc_before_mb"] = round(traced_before / 2**20, 2)
    return out


CHILDREN: list[subprocess.Popen] = []        # part 1's children


def stop_children() -> None:
    stop_all()                  # the projectors of part 2
    for p in list(CHILDREN):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


def run_child(spec: dict, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([PYTHON, "-m", "loadtest.settlement_bench", "--pure-child", json.dumps(spec)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    CHILDREN.append(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    finally:
        CHILDREN.remove(proc)
    lines = [x for x in out.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"pure child failed ({proc.returncode}): {err[-3000:]}")
    return json.loads(lines[-1][7:])


def pure(args: argparse.Namespace, schemas: Schemas) -> dict:
    n = args.settle_trades
    big = max(1, args.certificates // n)
    scenarios = [(f"{size}_{pattern}", trades, per, pattern, trace)
                 for trace in (False, True) for pattern in ("front", "scattered")
                 for size, trades, per in (("big", n, big), ("small", n, 10))]
    scenarios.append(("small_half_front", n // 2, 10, "front", True))
    runs: dict = {}
    for name, trades, per_trade, pattern, trace in scenarios:
        key = f"{name}_{'tracemalloc' if trace else 'timed'}"
        _, dsn = schemas.new(f"pure_{key}")
        spec = {"dsn": dsn, "trades": trades, "per_trade": per_trade, "batch": args.batch, "tracemalloc": trace,
                "pattern": pattern}
        t = time.monotonic()
        res = run_child(spec, args.timeout)
        print(f"pure {name:17} {'tracemalloc' if trace else 'timed':11} {trades:,} trades x {per_trade:,} certs: "
              f"{res['trades_per_s']:,} trades/s, {res['certificates_per_s']:,} certs/s, maxrss "
              f"{res['maxrss_mb_after']} MB" + (f", tracemalloc peak {res['tracemalloc_peak_mb']} MB" if trace else "")
              + f", ranges {res['ledger_ranges_most_after_a_batch']} ({time.monotonic() - t:.0f}s)", flush=True)
        runs[key] = res
        schemas.drop_all()          # keep the database small between runs

    def side_by_side(pattern: str) -> dict:
        b, s = runs[f"big_{pattern}_timed"], runs[f"small_{pattern}_timed"]
        bt, st = runs[f"big_{pattern}_tracemalloc"], runs[f"small_{pattern}_tracemalloc"]
        return {
            "columns": [f"{big:,} certs/trade ({b['certificates_traded']:,} certs)",
                        f"10 certs/trade ({s['certificates_traded']:,} certs)"],
            "trades": [b["trades"], s["trades"]],
            "ru_maxrss_mb": [b["maxrss_mb_after"], s["maxrss_mb_after"]],
            "ru_maxrss_mb_before_run": [b["maxrss_mb_before"], s["maxrss_mb_before"]],
            "tracemalloc_peak_mb": [bt["tracemalloc_peak_mb"], st["tracemalloc_peak_mb"]],
            "ledger_ranges_most": [b["ledger_ranges_most_after_a_batch"], s["ledger_ranges_most_after_a_batch"]],
            "trades_per_s": [b["trades_per_s"], s["trades_per_s"]],
            "journal_add_us_per_trade": [b["us_per_trade"]["journal_add"], s["us_per_trade"]["journal_add"]],
            "store_write_us_per_trade": [b["us_per_trade"]["store_write"], s["us_per_trade"]["store_write"]],
        }

    b, stm, half = runs["big_front_timed"], runs["small_front_tracemalloc"], runs["small_half_front_tracemalloc"]
    return {
        "method": "child process per scenario; events built in chunks of --batch outside the clock; clock = "
                  "Journal.add + take + Store.write (PostgreSQL, one transaction per chunk); ru_maxrss from the timed "
                  "child, tracemalloc peak from a second child of the same scenario",
        "headline": {
            "pattern": "front", "trades": b["trades"], "certificates": b["certificates_traded"],
            "certificates_per_trade": big, "settle_seconds": b["settle_seconds"],
            "wall_seconds_incl_event_generation": b["wall_seconds_incl_event_generation"],
            "trades_per_s": b["trades_per_s"], "certificates_per_s": b["certificates_per_s"],
            "split_seconds": b["split_seconds"],
        },
        "peak_memory_side_by_side": {"front": side_by_side("front"), "scattered": side_by_side("scattered")},
        "memory_growth_per_trade": {
            "tracemalloc_peak_mb": {f"{half['trades']:,} trades": half["tracemalloc_peak_mb"],
                                    f"{stm['trades']:,} trades": stm["tracemalloc_peak_mb"]},
            "bytes_per_trade": round((stm["tracemalloc_peak_mb"] - half["tracemalloc_peak_mb"]) * 2**20
                                     / (stm["trades"] - half["trades"])),
            "why": "Ledger.settled (every trade id ever settled, for duplicate_trade) grows with trades, not with "
                   "certificates; RangeSets grow with fragmentation (ranges), never with certificates",
        },
        "runs": runs,
    }


# --- part 2: through Kafka -------------------------------------------------------------------------

async def subprocess_run(d: Deployment, dsn: str, schema: str, partition: int, end: int, setup: int,
                         timeout: float, logdir: Path, name: str) -> dict:
    """`certx serve projector` as deployed, logged in as the projector; polls the marks table until the partition
    is consumed."""
    import psycopg

    conn = psycopg.connect(dsn, autocommit=True)
    t_spawn = time.monotonic()
    worker = service(d, "projector", logdir, "--db", schema_dsn(dsn, schema), log_name=name)
    proc, log = worker.proc, worker.log
    bpid = broker_pid()
    t_started = t_first = t_end = t_published = None
    cpu_started = broker_started = 0.0
    first_offset = 0
    trace: list[tuple[float, int]] = []
    try:
        deadline = t_spawn + timeout
        while True:
            now = time.monotonic()
            if t_started is None and b"projector.started" in log.read_bytes():
                t_started, cpu_started, broker_started = now, cpu_seconds(proc.pid), cpu_seconds(bpid)
            try:
                row = conn.execute(f"SELECT topic_offset FROM {schema}.marks WHERE partition = %s",
                                   (partition,)).fetchone()
            except psycopg.errors.UndefinedTable:
                row = None
            off = row[0] if row else 0
            if now - (trace[-1][0] if trace else t_spawn) > STALL_SECONDS:
                raise TimeoutError(f"projector at offset {off} of {end}: no progress for {STALL_SECONDS}s")
            if off and (not trace or trace[-1][1] != off):
                trace.append((now, off))
                if t_first is None:
                    t_first, first_offset = now, off
            if off >= end:
                t_end = now
                cpu_end, broker_end = cpu_seconds(proc.pid), cpu_seconds(bpid)
                break
            if proc.poll() is not None:
                raise RuntimeError(f"projector exited {proc.returncode} at offset {off} of {end}: "
                                   f"{log.read_text(errors='replace')[-2000:]}")
            if now > deadline:
                raise TimeoutError(f"projector at offset {off} of {end} after {timeout:.0f}s")
            await asyncio.sleep(0.02)
        while time.monotonic() < t_end + 60:
            if conn.execute(f"SELECT count(*) FROM {schema}.outbox").fetchone()[0] == 0:
                t_published = time.monotonic()
                break
            await asyncio.sleep(0.02)
        db_trades = conn.execute(f"SELECT count(*) FROM {schema}.trades").fetchone()[0]
        hwm = vm_hwm_mb(proc.pid)
    finally:
        conn.close()
        worker.stop()
    trades = end - setup
    if t_started is None:
        t_started = t_spawn
    consumed = t_end - t_started
    after_first = t_end - t_first
    trades_after_first = end - max(first_offset, setup)
    return {
        "command": "certx serve projector --db DSN --prefix P (as the projector principal)",
        "records": end, "trades": trades, "trades_in_db": db_trades,
        "startup_seconds": round(t_started - t_spawn, 3),
        "seconds_from_start_of_consumption": round(consumed, 3),
        "trades_per_s": round(trades / consumed),
        "trades_per_s_from_first_commit": round(trades_after_first / after_first) if after_first > 0 else None,
        "seconds_until_outbox_empty": round(t_published - t_started, 3) if t_published else None,
        "trades_per_s_until_published": round(trades / (t_published - t_started)) if t_published else None,
        "commits_seen": len(trace), "records_per_commit": round(end / max(len(trace), 1)),
        "projector_cpu_seconds": round(cpu_end - cpu_started, 2),
        "projector_cpu_share": round((cpu_end - cpu_started) / consumed, 2),
        "broker_cpu_seconds": round(broker_end - broker_started, 2) if bpid else None,
        "projector_peak_rss_mb": hwm,
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "meets_target": trades / consumed >= TARGET_TRADES_PER_S,
    }


class Timers:
    def __init__(self) -> None:
        self.t: dict[str, float] = {}
        self.n: dict[str, int] = {}

    def add(self, name: str, dt_: float) -> None:
        self.t[name] = self.t.get(name, 0.0) + dt_
        self.n[name] = self.n.get(name, 0) + 1

    def wrap(self, name: str, fn):
        clock, add = time.perf_counter, self.add

        def timed(*a, **k):
            t = clock()
            try:
                return fn(*a, **k)
            finally:
                add(name, clock() - t)
        return timed

    def wrap_async(self, name: str, fn):
        clock, add = time.perf_counter, self.add

        async def timed(*a, **k):
            t = clock()
            try:
                return await fn(*a, **k)
            finally:
                add(name, clock() - t)
        return timed


async def inprocess_run(kafka: Connection, dsn: str, topics: Topics, partition: int, end: int, setup: int,
                        mode: str, timeout: float) -> dict:
    """The projector's own classes in this process; mode "timers" (stage clocks) or "cprofile"."""
    import certx.kafka.projector as pm
    import certx.ledger.journal as jm

    proj = pm.Projector(pm.ProjectorSettings(kafka=kafka, db=dsn, topics=topics))
    await proj.start()
    done = asyncio.Event()
    reached = {"offset": 0}
    timers = Timers()
    real_write = proj.store.write

    def write(batch):
        real_write(batch)
        m = batch.marks.get(partition)
        if m is not None:
            reached["offset"] = m[0]
            if m[0] >= end:
                done.set()

    saved = (pm.decode_event, jm.encode, pm.send_batched)
    if mode == "timers":
        pm.decode_event = timers.wrap("decode_event", pm.decode_event)
        jm.encode = timers.wrap("journal: encode settlements", jm.encode)
        proj.consumer.getmany = timers.wrap_async("consumer.getmany", proj.consumer.getmany)
        proj.journal.add = timers.wrap("journal.add (total)", proj.journal.add)
        proj.journal.ledger.apply = timers.wrap("journal: ledger.apply", proj.journal.ledger.apply)
        proj.journal.take = timers.wrap("journal.take", proj.journal.take)
        proj.store._write = timers.wrap("store.write: statements", proj.store._write)
        real_append = proj.store._append
        proj.store._append = lambda cur, table, rows, *a, **kw: timers.wrap(f"store.write: COPY {table}", real_append)(
            cur, table, rows, *a, **kw)
        proj.store.write = timers.wrap("store.write (total)", write)
        # Settlements are published from memory once their batch has committed, then the outbox is cleared.
        proj._send = timers.wrap_async("publish (total)", proj._send)
        pm.send_batched = timers.wrap_async("publish: send_batched (enqueue)", pm.send_batched)
        proj.store.published = timers.wrap("clear the outbox (DELETE)", proj.store.published)
    else:
        proj.store.write = write
    prof = cProfile.Profile() if mode == "cprofile" else None
    t0 = time.monotonic()
    cpu0 = time.process_time()
    if prof:
        prof.enable()
    task = asyncio.create_task(proj.run())
    waiter = asyncio.create_task(done.wait())
    try:
        deadline, seen, seen_at = t0 + timeout, -1, t0
        while True:
            finished, _ = await asyncio.wait({task, waiter}, timeout=2, return_when=asyncio.FIRST_COMPLETED)
            if task in finished:
                task.result()
                raise RuntimeError("projector loop ended early")
            if waiter in finished:
                break
            now = time.monotonic()
            if reached["offset"] != seen:
                seen, seen_at = reached["offset"], now
            if now > deadline or now - seen_at > STALL_SECONDS:
                raise TimeoutError(f"in-process projector at offset {reached['offset']} of {end} after "
                                   f"{now - t0:.0f}s ({now - seen_at:.0f}s without progress)")
        elapsed = time.monotonic() - t0
        cpu = time.process_time() - cpu0
    finally:
        if prof:
            prof.disable()
        pm.decode_event, jm.encode, pm.send_batched = saved
        task.cancel()
        waiter.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
        await proj.stop()
    trades = end - setup
    out = {"mode": mode, "seconds": round(elapsed, 3), "trades_per_s": round(trades / elapsed),
           "cpu_seconds": round(cpu, 2), "cpu_share": round(cpu / elapsed, 2)}
    if mode == "timers":
        t, n = timers.t, timers.n
        add = t.get("journal.add (total)", 0.0)
        t["journal: provenance, outbox rows, marks"] = add - t.get("journal: ledger.apply", 0) - t.get(
            "journal: encode settlements", 0)
        t["store.write: commit"] = t.get("store.write (total)", 0) - t.get("store.write: statements", 0)
        t["store.write: upserts (cash, units, marks)"] = t.get("store.write: statements", 0) - sum(
            v for k, v in t.items() if k.startswith("store.write: COPY"))
        t["publish: await acks, other"] = t.get("publish (total)", 0) - t.get("publish: send_batched (enqueue)", 0)
        accounted = sum(t.get(k, 0) for k in ("consumer.getmany", "decode_event", "journal.add (total)", "journal.take",
                                              "store.write (total)", "publish (total)", "clear the outbox (DELETE)"))
        t["loop: other (python loop, dead letters)"] = elapsed - accounted
        order = ["consumer.getmany", "decode_event", "journal.add (total)", "journal: ledger.apply",
                 "journal: encode settlements", "journal: provenance, outbox rows, marks", "journal.take",
                 "store.write (total)"] + sorted(k for k in t if k.startswith("store.write: COPY")) + [
                 "store.write: upserts (cash, units, marks)", "store.write: commit", "publish (total)",
                 "publish: send_batched (enqueue)", "publish: await acks, other", "clear the outbox (DELETE)",
                 "loop: other (python loop, dead letters)"]
        out["stages"] = {k: {"seconds": round(t[k], 3), "share": round(t[k] / elapsed, 3),
                             "us_per_trade": round(t[k] / trades * 1e6, 2), **({"calls": n[k]} if k in n else {})}
                         for k in order if k in t}
        out["batches"] = n.get("store.write (total)", 0)
        out["note"] = "timer wrappers add ~0.3 us per wrapped call (about 5 per trade); shares are of wall time"
    else:
        out["top_tottime"] = top_functions(prof, 25)
        out["selected_cumtime"] = selected(prof, elapsed, trades)
    return out


def _label(key: tuple) -> str:
    file, line, func = key
    if file == "~":
        return func
    parts = Path(file).parts
    short = "/".join(parts[parts.index("site-packages") + 1:] if "site-packages" in parts else parts[-2:])
    return f"{short}:{line}({func})"


def top_functions(prof: cProfile.Profile, n: int) -> list[dict]:
    stats = pstats.Stats(prof).stats
    rows = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:n]
    return [{"function": _label(k), "calls": v[1], "tottime_s": round(v[2], 3), "cumtime_s": round(v[3], 3)}
            for k, v in rows]


SELECT = [("projector.py", "run"), ("projector.py", "_send"), ("codec.py", "decode_event"), ("codec.py", "_dec_hook"),
          ("journal.py", "add"), ("ledger.py", "apply"), ("journal.py", "_provenance"), ("codec.py", "encode"),
          ("journal.py", "take"), ("sql.py", "write"), ("sql.py", "_append"),
          ("sql.py", "published"), ("topics.py", "send_batched"), ("aiokafka/consumer/consumer.py", "getmany"),
          ("money.py", "parse"), ("money.py", "text"), ("serials.py", "add"), ("serials.py", "remove")]


def selected(prof: cProfile.Profile, elapsed: float, trades: int) -> dict:
    stats = pstats.Stats(prof).stats
    out = {}
    for file, func in SELECT:
        for k, v in stats.items():
            if k[0].endswith(file) and k[2] == func:
                out[f"{file}:{func}"] = {"calls": v[1], "cumtime_s": round(v[3], 3),
                                         "us_per_trade": round(v[3] / trades * 1e6, 2)}
                break
    return out


async def kafka_part(args: argparse.Namespace, dsn: str, schemas: Schemas, result: dict) -> None:
    logdir = Path(tempfile.mkdtemp(prefix="certx-settlement-bench-"))
    out = result["kafka"] = {"target_trades_per_s": TARGET_TRADES_PER_S, "runs": {}}
    try:
        for kind in args.kafka_runs.split(","):
            async with Deployment(args.bootstrap, f"settle-{kind.lower()}") as d:
                await kafka_run(args, d, kind, dsn, schemas, logdir, out)
    finally:
        for f in sorted(logdir.iterdir()):
            f.unlink()
        logdir.rmdir()


async def kafka_run(args: argparse.Namespace, d: Deployment, kind: str, dsn: str, schemas: Schemas, logdir: Path,
                    out: dict) -> None:
    """One flow of engine events pre-loaded into `certx.events` (as the matcher principal, its only writer),
    then settled by the projector."""
    from certx.wire.codec import encode

    per_trade = max(1, args.certificates // args.trades)
    t = time.monotonic()
    if kind == "CEA":
        events, partition, setup = list(CeaFlow(args.trades).events()), 0, 2 * ACCOUNTS
        desc = "CEA listing trades (1-500 units at 49.00-51.00) between 200 accounts"
    else:
        flow = GecFlow(args.trades, per_trade, "front")
        events, partition, setup = list(flow.events()), 2, ACCOUNTS + flow.batches
        desc = (f"GEC lot trades of {per_trade:,} serials each ({per_trade * args.trades:,} certificates) "
                f"from 1,000 issuance batches, pattern front")
    values = [encode(ev) for ev in events]
    del events
    build = time.monotonic() - t
    secs = await preload(d.as_("matcher"), d.topics.events, partition, kind.encode(), [(values, None)])
    tp = TopicPartition(d.topics.events, partition)
    end = (await end_offsets(d.as_("admin"), [tp]))[tp]
    assert end == len(values), (end, len(values))
    run: dict = {"flow": desc, "events_partition": partition, "records": end, "setup_records": setup,
                 "trades": end - setup, "bytes_per_record": round(sum(map(len, values)) / len(values)),
                 "build_seconds": round(build, 2), "preload_seconds": round(secs, 2)}
    del values
    out["runs"][kind] = run
    print(f"kafka {kind}: preloaded {end:,} records in {secs:.1f}s; starting the projector", flush=True)
    rounds = []
    for i in range(args.rounds):
        schema, _ = schemas.new(f"kafka_{kind.lower()}_{i}")
        try:
            res = await subprocess_run(d, dsn, schema, partition, end, setup, args.timeout, logdir,
                                       f"projector-{kind}-{i}")
        except (RuntimeError, TimeoutError) as exc:
            print(f"kafka {kind} round {i + 1} failed: {exc}", flush=True)
            run.setdefault("errors", []).append(f"round {i + 1}: {exc}")
            schemas.drop_all()
            continue
        rounds.append(res)
        print(f"kafka {kind} round {i + 1}: {res['trades_per_s']:,} trades/s over "
              f"{res['seconds_from_start_of_consumption']}s (from first commit "
              f"{res['trades_per_s_from_first_commit']}/s; until published {res['trades_per_s_until_published']}"
              f"/s; projector CPU {res['projector_cpu_share']:.0%}), {res['trades_in_db']:,} trades in PG",
              flush=True)
        schemas.drop_all()
    if not rounds:
        return
    rates = sorted(r["trades_per_s"] for r in rounds)
    run["trades_per_s_median"] = rates[len(rates) // 2] if len(rates) % 2 else round(
        (rates[len(rates) // 2 - 1] + rates[len(rates) // 2]) / 2)
    run["trades_per_s_rounds"] = [r["trades_per_s"] for r in rounds]
    run["meets_target"] = run["trades_per_s_median"] >= TARGET_TRADES_PER_S
    run["projector_process_rounds"] = rounds
    if args.profile:
        for mode in ("timers", "cprofile"):
            _, sdsn = schemas.new(f"kafka_{kind.lower()}_{mode}")
            try:
                r = await inprocess_run(d.as_("projector"), sdsn, d.topics, partition, end, setup, mode,
                                        args.timeout)
            except (RuntimeError, TimeoutError) as exc:
                print(f"kafka {kind} in-process ({mode}) failed: {exc}", flush=True)
                run[f"in_process_{mode}"] = {"error": str(exc)}
                schemas.drop_all()
                continue
            run[f"in_process_{mode}"] = r
            print(f"kafka {kind} in-process ({mode}): {r['trades_per_s']:,} trades/s", flush=True)
            if mode == "timers":
                for k, v in r["stages"].items():
                    print(f"    {k:<44} {v['seconds']:>8.3f}s {v['share']:>6.1%} {v['us_per_trade']:>7.2f} us/trade")
            else:
                for row in r["top_tottime"][:12]:
                    print(f"    {row['tottime_s']:>7.3f}s tot {row['cumtime_s']:>7.3f}s cum "
                          f"{row['calls']:>9,}  {row['function']}")
            schemas.drop_all()


# --- main ------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--certificates", type=int, default=1_000_000_000, help="certificates settled (parts 1 and 2 GEC)")
    ap.add_argument("--settle-trades", type=int, default=100_000, help="part 1: trades (certificates / this per trade)")
    ap.add_argument("--batch", type=int, default=10_000, help="part 1: events per store transaction")
    ap.add_argument("--trades", type=int, default=200_000, help="part 2: trades pre-loaded into Kafka per run")
    ap.add_argument("--kafka-runs", default="CEA,GEC", help="part 2 runs (CEA,GEC)")
    ap.add_argument("--no-pure", dest="pure", action="store_false", help="skip part 1")
    ap.add_argument("--no-kafka", dest="kafka", action="store_false", help="skip part 2")
    ap.add_argument("--no-profile", dest="profile", action="store_false", help="part 2 without the in-process runs")
    ap.add_argument("--rounds", type=int, default=2, help="part 2: projector process runs per flow (fresh schema each)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds allowed for each run")
    ap.add_argument("--bootstrap", default=bootstrap())
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "settlement.json"))
    ap.add_argument("--pure-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pure_child:
        print("RESULT " + json.dumps(pure_child(json.loads(args.pure_child))), flush=True)
        return 0

    atexit.register(stop_children)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    dsn, started_pg = postgres_dsn()
    schemas = Schemas(dsn)
    result: dict = {"machine": machine(), "postgres": None,
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        import psycopg

        with psycopg.connect(dsn) as conn:
            result["postgres"] = {
                "version": conn.execute("SHOW server_version").fetchone()[0],
                **{k: conn.execute(f"SHOW {k}").fetchone()[0] for k in ("shared_buffers", "synchronous_commit", "fsync")},
                "server": "deploy/postgres.sh, same machine" + (" (started by this run)" if started_pg else "")}
        if args.pure:
            result["pure_settlement"] = pure(args, schemas)
        if args.kafka:
            asyncio.run(kafka_part(args, dsn, schemas, result))
    except BaseException as exc:
        result["incomplete"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        stop_children()
        schemas.drop_all()
        if started_pg:
            subprocess.run(["bash", "deploy/postgres.sh", "stop"], cwd=ROOT, timeout=120)
        result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(summary(result), indent=2))
        print(f"written to {args.out}")
    return 0


def summary(result: dict) -> dict:
    """The figures, without the per-run detail (all of it is in the JSON)."""
    out: dict = {k: result.get(k) for k in ("machine", "load_average_at_start", "load_average_at_end", "incomplete")
                 if result.get(k) is not None}
    p = result.get("pure_settlement")
    if p:
        out["pure_settlement"] = {"headline": p["headline"], "peak_memory_side_by_side": p["peak_memory_side_by_side"],
                                  "memory_growth_per_trade": p["memory_growth_per_trade"]}
    for kind, run in result.get("kafka", {}).get("runs", {}).items():
        k = out.setdefault("kafka", {"target_trades_per_s": TARGET_TRADES_PER_S})[kind] = {
            x: run.get(x) for x in ("flow", "trades", "trades_per_s_median", "trades_per_s_rounds", "meets_target",
                                    "errors") if run.get(x) is not None}
        for mode in ("timers", "cprofile"):
            r = run.get(f"in_process_{mode}")
            if r:
                k[f"in_process_{mode}_trades_per_s"] = r.get("trades_per_s", r.get("error"))
        if run.get("in_process_timers", {}).get("stages"):
            k["stages_us_per_trade"] = {s: v["us_per_trade"] for s, v in run["in_process_timers"]["stages"].items()}
    return out


if __name__ == "__main__":
    sys.exit(main())
