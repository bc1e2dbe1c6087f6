"""`certx days build`: the official trade days as a command stream."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from certx.cli.files import read_by
from certx.mistakes import BadFile, WouldOverwrite
from certx.wire.codec import say


def cmd_days_build(args: argparse.Namespace) -> int:
    import datetime as dt

    from certx.days import build, official
    from certx.days.background import DEFAULT as BACKGROUND

    dates = []
    for option, text in (("--from", args.first), ("--to", args.last)):
        try:
            dates.append(dt.date.fromisoformat(text))
        except ValueError as exc:
            print(f"certx days build: {option} {text!r} is not a date (YYYY-MM-DD): {exc}", file=sys.stderr)
            return 2
    first, last = dates
    markets = tuple(m.strip().upper() for m in args.markets.split(",") if m.strip())
    unknown = sorted(set(markets) - set(build.MARKETS))
    if unknown or not markets:
        print(f"certx days build: --markets takes some of {','.join(build.MARKETS)}, not {args.markets!r}",
              file=sys.stderr)
        return 2
    wrong = [said for bad, said in ((last < first, f"--to {last} is before --from {first}"),
                                    (args.gec_scale < 0, f"--gec-scale {args.gec_scale} is below 0"),
                                    (args.background < 0, f"--background {args.background} is below 0"),
                                    (args.copies < 1, f"--copies {args.copies} is fewer than 1")) if bad]
    if wrong:
        print(f"certx days build: {'; '.join(wrong)}", file=sys.stderr)
        return 2
    if args.copies > 1 and "GEC" in markets:
        print("certx days build: --copies cannot copy GEC issuance (each serial is unique, G1): "
              "add --markets CEA,CCER", file=sys.stderr)
        return 2
    sources = [official.data_dir() / name
               for name in (*official.CEA_FILES, official.CCER_FILE, official.PROJECTS_FILE)]
    clash = read_by(Path(args.out), inputs=[str(p) for p in sources])
    if clash:
        print(f"certx days build: --out {args.out} is {clash}, an official file it reads: give the stream another "
              f"name", file=sys.stderr)
        return WouldOverwrite.code
    try:            # read (and cached) here, so a folder of other files is said in one line
        known, wanted = sorted(official.cea_days()), official.trading_days(first, last)
        official.ccer_projects()
    except (KeyError, ValueError) as exc:
        print(f"certx days build: the files in {official.data_dir()} are not the official statistics certx "
              f"reads ({type(exc).__name__}: {say(str(exc))})", file=sys.stderr)
        return BadFile.code
    if not known:
        print(f"certx days build: the files in {official.data_dir()} hold no official CEA day", file=sys.stderr)
        return BadFile.code
    if not wanted:
        print(f"certx days build: no official trading day from {first} to {last}: the official files hold "
              f"{known[0]} to {known[-1]}", file=sys.stderr)
        return 2
    days, commands = build.write(args.out, first, last, copies=args.copies, markets=markets,
                                 gec_scale=args.gec_scale, seed=args.seed,
                                 background=BACKGROUND.scaled(args.background))
    print(f"wrote {commands:,} commands for {days} trading day{'s' if days != 1 else ''} ({', '.join(markets)}) "
          f"to {args.out}")
    return 0
