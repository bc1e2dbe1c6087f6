"""`certx days build`: the official trade days as a command stream."""
from __future__ import annotations

import argparse
import sys


def cmd_days_build(args: argparse.Namespace) -> int:
    import datetime as dt

    from certx.days import build
    from certx.days.background import DEFAULT as BACKGROUND

    try:
        first, last = dt.date.fromisoformat(args.first), dt.date.fromisoformat(args.last)
    except ValueError as exc:
        print(f"certx days build: {exc}", file=sys.stderr)
        return 2
    markets = tuple(m.strip().upper() for m in args.markets.split(",") if m.strip())
    unknown = sorted(set(markets) - set(build.MARKETS))
    if unknown or not markets:
        print(f"certx days build: --markets takes some of {','.join(build.MARKETS)}, not {args.markets!r}",
              file=sys.stderr)
        return 2
    if last < first or args.gec_scale < 0 or args.background < 0 or args.copies < 1:
        print("certx days build: --to before --from, a negative scale or fewer than 1 copy", file=sys.stderr)
        return 2
    if args.copies > 1 and "GEC" in markets:
        print("certx days build: --copies cannot copy GEC issuance (each serial is unique, G1): "
              "add --markets CEA,CCER", file=sys.stderr)
        return 2
    days, commands = build.write(args.out, first, last, copies=args.copies, markets=markets,
                                 gec_scale=args.gec_scale, seed=args.seed,
                                 background=BACKGROUND.scaled(args.background))
    print(f"wrote {commands:,} commands for {days} trading day{'s' if days != 1 else ''} ({', '.join(markets)}) "
          f"to {args.out}")
    return 0
