"""Benchmark of the 24/7 allocation (issue 13, item 3; certx.hours.allocation): a data centre's year of hourly load
against 10^5 supply classes, on the greedy path and on the LP path.

    python -m loadtest.allocation_bench [--classes 100000] [--runs 20] [--gwh 100] [--cap 20] [--seed 1]
                                        [--out loadtest/results/allocation.json]

The load: 8,760 hours of a data centre using --gwh a year: a flat base with a daily swing (cooling in the
afternoon), a summer peak and noise. The supply: a year of GEC lots across provinces, each a few days of one
project's production cut into 1,000 kWh certificates in production order (issue 13, item 1): solar by daylight
(its noon later in the west, in China time), wind at any hour, hydro fuller in the wet season; utility plants and
distributed PV; 1-30 yuan a certificate, cheapest then oldest. A run of certificates wholly inside one hour is one
class; a certificate across hours is a class of its own, with its mix. Some lots were produced before the year and
match nothing.
- `greedy`: only single-hour classes, --classes of them, under the cap (yuan): p50/p99/max over --runs calls of
  `allocate`, and whether every run gave the same bytes.
- `lp`: --classes classes as they come (single-hour, across hours, distributed PV spread over days), through
  `allocate` as the engine calls it (beyond FULL_MIP classes: the LP relaxation, then the covering sets or the
  windowed MIPs): wall and CPU time, status, gaps, matched energy, cost and whether the runs gave the same bytes;
  with --whole-mip, also the whole MIP at this size, for the choice the module docstring explains (it takes
  minutes).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import random
import time
from bisect import bisect_right
from importlib import metadata
from itertools import accumulate
from pathlib import Path

import msgspec

from certx.hours import allocation
from certx.hours.allocation import KWH, Supply, allocate

HOURS = 8_760
# province: hours by which its solar noon falls after 12:00 China time (Beijing is at 116°E, the clock at 120°E)
SOLAR_NOON = {"Shandong": 0.0, "Hebei": 0.3, "Jiangsu": 0.0, "Inner Mongolia": 0.8, "Gansu": 1.6, "Qinghai": 2.0,
              "Ningxia": 1.3, "Xinjiang": 2.9, "Shanxi": 0.6, "Henan": 0.5, "Yunnan": 1.6, "Sichuan": 1.4,
              "Guangdong": 0.6, "Fujian": 0.2, "Jilin": -0.4, "Heilongjiang": -0.6, "Guizhou": 1.2, "Hubei": 0.7}
HYDRO = ["Sichuan", "Yunnan", "Guizhou", "Hubei", "Qinghai"]


def load_of(rng: random.Random, gwh: float) -> list[int]:
    """A data centre's year: flat base, afternoon cooling, summer peak, noise; scaled to `gwh`."""
    shape = []
    for h in range(HOURS):
        day, hour = divmod(h, 24)
        summer = math.cos(2 * math.pi * (day - 200) / 365)          # +1 in mid-July
        daily = math.cos(2 * math.pi * (hour - 15) / 24)            # +1 at 15:00
        shape.append(1.0 + 0.06 * daily * (1 + summer) / 2 + 0.12 * summer + rng.gauss(0, 0.02))
    scale = gwh * 1e6 / sum(shape)
    return [round(s * scale) for s in shape]


def production(rng: random.Random, technology: str, province: str, kw: float, hours: range) -> list[int]:
    """Hourly kWh of one plant over `hours` (hour 0 is 1 January 00:00, China time)."""
    out, wind = [], rng.random() * 0.5
    clear = 1.0
    for h in hours:
        day, hour = divmod(h, 24)
        season = math.cos(2 * math.pi * (day - 172) / 365)          # +1 at the June solstice
        if technology == "solar":
            if hour == 0:
                clear = rng.uniform(0.25, 1.0)
            half = 6.0 + 1.2 * season                               # half the day length
            x = (hour + 0.5 - 12 - SOLAR_NOON[province]) / half
            factor = clear * max(0.0, math.cos(math.pi / 2 * x)) if abs(x) < 1 else 0.0
        elif technology == "wind":
            wind = min(1.0, max(0.0, 0.9 * wind + 0.1 * 0.28 + rng.gauss(0, 0.08)))
            factor = wind
        else:
            factor = min(1.0, 0.45 + 0.25 * season + rng.gauss(0, 0.03))
        out.append(round(kw * factor))
    return out


def classes_of(lot: str, serial: int, price: int, start: int, kwh: list[int], single_hour: bool) -> list[tuple]:
    """One lot's certificates as classes: (price, serial, Supply). Certificate k covers kWh [1000k, 1000k + 1000)
    of the lot's production, in production order."""
    out = []
    starts = [0, *accumulate(kwh)]                   # kWh produced before each hour
    for i, produced in enumerate(kwh):
        a, b = -(-starts[i] // KWH), starts[i + 1] // KWH
        if b > a:                                     # certificates a..b-1 wholly inside hour start + i
            out.append((price, serial + a, Supply(f"{lot}:{serial + a}-{serial + b - 1}", b - a, price,
                                                  ((start + i, KWH),))))
    if single_hour:
        return out
    straddling = sorted({s // KWH for s in starts[1:-1] if s % KWH} - {starts[-1] // KWH})
    for k in straddling:
        lo, hi = k * KWH, (k + 1) * KWH
        mix, i = [], bisect_right(starts, lo) - 1
        while i < len(kwh) and starts[i] < hi:
            part = min(hi, starts[i + 1]) - max(lo, starts[i])
            if part > 0:
                mix.append((start + i, part))
            i += 1
        out.append((price, serial + k, Supply(f"{lot}:{serial + k}", 1, price, tuple(mix))))
    return out


def supply_of(rng: random.Random, classes: int, single_hour: bool) -> list[Supply]:
    """`classes` supply classes from a year of lots, cheapest then oldest (lot, then serial)."""
    rows: list[tuple] = []
    serial = 1
    lot = 0
    while len(rows) < classes:
        r = rng.random()
        if r < 0.45:
            technology, province = "solar", rng.choice(list(SOLAR_NOON))
        elif r < 0.85:
            technology, province = "wind", rng.choice(list(SOLAR_NOON))
        else:
            technology, province = "hydro", rng.choice(HYDRO)
        distributed = technology == "solar" and not single_hour and rng.random() < 0.3
        kw = rng.uniform(50, 800) if distributed else rng.uniform(20_000, 300_000)
        days = rng.randint(7, 31) if distributed else rng.randint(1, 4)
        first = rng.randrange(-30 * 24, HOURS - 24 * days) // 24 * 24     # some lots produced before the year
        price = rng.randint(100, 3_000)
        kwh = production(rng, technology, province, kw, range(first, first + 24 * days))
        rows += [(p, lot, s, c) for p, s, c in classes_of(f"L{lot}", serial, price, first, kwh, single_hour)]
        serial += sum(kwh) // KWH + 1
        lot += 1
    rows = rows[:classes]
    rows.sort(key=lambda row: row[:3])
    return [row[3] for row in rows]


def timed(call, runs: int) -> tuple[list[float], list[float], list[bytes]]:
    """Wall and CPU seconds of each call, and its answer's bytes. The solver is single-threaded, so its CPU seconds
    are what the wall would show on an idle machine; on a shared one the wall may be far longer."""
    seconds, cpu, outputs = [], [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        answer = call()
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        outputs.append(msgspec.json.encode(answer))
    return seconds, cpu, outputs


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 4)


def figures(answer: allocation.Allocation) -> dict:
    return {"method": answer.method, "status": answer.status, "gap": answer.gap, "cost_gap": answer.cost_gap,
            "score": round(answer.score, 6), "matched_kwh": answer.matched_total, "cost_fen": answer.cost,
            "certificates": sum(answer.taken)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--classes", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--lp-runs", type=int, default=3)
    ap.add_argument("--gwh", type=float, default=100.0)
    ap.add_argument("--cap", type=int, default=20, help="yuan a certificate")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--whole-mip", action="store_true", help="also time the whole MIP at this size (minutes)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "allocation.json"))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    loads = load_of(rng, args.gwh)
    cap = args.cap * 100
    results: dict = {"machine": platform.platform(), "python": platform.python_version(),
                     "date": dt.date.today().isoformat(), "highspy": metadata.version("highspy"),
                     "load": {"hours": len(loads), "gwh": round(sum(loads) / 1e6, 3), "peak_kwh": max(loads)},
                     "cap_yuan": args.cap}

    greedy_supply = supply_of(random.Random(args.seed + 1), args.classes, single_hour=True)
    seconds, _, outputs = timed(lambda: allocate(loads, greedy_supply, cap), args.runs)
    results["greedy"] = {"classes": len(greedy_supply),
                         "supply_certificates": sum(s.available for s in greedy_supply),
                         "runs": len(seconds), "p50_s": quantile(seconds, 0.5), "p99_s": quantile(seconds, 0.99),
                         "max_s": round(max(seconds), 4), "same_bytes": len(set(outputs)) == 1,
                         **figures(msgspec.json.decode(outputs[0], type=allocation.Allocation))}
    print("greedy", json.dumps(results["greedy"]))

    lp_supply = supply_of(random.Random(args.seed + 2), args.classes, single_hour=False)
    spans = [len(s.mix) for s in lp_supply]
    results["lp_supply"] = {"classes": len(lp_supply), "supply_certificates": sum(s.available for s in lp_supply),
                            "single_hour": sum(1 for n in spans if n == 1), "mix_entries": sum(spans),
                            "most_hours": max(spans)}
    seconds, cpu, outputs = timed(lambda: allocate(loads, lp_supply, cap), args.lp_runs)
    results["lp"] = {"runs": len(seconds), "max_s": round(max(seconds), 3), "min_s": round(min(seconds), 3),
                     "max_cpu_s": round(max(cpu), 3),
                     "same_bytes": len(set(outputs)) == 1,
                     **figures(msgspec.json.decode(outputs[0], type=allocation.Allocation))}
    print("lp", json.dumps(results["lp"]))
    if args.whole_mip:                    # the choice the module docstring explains: the whole MIP, for comparison
        seconds, cpu, outputs = timed(
            lambda: allocation._lp(loads, lp_supply, cap, None, full_mip=10**9, full_pairs=10**9), 1)
        results["lp_whole_mip"] = {"seconds": round(seconds[0], 3), "cpu_s": round(cpu[0], 3),
                                   **figures(msgspec.json.decode(outputs[0], type=allocation.Allocation))}
        print("whole MIP", json.dumps(results["lp_whole_mip"]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
