"""The `certx` command line: the shell around the pure core."""
from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from certx import money
from certx.replay import Replay, Summary
from certx.wire.codec import encode


def sample_path() -> Path:
    return Path(str(resources.files("certx") / "sample" / "trade_day.jsonl"))


def cmd_replay(args: argparse.Namespace) -> int:
    path = Path(args.commands) if args.commands else sample_path()
    replay = Replay()
    out = open(args.events, "wb") if args.events else None
    with open(path, "rb") as lines:
        for event in replay.run(lines):
            if out:
                out.write(encode(event) + b"\n")
    if out:
        out.close()
    print_summary(path, replay.summary)
    return 0


def print_summary(path: Path, s: Summary) -> None:
    print(f"replayed {path}")
    print(f"  commands {s.commands}, events {s.events}, malformed {len(s.malformed)}")
    print("  trades by product and mode:")
    for (product, mode), n in sorted(s.trades.items()):
        print(f"    {product:<10} {mode:<8} {n:>6} trades {s.volume[product, mode]:>14,} units")
    print("  rejections by reason:")
    for reason, n in sorted(s.rejections.items()):
        print(f"    {reason:<24} {n:>6}")
    print("  day summaries:")
    print(f"    {'product':<10} {'date':<10} {'open':>8} {'high':>8} {'low':>8} {'close':>8} "
          f"{'listing vol':>12} {'block vol':>12}")
    for d in s.days:
        def f(v):  # noqa: E306
            return "-" if v is None else money.text(v)
        print(f"    {d.product:<10} {d.date.isoformat():<10} {f(d.open):>8} {f(d.high):>8} {f(d.low):>8} "
              f"{f(d.close):>8} {d.listing_volume:>12,} {d.block_volume:>12,}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="certx", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("replay", help="replay a .jsonl command file embedded, with no broker")
    p.add_argument("commands", nargs="?", help="command file (default: the shipped sample trade day)")
    p.add_argument("--events", help="write the events here as JSON Lines")
    p.set_defaults(func=cmd_replay)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
