"""`certx replay`: a command file replayed embedded, with no broker, settled into a read model, and what happened
printed (the README's first command)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from certx import money
from certx.cli.files import read_by, sample_path
from certx.mistakes import BadFile, MissingFile, WouldOverwrite
from certx.replay import Replay, Summary
from certx.wire.codec import encode


def cmd_replay(args: argparse.Namespace) -> int:
    import json

    from tqdm import tqdm

    from certx.ledger import Ledger
    from certx.ledger.journal import Journal
    from certx.store.target import open_target

    path = Path(args.commands) if args.commands else sample_path()
    for option, name in (("--events", args.events), ("--quotes", args.quotes)):
        if name and read_by(Path(name), inputs=[str(path)]):
            raise WouldOverwrite(f"{option} {name} is the command file it reads: give the output another name")
        if name and Path(name).is_dir():        # said before the run's read model is made, not after
            raise BadFile(f"{option} {name} is a directory, not a file")
        if name and not Path(name).resolve().parent.is_dir():
            raise MissingFile(f"{option} {name}: no folder {Path(name).parent}")
    try:
        lines = path.read_bytes().splitlines(keepends=True)     # a pipe too: `certx replay <(zcat days.gz)`
    except FileNotFoundError:
        raise MissingFile(f"no command file {path}") from None
    target = open_target(args.db, args.fresh, args.timeout)     # never over a read model it was not told to replace
    store = target.store
    journal = Journal(Ledger())
    replay = Replay()
    out = open(args.events, "wb") if args.events else None
    quoted = open(args.quotes, "wb") if args.quotes else None
    settlements: list = []
    bar = tqdm(total=len(lines), unit="line", disable=args.quiet or None, leave=False, desc="replay")
    n = 0
    try:
        for events in replay.each_line(_counted(lines, bar)):
            for event in events:
                n += 1
                if out:
                    out.write(encode(event) + b"\n")
                settlements += journal.add(event, at=replay.at)
                if n % 10_000 == 0:
                    store.write(journal.take())
            if quoted:
                quoted.writelines(encode(q) + b"\n" for q in replay.quotes_of(events))
        store.write(journal.take())
    finally:
        bar.close()
        for f in (out, quoted):
            if f:
                f.close()
    if args.json:
        print(json.dumps(summary_json(path, replay.summary, target, settlements), indent=2, ensure_ascii=False))
    else:
        print_summary(path, replay.summary)
        print_settlement(store, journal.ledger, settlements, f"{target.db}, {target.how}")
    store.close()
    for bad in replay.summary.malformed:
        ref = f" ({bad.ref})" if bad.ref else ""
        print(f"{path}:{bad.line}: {bad.reason}{ref}: {bad.detail}", file=sys.stderr)
    return 1 if replay.summary.malformed else 0


def _counted(lines: list[bytes], bar):
    for line in lines:
        bar.update(1)
        yield line


def summary_json(path: Path, s: Summary, target, settlements: list) -> dict:
    from collections import Counter

    return {
        "file": str(path), "read_model": {"db": target.db, "how": target.how},
        "commands": s.commands, "events": s.events,
        "malformed": [bad._asdict() for bad in s.malformed],
        "trades": [{"product": p, "mode": m, "trades": n, "volume": s.volume[p, m]}
                   for (p, m), n in sorted(s.trades.items())],
        "rejections": dict(sorted(s.rejections.items())),
        "days": [{"product": d.product, "date": d.date.isoformat(), "open": _text(d.open), "high": _text(d.high),
                  "low": _text(d.low), "close": _text(d.close), "listing_volume": d.listing_volume,
                  "block_volume": d.block_volume} for d in s.days],
        "settlements": dict(sorted(Counter(type(x).__struct_config__.tag for x in settlements).items())),
    }


def _text(v) -> str | None:
    return None if v is None else money.text(v)


def print_settlement(store, ledger, settlements: list, db: str) -> None:
    from collections import Counter

    from certx.wire import settlements as st

    kinds = Counter(type(x).__struct_config__.tag for x in settlements)
    print(f"  settlement ({db}): " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    for x in settlements:
        if isinstance(x, st.SettlementRejected):
            print(f"    rejected {x.trade_id}: {x.reason} {x.detail}")
    print("  settled holdings:")
    accounts = sorted({a for a, _ in ledger.cash} | {a for a, _ in ledger.units} | set(ledger.gec))
    for account in accounts:
        h = store.holdings(account)
        cash = " ".join(f"{m} {v}" for m, v in h["cash"].items())
        units = " ".join(f"{p} {q:,}" for p, q in h["units"].items())
        gec = f"GEC {h['gec']['certificates']:,} certs" if h["gec"]["certificates"] else ""
        print(f"    {account:<6} cash: {cash or '-'}; units: {units or '-'} {gec}".rstrip())
    cancelled = [x for x in settlements if isinstance(x, st.GecCancelled)]
    print(f"  GEC cancellations ({len(cancelled)}):")
    for x in cancelled:
        n = sum(b - a + 1 for a, b in x.serials)
        print(f"    {x.trade_id:<8} {n:>8,} certs {x.serials} owner {x.owner} beneficiary {x.beneficiary}")
    retired = [x for x in settlements if isinstance(x, st.GecRetired)]
    if retired:
        print(f"  GEC retired (expired): {sum(b - a + 1 for x in retired for a, b in x.serials):,} certificates")


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
            return _text(v) or "-"
        print(f"    {d.product:<10} {d.date.isoformat():<10} {f(d.open):>8} {f(d.high):>8} {f(d.low):>8} "
              f"{f(d.close):>8} {d.listing_volume:>12,} {d.block_volume:>12,}")
