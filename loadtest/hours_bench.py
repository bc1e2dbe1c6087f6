"""Benchmark of the hourly overlay (issue 13, item 1): a year of hourly curves for the distributed-PV projects,
ingested through the engine's apply path, decoded from bytes, with the memory they take.

    python -m loadtest.hours_bench [--projects 64200] [--year 2025] [--snapshot] [--out loadtest/results/hours.json]

The projects are DOMAIN's 64,200 distributed-PV projects (or `--projects` of them), issued 23 M certificates a
year between them: about 358 each (a log-normal spread, 24 to 5,000). Each produces by day, 06:00-18:00 China time
on a bell, by season and by the day's weather (one of 64 weather years); its month is issued floor((carry in +
kWh) / 1000) GECs, one batch, and the rest is carried to the next month, as certx.hours.overlay carries it.

Two phases, month by month and project by project, as a registry would send them:
1. issuance: the year's `issue.gec` for every project-month, applied as commands (not timed as the target);
2. curves: each project-month's `curve.attach` encoded to JSON as on `certx.commands`, then, timed: decoded by the
   matcher's decoder (`decode_logged`) and applied by the GEC engine. Building the kWh and encoding them is not in
   the time; the RSS before and after the phase is, and the bytes of the curves' arrays.

Also: the gateway's strict decoder (`decode_command`) on a sample of the commands, `hours_of` of single
certificates, and with `--snapshot` the GEC engine's snapshot (its size and the time to dump and load it).
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import platform
import random
import resource
import time
from pathlib import Path

from certx.engine import Engine
from certx.hours.clock import month_hours
from certx.hours.curve import KWH
from certx.registry.issuance import months
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.codec import decode_command, decode_logged, encode, millis

CST = dt.timezone(dt.timedelta(hours=8))
PROJECTS = 64_200
CERTIFICATES = 23_000_000           # a year, between them (DOMAIN, "Real activity")
WEATHERS = 64


def rss_mb() -> float:
    """The resident set now, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def weather_years(year: int, seed: int) -> list[list[float]]:
    """WEATHERS years of relative hourly production (each summing to 1), China time from January 1st 00:00."""
    hours = sum(month_hours(months(year, m)) for m in range(1, 13))
    rng = random.Random(seed)
    bell = [max(0.0, math.sin(math.pi * (h + 0.5 - 6) / 12)) if 6 <= h < 18 else 0.0 for h in range(24)]
    out = []
    for _ in range(WEATHERS):
        profile = []
        for day in range(hours // 24):
            season = 1 + 0.35 * math.cos(2 * math.pi * (day - 172) / 365)
            sky = rng.uniform(0.25, 1.0)
            profile += [b * season * sky for b in bell]
        whole = sum(profile)
        out.append([p / whole for p in profile])
    return out


class Fleet:
    """The projects: each its size (kWh a year) and weather; its kWh hour by hour, month by month."""

    def __init__(self, projects: int, year: int, seed: int) -> None:
        rng = random.Random(seed)
        sizes = [min(5_000, max(24, rng.lognormvariate(math.log(250), 0.8))) for _ in range(projects)]
        scale = CERTIFICATES / PROJECTS / (sum(sizes) / projects)
        self.kwh_a_year = [int(s * scale * KWH) for s in sizes]
        self.weather = [rng.randrange(WEATHERS) for _ in range(projects)]
        self.profiles = weather_years(year, seed)
        self.year = year
        self.offsets = [0]
        for m in range(1, 13):
            self.offsets.append(self.offsets[-1] + month_hours(months(year, m)))

    def kwh(self, project: int, month: int) -> list[int]:
        """The project's kWh in each hour of a month (1-12)."""
        size, profile = self.kwh_a_year[project], self.profiles[self.weather[project]]
        return [int(size * p) for p in profile[self.offsets[month - 1]:self.offsets[month]]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--projects", type=int, default=PROJECTS)
    ap.add_argument("--year", type=int, default=2025)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--snapshot", action="store_true", help="also dump and load the GEC engine's snapshot")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "hours.json"))
    args = ap.parse_args()

    started = rss_mb()
    fleet = Fleet(args.projects, args.year, args.seed)
    at = millis(dt.datetime(args.year + 1, 1, 5, 9, tzinfo=CST))
    engine = Engine("GEC")
    engine.apply(c.AccountOpen(id="open", actor="registry", account="R", broker="B"), at)
    names = [f"DPV-{p:05d}" for p in range(args.projects)]

    # 1. issuance: what each month's production and carry give, one batch a project-month
    t0 = time.perf_counter()
    carry = [0] * args.projects
    serial, batches, certificates = 1, 0, 0
    for month in range(1, 13):
        for p in range(args.projects):
            produced = carry[p] + sum(fleet.kwh(p, month))
            issued, carry[p] = divmod(produced, KWH)
            if not issued:
                raise SystemExit(f"{names[p]} has no certificate in month {month}: the fleet is too small")
            engine.apply(c.IssueGec(id=f"i{month}-{p}", actor="registry", account="R", project=names[p],
                                    province="Zhejiang", technology="solar",
                                    production_month=f"{args.year}-{month:02d}", subsidised=False,
                                    first_serial=serial, last_serial=serial + issued - 1), at)
            serial += issued
            batches += 1
            certificates += issued
    issuance_s = time.perf_counter() - t0
    gc.collect()
    before = rss_mb()
    print(f"issued {certificates:,} GECs in {batches:,} batches in {issuance_s:.0f} s; RSS {before:,.0f} MB")

    # 2. curves: encoded as on the command log, then decoded and applied (timed)
    apply, spent, values, encoded_bytes, sample = engine.apply, 0.0, 0, 0, []
    t_all = time.perf_counter()
    for month in range(1, 13):
        for p in range(args.projects):
            kwh = fleet.kwh(p, month)
            raw = encode(c.CurveAttach(id=f"h{month}-{p}", actor="registry", project=names[p],
                                       production_month=f"{args.year}-{month:02d}", kwh=kwh))
            values += len(kwh)
            encoded_bytes += len(raw)
            if p % 97 == 0 and len(sample) < 20_000:
                sample.append(raw)
            t0 = time.perf_counter()
            events = apply(decode_logged(raw), at)
            spent += time.perf_counter() - t0
            if type(events[0]) is not e.CurveAttached:
                raise SystemExit(f"{names[p]} {month}: {events[0]}")
        print(f"  {args.year}-{month:02d}: {spent:.0f} s applying, RSS {rss_mb():,.0f} MB", flush=True)
    wall = time.perf_counter() - t_all
    gc.collect()
    after = rss_mb()
    curves = engine.curves.curves.values()
    array_bytes = sum(len(cv.cum) * cv.cum.itemsize for cv in curves)
    widths = {code: sum(1 for cv in curves if cv.cum.typecode == code) for code in ("H", "I", "q")}

    # the gateway's strict decoding of the same commands, on a sample
    t0 = time.perf_counter()
    for raw in sample:
        decode_command(raw)
    strict_us = (time.perf_counter() - t0) / len(sample) * 1e6

    # hours_of a certificate, anywhere in the year
    rng = random.Random(1)
    picks = [(names[p], months(args.year, m)) for p, m in
             ((rng.randrange(args.projects), rng.randint(1, 12)) for _ in range(100_000))]
    t0 = time.perf_counter()
    for project, month in picks:
        cv = engine.curves.curve_of(project, month)
        first, last = cv.ranges[0]
        serial = first + (last - first) // 2
        cv.hours(serial, serial)
    hours_of_us = (time.perf_counter() - t0) / len(picks) * 1e6

    n = batches
    result = {
        "host": {"python": platform.python_version(), "machine": platform.machine(), "cpus": 2,
                 "note": "a shared 2-CPU host with other work running"},
        "projects": args.projects, "of_the_target": round(args.projects / PROJECTS, 4), "year": args.year,
        "curves": n, "hourly_values": values, "certificates": certificates,
        "issuance_s": round(issuance_s, 1),
        "ingest": {"decode_and_apply_s": round(spent, 1), "curves_per_s": round(n / spent),
                   "values_per_s": round(values / spent), "us_per_curve": round(spent / n * 1e6, 1),
                   "wall_with_building_and_encoding_s": round(wall, 1),
                   "encoded_mb": round(encoded_bytes / 2**20, 1)},
        "memory": {"rss_before_curves_mb": round(before), "rss_after_curves_mb": round(after),
                   "curves_rss_mb": round(after - before), "arrays_mb": round(array_bytes / 2**20, 1),
                   "bytes_per_hour_rss": round((after - before) * 2**20 / values, 2),
                   "array_widths": widths, "rss_at_start_mb": round(started),
                   "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)},
        "gateway_strict_decode_us": round(strict_us, 1),
        "hours_of_one_certificate_us": round(hours_of_us, 2),
    }
    if args.snapshot:
        from certx.engine import snapshot
        t0 = time.perf_counter()
        blob = snapshot.dump(engine, 0)
        dumped = time.perf_counter() - t0
        t0 = time.perf_counter()
        snapshot.load(blob)
        result["snapshot"] = {"mb": round(len(blob) / 2**20, 1), "dump_s": round(dumped, 1),
                              "load_s": round(time.perf_counter() - t0, 1)}
    if args.projects != PROJECTS:
        k = PROJECTS / args.projects
        result["extrapolated_to_64200"] = {
            "note": "linear in the number of curves: each is applied alone, and the dict of curves grows by one",
            "decode_and_apply_s": round(spent * k), "curves_rss_mb": round((after - before) * k),
            "arrays_mb": round(array_bytes * k / 2**20)}
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
