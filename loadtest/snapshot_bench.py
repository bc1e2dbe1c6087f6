"""Benchmark of engine snapshots (certx.engine.snapshot) for one CEA engine holding millions of resting orders.

    python -m loadtest.snapshot_bench [--orders 5000000] [--rounds 3] [--out loadtest/results/snapshot.json]

The engine is built through `Engine.apply`: 200 accounts, CEA21 listed at 50.00, a session open, then --orders
`order.new` (ids "o0", "o1", ..., from random accounts; even ones buy at 49.00-49.99 and odd ones sell at
50.00-50.99, a random level each, so 200 levels and no trade; quantities 1-500). Figures:

- size: the state's encoding (raw) and the snapshot (zlib level 1); zlib levels 0 and 6 for comparison;
- dump: `snapshot.dump` (capture, encode, hash, compress), best of --rounds, and its phases under cProfile;
- load: `snapshot.load` (decompress, hash, decode, rebuild, verify), each round in a fresh child process as a
  restarting matcher does it; one more child runs it under cProfile for its phases and top functions, and then
  times what verifying the listing books by a full capture would add (`snapshot.state` of the loaded engine);
- the floor: building the engine's own structures for as many orders from values already in memory (the orders,
  the book's dict of them by id, the day's set of order ids), with no snapshot involved, in a fresh process.
The restore of a matcher on Kafka (reading the snapshot's chunks, replaying the tail) is loadtest.recovery_bench.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import json
import platform
import pstats
import random
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from itertools import repeat
from pathlib import Path
from typing import Callable

import msgspec

from certx.books.listing import Resting
from certx.engine import Engine, snapshot
from certx.money import Amount, Price
from certx.wire import commands as c
from certx.wire.codec import millis

CST = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2021, 12, 16)
AT = millis(dt.datetime.combine(DAY, dt.time(10, 0), CST))
ACCOUNTS = 200
TARGET_RECOVERY_S = 2.0


def build(orders: int, seed: int = 1) -> Engine:
    engine = Engine("CEA")
    apply = engine.apply
    apply(c.ProductList(id="p", actor="operator", market="CEA", product="CEA21", reference_price=Price(5000)), AT)
    accounts = [f"A{i}" for i in range(ACCOUNTS)]
    for i, a in enumerate(accounts):
        apply(c.AccountOpen(id=f"o{a}", actor="registry", account=a, broker=f"B{i % 10}"), AT)
        apply(c.FundsDeposit(id=f"d{a}", actor="bank", account=a, market="CEA", amount=Amount(10**15)), AT)
        apply(c.IssueCea(id=f"i{a}", actor="registry", account=a, product="CEA21", quantity=10**12), AT)
    apply(c.SessionOpen(id="s", actor="operator", market="CEA", date=DAY), AT)
    prices = [Price(p) for p in range(4900, 5100)]
    rng = random.Random(seed)
    gc.disable()     # the events of millions of commands are garbage at once; the build is not what is measured
    try:
        for k in range(orders):
            i = rng.randrange(ACCOUNTS)
            buy = not k & 1
            apply(c.OrderNew(order_id=f"o{k}", actor=f"B{i % 10}", account=accounts[i], product="CEA21",
                             side="buy" if buy else "sell", quantity=rng.randint(1, 500),
                             price=prices[rng.randrange(100) + (0 if buy else 100)]), AT)
    finally:
        gc.enable()
    return engine


def best(rounds: int, run: Callable[[], object]) -> tuple[float, object]:
    times, out = [], None
    for _ in range(rounds):
        gc.collect()
        t0 = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t0)
    return min(times), out


def profiled(run: Callable[[], object], phases: dict[str, str], top: int = 12) -> dict:
    """Seconds per phase (cumulative time of the named function) and the top functions by own time."""
    prof = cProfile.Profile()
    gc.collect()
    prof.enable()
    run()
    prof.disable()
    stats = pstats.Stats(prof).stats
    named = {}
    for phase, function in phases.items():
        named[phase] = round(sum(ct for (_, _, name), (_, _, _, ct, _) in stats.items() if name == function), 3)
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    return {"phases_s": named,
            "top_by_own_time": [[f"{Path(f).name}:{line}:{name}" if line else name, round(tt, 3), round(ct, 3)]
                                for (f, line, name), (_, _, tt, ct, _) in rows]}


LOAD_PHASES = {
    "decompress": "<method 'decompress' of 'zlib.Decompress' objects>",
    "hash": "<built-in method _hashlib.openssl_sha256>",
    "decode": "<method 'decode' of 'msgspec.msgpack.Decoder' objects>",
    "rebuild (all)": "_rebuild",
    "rebuild: listing books": "_refill",
    "rebuild: listing books, dict of orders": "refill",
    "rebuild: order ids": "_order_ids",
    "verify: capture the rest": "_capture",
    "verify: encode the rest": "<method 'encode' of 'msgspec.msgpack.Encoder' objects>",
}
DUMP_PHASES = {
    "capture the rest": "_capture",
    "capture the listing books": "_book",
    "encode": "<method 'encode' of 'msgspec.msgpack.Encoder' objects>",
    "hash": "<built-in method _hashlib.openssl_sha256>",
    "compress": "<built-in method zlib.compress>",
}


def child(path: str, profile: bool) -> None:
    """One load in this fresh process; prints its figures as JSON."""
    data = Path(path).read_bytes()
    out: dict = {}
    if profile:
        out = profiled(lambda: snapshot.load(data), LOAD_PHASES)
        engine, _ = snapshot.load(data)
        gc.collect()
        t0 = time.perf_counter()
        snapshot.state(engine)
        out["full_capture_and_encode_s"] = round(time.perf_counter() - t0, 3)
    else:
        gc.collect()
        t0 = time.perf_counter()
        engine, _ = snapshot.load(data)
        out["seconds"] = round(time.perf_counter() - t0, 3)
    out["resting"] = len(engine.products["CEA21"].book.orders)
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(out))


def floor(orders: int) -> None:
    """What the engine's own structures for `orders` resting orders cost to build from values already in memory,
    with no snapshot at all: the orders, the book's dict of them by id, the day's set of order ids. Prints JSON."""
    ids = msgspec.msgpack.decode(msgspec.msgpack.encode([f"o{k}" for k in range(orders)]), type=list[str])
    accounts = [f"A{i}" for i in range(ACCOUNTS)]
    rng = random.Random(1)
    owners = [accounts[rng.randrange(ACCOUNTS)] for _ in range(orders)]
    remaining = [rng.randint(1, 500) for _ in range(orders)]
    gc.collect()
    t0 = time.perf_counter()
    resting = list(map(Resting, ids, owners, repeat(True), repeat(5000), remaining))
    t1 = time.perf_counter()
    by_id = dict(zip(ids, resting))
    t2 = time.perf_counter()
    set(by_id)
    t3 = time.perf_counter()
    print(json.dumps({"orders_s": round(t1 - t0, 3), "dict_by_id_s": round(t2 - t1, 3),
                      "set_of_ids_s": round(t3 - t2, 3), "total_s": round(t3 - t0, 3)}))


def in_child(*args: str) -> dict:
    command = [sys.executable, "-m", "loadtest.snapshot_bench", *args]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def compression(data: bytes) -> dict:
    out = {}
    for level in (0, 1, 6):
        t0 = time.perf_counter()
        packed = zlib.compress(data, level) if level else data
        t1 = time.perf_counter()
        if level:
            zlib.decompress(packed)
        t2 = time.perf_counter()
        out[f"zlib_{level}" if level else "none"] = {"mb": round(len(packed) / 1e6, 1), "compress_s": round(t1 - t0, 3),
                                                     "decompress_s": round(t2 - t1, 3)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=5_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "snapshot.json"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--floor", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.profile)
    if args.floor:
        return floor(args.floor)

    results: dict = {"machine": platform.platform(), "python": platform.python_version(),
                     "msgspec": msgspec.__version__, "date": dt.date.today().isoformat(), "orders": args.orders}
    t0 = time.perf_counter()
    engine = build(args.orders)
    results["build_through_apply_s"] = round(time.perf_counter() - t0, 1)
    assert len(engine.products["CEA21"].book.orders) == args.orders and not engine.trades

    dump_s, blob = best(args.rounds, lambda: snapshot.dump(engine, 12_345))
    data = snapshot.state(engine)
    results["size"] = {"state_raw_mb": round(len(data) / 1e6, 1), "snapshot_mb": round(len(blob) / 1e6, 1),
                       "bytes_per_order": round(len(blob) / args.orders, 1), "compression": compression(data)}
    results["dump"] = {"seconds": round(dump_s, 3), **profiled(lambda: snapshot.dump(engine, 12_345), DUMP_PHASES)}
    with tempfile.NamedTemporaryFile(suffix=".snapshot") as f:
        f.write(blob)
        f.flush()
        loads = [in_child("--child", f.name) for _ in range(args.rounds)]
        results["load"] = {"seconds": min(r["seconds"] for r in loads), "rounds_s": [r["seconds"] for r in loads],
                           "max_rss_mb": loads[0]["max_rss_mb"], "target_recovery_s": TARGET_RECOVERY_S,
                           "profiled": in_child("--child", f.name, "--profile"),
                           "floor": in_child("--floor", str(args.orders))}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
