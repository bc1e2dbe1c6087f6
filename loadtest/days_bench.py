"""Benchmark of real trading days: build a range of official days as one command stream (certx.days), replay it
embedded (certx.replay.Replay: the door and the three engines, no broker), and check every day summary against
the official rows.

    python -m loadtest.days_bench [--from 2021-07-16] [--to 2026-08-07] [--markets CEA] [--gec-scale 0.001]
                                  [--background 1] [--seed 1] [--out loadtest/results/days.json]

Figures, per markets built (each run replaces its own entry in the results file, keyed by markets and range):
trading days and day summaries, commands, events, trades by product mode, rejections (a built command is never
meant to be refused), mismatches against the official rows (each listed: date, product, field, built, official),
the time to build the file (streamed: one day in memory at a time) and to replay it, and the process's peak
memory. Not a test: the whole range takes tens of seconds.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from certx.days import build, official
from certx.days.background import DEFAULT as BACKGROUND
from certx.replay import Replay
from certx.wire import events as e

FIELDS = ("open", "high", "low", "close", "listing_volume", "listing_value", "block_volume", "block_value",
          "auction_volume", "auction_value")


def mismatches(day: e.DaySummary, gec_daily: dict[int, int]) -> list[dict]:
    """The fields of a day summary that differ from the official figures (GEC: the volume at the scale)."""
    def value(v):
        return None if v is None else int(v)

    if day.product.startswith("CEA"):
        o = official.cea_day(day.date, day.product)
        want = {f: getattr(o, f) for f in FIELDS}
    elif day.product == "CCER":
        o = official.ccer_days()[day.date]
        want = {"listing_volume": o.volume, "listing_value": o.value}
    else:
        want = {"listing_volume": gec_daily[day.date.year]}
    return [{"date": day.date.isoformat(), "product": day.product, "field": f, "built": value(getattr(day, f)),
             "official": v} for f, v in want.items() if value(getattr(day, f)) != v]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--from", dest="first", default="2021-07-16")
    ap.add_argument("--to", dest="last", default="2026-08-07")
    ap.add_argument("--markets", default="CEA")
    ap.add_argument("--gec-scale", type=float, default=0.001)
    ap.add_argument("--background", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "days.json"))
    args = ap.parse_args()
    first, last = dt.date.fromisoformat(args.first), dt.date.fromisoformat(args.last)
    markets = tuple(args.markets.split(","))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "days.jsonl"
        t0 = time.perf_counter()
        days, commands = build.write(path, first, last, markets=markets, gec_scale=args.gec_scale, seed=args.seed,
                                     background=BACKGROUND.scaled(args.background))
        built_s = time.perf_counter() - t0
        size = path.stat().st_size
        replay = Replay()
        t0 = time.perf_counter()
        with open(path, "rb") as lines:      # a progress bar on a terminal only (disable=None)
            for _ in replay.run(tqdm(lines, total=commands, unit="cmd", desc="replay", disable=None, leave=False)):
                pass
        replay_s = time.perf_counter() - t0

    s = replay.summary
    from certx.days import gec, year
    gec_daily = {y: round(gec.daily_volume(y, year.days_2024()) * args.gec_scale) for y in range(2021, 2027)}
    wrong = [m for day in s.days for m in mismatches(day, gec_daily)]
    trades = Counter()
    for (product, mode), n in s.trades.items():
        trades[f"{product.rstrip('0123456789') or product} {mode}"] += n
    label = f"{','.join(markets)} {first}..{last}"
    figures = {
        "markets": list(markets), "from": first.isoformat(), "to": last.isoformat(), "seed": args.seed,
        "gec_scale": args.gec_scale if "GEC" in markets else None, "background": args.background,
        "trading_days": days,
        "day_summaries": dict(Counter(d.product.rstrip("0123456789") for d in s.days)),
        "commands": commands, "file_bytes": size, "events": s.events,
        "trades": sum(s.trades.values()), "trades_by_market_and_mode": dict(sorted(trades.items())),
        "units_traded": sum(s.volume.values()),
        "rejections": dict(s.rejections), "malformed": len(s.malformed),
        "mismatches": len(wrong), "mismatched": wrong[:200],
        "build_seconds": round(built_s, 1), "replay_seconds": round(replay_s, 1),
        "replay_commands_per_s": round(commands / replay_s),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    results.update({"machine": platform.platform(), "python": platform.python_version(),
                    "date": dt.date.today().isoformat()})
    results.setdefault("runs", {})[label] = figures
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({label: figures}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
