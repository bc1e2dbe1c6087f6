"""Benchmark of the GEC book's buckets (issue 12, item 3): what a filtered bid that matches nothing costs against
2,000, 20,000 and 200,000 resting lots, and the GEC flow of engine_bench (figure (b)) through the engine.

    python -m loadtest.gec_bench [--sizes 2000 20000 200000] [--flow 200000] [--out loadtest/results/gec.json]
                                 [--parts no_match_bid no_match_hour_bid b_gec_flow]

Each part run replaces its figures in --out; the others there are kept.

The lots are spread as distributed-PV issuance would spread them: 30 provinces, mostly solar, some wind, hydro in
the south-west, offshore wind on the coast, biomass anywhere; the 24 production months still valid; one in five
subsidised; 1.00-8.00 yuan. The bids cross every lot's price (100 yuan), want more than rests, and match nothing:
- `province`: a province with nothing resting (Tibet);
- `technology`: a technology with nothing resting (geothermal);
- `province_and_technology`: inland provinces and offshore wind;
- `production_window`: production months not yet issued (a window that starts next month).
Each is timed on the book (`GecBook.lots_for`) and on a scan of every crossing lot with the same `accepts`, as
the book did before the buckets. `one_bucket` is a bid that takes one lot from one bucket.

`no_match_hour_bid` (issue 13): bids with hours against as many lots of distributed-PV project-months, each with
its curve (`loadtest.hour_book`), that cross every lot's price and bucket and match none of its certificates:
- `solar_at_night`: solar, at least 1% of the kWh from 18:00-06:00;
- `two_hours_strict`: all of the kWh from 11:00-13:00;
- `mostly_midday`: 90% of the kWh from 10:00-14:00.
Each is timed on the book and on a walk of every lot the filter admits, reading each one's curve, as the book did
before the lots' peaks (`walk_us`); `takes_one` is a bid with hours that takes one certificate.

The flow is engine_bench's `gec_flow`, best of --rounds, with a cProfile of one more run: its top functions by own
time.
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

from certx.books.gec import Bid, Eligibility, GecBook, Lot, PooledLot, count
from certx.engine import Engine
from certx.registry.issuance import Batch, month_index
from certx.wire.commands import GecFilter
from loadtest.engine_bench import AT, DAY, _setup, gec_flow, run
from loadtest.hour_book import hour_book

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


def batch_of(rng: random.Random, first: int, size: int = 10_000) -> Batch:
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
    return Batch(f"P{first}", province, technology, rng.choice(MONTHS), rng.random() < 0.2, first,
                 first + size - 1, TODAY + 24)


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
    """Microseconds per call: best of `rounds` batches of about `budget_s` each; of two calls for a call slower
    than `budget_s` (a walk of every lot of a large book)."""
    t0 = time.perf_counter()
    call()
    once = time.perf_counter() - t0
    if once > budget_s:
        t0 = time.perf_counter()
        call()
        return round(min(once, time.perf_counter() - t0) * 1e6, 2)
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


NO_HOUR = {
    "solar_at_night": GecFilter(technologies=["solar"], hours=[(0, 6), (18, 24)], min_share=1),
    "two_hours_strict": GecFilter(hours=[(11, 13)], strict=True),
    "mostly_midday": GecFilter(hours=[(10, 14)], min_share=90),
}


def walk_for(book: GecBook, lots: list[Lot], bid: Bid, quantity: int) -> list:
    """The fills of a bid with hours as a walk of every lot finds them: each of `lots` (the book's, cheapest then
    oldest) that the filter admits, its curve read for the serials that meet the hours (pooled lots, which such
    bids pass by, aside)."""
    fills = []
    for lot in lots:
        if lot.price <= bid.price and bid.eligibility.accepts(lot.batch, TODAY) and not isinstance(lot, PooledLot):
            take = book.accepted(lot.serials, lot.batch, bid.eligibility, quantity)
            if take:
                fills.append((lot, take))
                quantity -= count(take)
                if not quantity:
                    break
    return fills


def no_match_hours(sizes: list[int]) -> dict:
    out: dict = {}
    for size in sizes:
        book = hour_book(size, batch_of)
        lots = sorted(book.lots, key=lambda lot: (lot.price, lot.seq))
        wanted = {"takes_one": GecFilter(hours=[(10, 14)], min_share=30), **NO_HOUR}
        row: dict = {"curves": len(book.overlay), "buckets": sum(1 for _ in book.lots.buckets())}
        for name, flt in wanted.items():
            quantity = 1 if name == "takes_one" else 10**9
            bid = Bid("b", "A", 10_000, quantity, Eligibility(flt), "A", 10**9)
            fills = [(lot.order_id, serials) for lot, serials in book.lots_for(bid, quantity, TODAY)]
            assert fills == [(lot.order_id, serials) for lot, serials in walk_for(book, lots, bid, quantity)]
            assert (name == "takes_one") == bool(fills), (name, fills)
            row[name] = {"book_us": per_call_us(lambda: book.lots_for(bid, quantity, TODAY)),
                         "walk_us": per_call_us(lambda: walk_for(book, lots, bid, quantity))}
            print(size, name, row[name], flush=True)
        out[str(size)] = row
    first, last = str(sizes[0]), str(sizes[-1])
    out["ratio_largest_to_smallest"] = {name: round(out[last][name]["book_us"] / out[first][name]["book_us"], 2)
                                        for name in NO_HOUR}
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


PARTS = {"no_match_bid": lambda args: no_match(args.sizes),
         "no_match_hour_bid": lambda args: no_match_hours(args.sizes),
         "b_gec_flow": lambda args: flow(args.flow, args.rounds)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2_000, 20_000, 200_000])
    ap.add_argument("--flow", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "gec.json"))
    ap.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    args = ap.parse_args()
    out = Path(args.out)
    results: dict = json.loads(out.read_text()) if out.exists() else {}
    results.update({"machine": platform.platform(), "python": platform.python_version(),
                    "date": dt.date.today().isoformat()})
    for part in args.parts:
        results[part] = PARTS[part](args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
