"""Benchmark of the GEC book's buckets (issue 12, item 3): what a filtered bid that matches nothing costs against
2,000, 20,000 and 200,000 resting lots, and the GEC flow of engine_bench (figure (b)) through the engine.

    python -m loadtest.gec_bench [--sizes 2000 20000 200000] [--flow 200000] [--out loadtest/results/gec.json]

The lots are spread as distributed-PV issuance would spread them: 30 provinces, mostly solar, some wind, hydro in
the south-west, offshore wind on the coast, biomass anywhere; the 24 production months still valid; one in five
subsidised; 1.00-8.00 yuan. The bids cross every lot's price (100 yuan), want more than rests, and match nothing:
- `province`: a province with nothing resting (Tibet);
- `technology`: a technology with nothing resting (geothermal);
- `province_and_technology`: inland provinces and offshore wind;
- `production_window`: production months not yet issued (a window that starts next month).
Each is timed on the book (`GecBook.lots_for`) and on a scan of every crossing lot with the same `accepts`, as
the book did before the buckets. `one_bucket` is a bid that takes one lot from one bucket. The flow is
engine_bench's `gec_flow`, best of --rounds, with a cProfile of one more run: its top functions by own time.
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
import time
from pathlib import Path

from sortedcontainers import SortedKeyList

from certx.books.gec import Bid, Eligibility, GecBook, Lot, count
from certx.engine import Engine
from certx.registry.issuance import Batch, month_index
from certx.wire.commands import GecFilter
from loadtest.engine_bench import AT, DAY, _setup, gec_flow, run

PROVINCES = ["Shandong", "Hebei", "Henan", "Jiangsu", "Zhejiang", "Anhui", "Guangdong", "Fujian", "Jiangxi", "Hubei",
             "Hunan", "Shanxi", "Shaanxi", "Inner Mongolia", "Liaoning", "Jilin", "Heilongjiang", "Gansu", "Qinghai",
             "Ningxia", "Xinjiang", "Sichuan", "Yunnan", "Guizhou", "Guangxi", "Chongqing", "Hainan", "Beijing",
             "Tianjin", "Shanghai"]
COAST = ["Shandong", "Hebei", "Jiangsu", "Zhejiang", "Guangdong", "Fujian", "Liaoning", "Guangxi", "Hainan",
         "Tianjin", "Shanghai"]
SOUTH_WEST = ["Sichuan", "Yunnan", "Guizhou", "Chongqing", "Guangxi", "Hubei"]
TODAY = month_index(DAY.isoformat()[:7])
MONTHS = [f"{(TODAY - k) // 12}-{(TODAY - k) % 12 + 1:02d}" for k in range(24)]
NEXT_MONTH = f"{(TODAY + 1) // 12}-{(TODAY + 1) % 12 + 1:02d}"

NO_MATCH = {
    "province": GecFilter(provinces=["Tibet"]),
    "technology": GecFilter(technologies=["geothermal"]),
    "province_and_technology": GecFilter(provinces=["Gansu", "Qinghai", "Ningxia"], technologies=["offshore wind"]),
    "production_window": GecFilter(production_from=NEXT_MONTH),
}


def batch_of(rng: random.Random, first: int) -> Batch:
    r = rng.random()
    if r < 0.70:
        technology, province = "solar", rng.choice(PROVINCES)
    elif r < 0.85:
        technology, province = "wind", rng.choice(PROVINCES)
    elif r < 0.92:
        technology, province = "hydro", rng.choice(SOUTH_WEST)
    elif r < 0.96:
        technology, province = "offshore wind", rng.choice(COAST)
    else:
        technology, province = "biomass", rng.choice(PROVINCES)
    return Batch(f"P{first}", province, technology, rng.choice(MONTHS), rng.random() < 0.2, first, first + 9_999,
                 TODAY + 24)


def book_of(lots: int, seed: int = 3) -> tuple[GecBook, SortedKeyList]:
    """The book with `lots` resting lots, and the same lots in one list cheapest first (the book before buckets)."""
    rng = random.Random(seed)
    book, scan = GecBook(), SortedKeyList(key=lambda lot: (lot.price, lot.seq))
    for i in range(lots):
        b = batch_of(rng, 1 + i * 10_000)
        lot = Lot(f"L{i}", f"S{i % 500}", rng.randint(100, 800), b.first, b.first + rng.randint(10, 9_999), b, i)
        book.rest(lot)
        scan.add(lot)
    return book, scan


def scan_for(scan: SortedKeyList, bid: Bid, quantity: int) -> list:
    """The fills as the book found them before the buckets: every crossing lot, asked one by one."""
    fills = []
    for lot in scan.irange_key(max_key=(bid.price, float("inf"))):
        if bid.eligibility.accepts(lot.batch, TODAY):
            take = min(quantity, lot.remaining)
            fills.append((lot, take))
            quantity -= take
            if not quantity:
                break
    return fills


def per_call_us(call, budget_s: float = 0.2, rounds: int = 5) -> float:
    """Microseconds per call: best of `rounds` batches of about `budget_s` each."""
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < budget_s / 4:
        call()
        n += 1
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(4 * n):
            call()
        best = min(best, (time.perf_counter() - t0) / (4 * n))
    return round(best * 1e6, 2)


def no_match(sizes: list[int]) -> dict:
    out: dict = {}
    for size in sizes:
        book, scan = book_of(size)
        one = next(iter(book.lots))                    # some lot: its bucket, exactly
        b = one.batch
        wanted = {"one_bucket": GecFilter(provinces=[b.province], technologies=[b.technology],
                                          subsidised=b.subsidised, production_from=b.production_month,
                                          production_to=b.production_month), **NO_MATCH}
        row: dict = {"buckets": sum(1 for _ in book.lots.buckets())}
        for name, flt in wanted.items():
            quantity = 1 if name == "one_bucket" else 10**9
            bid = Bid("b", "A", 10_000, quantity, Eligibility(flt), "A", 10**9)
            assert [(lot.order_id, count(serials)) for lot, serials in book.lots_for(bid, quantity, TODAY)] == \
                [(lot.order_id, q) for lot, q in scan_for(scan, bid, quantity)]
            row[name] = {"book_us": per_call_us(lambda: book.lots_for(bid, quantity, TODAY)),
                         "scan_us": per_call_us(lambda: scan_for(scan, bid, quantity))}
        out[str(size)] = row
        print(size, json.dumps(row))
    first, last = str(sizes[0]), str(sizes[-1])
    out["ratio_largest_to_smallest"] = {name: round(out[last][name]["book_us"] / out[first][name]["book_us"], 2)
                                        for name in NO_MATCH}
    return out


def flow(commands: int, rounds: int) -> dict:
    setup, cmds = gec_flow(commands)

    def fresh() -> Engine:
        engine = Engine("GEC")
        _setup(engine, "GEC")
        for cmd in setup:
            engine.apply(cmd, AT)
        return engine

    best, engine = float("inf"), None
    for _ in range(rounds):
        engine = fresh()
        elapsed, events = run(engine, cmds)
        best = min(best, elapsed)
    result = {"commands": len(cmds), "events": events, "seconds": round(best, 3),
              "commands_per_s": round(len(cmds) / best), "trades": engine.trades,
              "lots_resting": len(engine.lots.lots), "bids_resting": len(engine.lots.bids)}
    engine = fresh()
    profile = cProfile.Profile()
    gc.disable()
    profile.runcall(lambda: [engine.apply(cmd, AT) for cmd in cmds])
    gc.enable()
    stats = pstats.Stats(profile)
    total = sum(row[2] for row in stats.stats.values())
    top = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:12]
    result["profile_own_time_share"] = {f"{Path(file).name}:{line}({name})": round(row[2] / total, 3)
                                        for (file, line, name), row in top}
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2_000, 20_000, 200_000])
    ap.add_argument("--flow", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "gec.json"))
    args = ap.parse_args()
    results: dict = {"machine": platform.platform(), "python": platform.python_version(),
                     "date": dt.date.today().isoformat(), "no_match_bid": no_match(args.sizes),
                     "b_gec_flow": flow(args.flow, args.rounds)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
