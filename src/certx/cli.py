"""The `certx` command line: the shell around the pure core."""
from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator

from certx import money
from certx.replay import Replay, Summary
from certx.wire.codec import encode
from certx.wire.events import Event


def sample_path() -> Path:
    return Path(str(resources.files("certx") / "sample" / "trade_day.jsonl"))


def cmd_replay(args: argparse.Namespace) -> int:
    from certx.ledger import Ledger
    from certx.ledger.journal import Journal
    from certx.store import open_store

    path = Path(args.commands) if args.commands else sample_path()
    if args.db != ":memory:" and not args.db.startswith("postgres"):
        Path(args.db).unlink(missing_ok=True)   # a replay settles into a fresh read model
    store = open_store(args.db)
    journal = Journal(Ledger())
    replay = Replay()
    out = open(args.events, "wb") if args.events else None
    settlements: list = []
    with open(path, "rb") as lines:
        for n, event in enumerate(replay.run(lines), 1):
            if out:
                out.write(encode(event) + b"\n")
            settlements += journal.add(event, at=replay.at)
            if n % 10_000 == 0:
                store.write(journal.take())
    store.write(journal.take())
    if out:
        out.close()
    print_summary(path, replay.summary)
    print_settlement(store, journal.ledger, settlements, args.db)
    store.close()
    for bad in replay.summary.malformed:
        ref = f" ({bad.ref})" if bad.ref else ""
        print(f"{path}:{bad.line}: {bad.reason}{ref}: {bad.detail}", file=sys.stderr)
    return 1 if replay.summary.malformed else 0


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
            return "-" if v is None else money.text(v)
        print(f"    {d.product:<10} {d.date.isoformat():<10} {f(d.open):>8} {f(d.high):>8} {f(d.low):>8} "
              f"{f(d.close):>8} {d.listing_volume:>12,} {d.block_volume:>12,}")


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
    if last < first or args.gec_scale < 0 or args.background < 0:
        print("certx days build: --to before --from, or a negative scale", file=sys.stderr)
        return 2
    days, commands = build.write(args.out, first, last, markets=markets, gec_scale=args.gec_scale,
                                 seed=args.seed, background=BACKGROUND.scaled(args.background))
    print(f"wrote {commands:,} commands for {days} trading day{'s' if days != 1 else ''} ({', '.join(markets)}) "
          f"to {args.out}")
    return 0


def _query(args: argparse.Namespace, ask) -> int:
    import json

    from certx.store import open_store

    if not args.db.startswith("postgres") and not Path(args.db).exists():
        print(f"no read model at {args.db}: run `certx replay` or the projector first", file=sys.stderr)
        return 2
    store = open_store(args.db, read_only=True)     # the reader's role may read, nothing more
    try:
        answer = ask(store)
    finally:
        store.close()
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    return 0 if answer is not None else 1


def load_rules(path: str | None):
    """A deployment's rule table, as JSON in the shape of certx.rules.Rules (missing fields keep DOMAIN's)."""
    import msgspec

    from certx.rules import DEFAULT, Rules

    return DEFAULT if path is None else msgspec.json.decode(Path(path).read_bytes(), type=Rules)


def kafka(args: argparse.Namespace):
    from certx.kafka.connection import load

    return load(args.bootstrap, args.kafka_config)


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from certx.kafka.topics import Topics
    from services.supervisor import main_argv, supervise, supervised

    if not supervised():
        return supervise(main_argv(), args.service)   # the service runs in a child this process restarts

    topics = Topics(args.prefix)
    if args.service == "projector":
        from certx.kafka.projector import ProjectorSettings
        from services.projector import main as serve_projector

        return asyncio.run(serve_projector(ProjectorSettings(kafka=kafka(args), db=args.db, topics=topics)))
    if args.service == "gateway":
        from certx.kafka.gateway import GatewaySettings
        from services.gateway import main as serve_gateway

        return asyncio.run(serve_gateway(GatewaySettings(kafka=kafka(args), topics=topics)))
    from certx.kafka.matcher import Settings
    from services.matcher import main as serve_matcher

    settings = Settings(kafka=kafka(args), topics=topics, rules=load_rules(args.rules),
                        snapshot_every=args.snapshot_every, session_timeout_ms=args.session_timeout_ms)
    return asyncio.run(serve_matcher(settings))


def cmd_submit(args: argparse.Namespace) -> int:
    import asyncio

    from certx.kafka.submit import submit
    from certx.kafka.topics import Topics

    with open(args.file, "rb") as f:
        lines = f.readlines()
    if args.measures:
        return asyncio.run(_measured(args, lines))
    done = asyncio.run(submit(lines, kafka(args), Topics(args.prefix), replay=args.replay, rate=args.rate,
                              speed=args.speed, max_wait=args.max_wait, progress=not args.quiet, total=len(lines)))
    print(f"submitted {done.lines} commands to {done.topic}; the answers are on certx.events")
    return 0


async def _measured(args: argparse.Namespace, lines: list[bytes]) -> int:
    """Submit while following the answers and the settlements; then wait for both to catch up, and write the
    figures (certx.kafka.measures)."""
    import asyncio
    import json
    import time

    from certx.kafka.measures import Measures, follow
    from certx.kafka.submit import submit
    from certx.kafka.topics import Topics

    topics, conn, measures, stop = Topics(args.prefix), kafka(args), Measures(), asyncio.Event()
    following = asyncio.create_task(follow(conn, topics, measures, stop))
    await asyncio.sleep(1.0)         # the reader stands at the topics' ends before the first command goes
    done = await submit(lines, conn, topics, replay=args.replay, rate=args.rate, speed=args.speed,
                        max_wait=args.max_wait, progress=not args.quiet, total=len(lines),
                        sent=measures.command, describe=measures.describe)
    deadline = time.monotonic() + args.catch_up_timeout
    while not measures.caught_up() and time.monotonic() < deadline and not following.done():
        await asyncio.sleep(0.2)
    stop.set()
    await following
    import msgspec

    figures = measures.figures(args.speed, source=f"{args.file} through the gateway, at speed "
                                                   f"{args.speed or 'max'}")
    Path(args.measures).write_bytes(msgspec.json.format(msgspec.json.encode(figures), indent=1) + b"\n")
    run, caught_up = figures.run, measures.caught_up()
    print(f"submitted {done.lines} commands to {done.topic}: {run['commands_per_s']:,}/s; latency p99 "
          f"{run['latency'].get('p99_ms')} ms, settled p99 {run['settle_latency'].get('p99_ms')} ms; "
          f"peak lag {run['peak_matcher_lag']:,} commands, {run['peak_projector_lag']:,} trades"
          f"{'' if caught_up else '; NOT caught up'}; figures in {args.measures}")
    return 0 if caught_up else 1


def cmd_tail(args: argparse.Namespace) -> int:
    import asyncio

    from certx.kafka.tail import tail
    from certx.kafka.topics import Topics

    asyncio.run(tail(kafka(args), Topics(args.prefix), follow=args.follow, limit=args.limit))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """The replay report: figures from the events (certx.report), the page and its JSON beside it."""
    from certx.report import measures, official, page
    from certx.report.figures import build

    out = Path(args.out)
    figures_path = out.with_suffix(".json")
    if figures_path == out:
        print(f"--out {out}: the page needs a name of its own beside its figures (report.html)", file=sys.stderr)
        return 2
    try:
        given = measures.decode(Path(args.measures).read_bytes()) if args.measures else None
        rows = None
        if args.official:
            rows = []
            for name in args.official:
                with open(name, encoding="utf-8", newline="") as f:
                    rows += official.read(f, name)
        with open(args.events, "rb") as lines:
            figures = build(_events(args.events, lines), rules=load_rules(args.rules), source=args.events,
                            measures=given, official=rows)
        out.write_text(page.render(figures), encoding="utf-8")
        figures_path.write_bytes(page.figures_json(figures))
    except (OSError, ValueError) as exc:      # the bad file's name and line are in the message
        print(f"certx report: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} and {figures_path}")
    return 0


def _events(name: str, lines: Iterable[bytes]) -> Iterator[Event]:
    """The events of a file `certx replay --events` wrote, one JSON object a line."""
    import msgspec

    from certx.wire.codec import decode_event

    for n, line in enumerate(lines, 1):
        if line.strip():
            try:
                yield decode_event(line)
            except msgspec.DecodeError as exc:       # a ValidationError is one too
                raise ValueError(f"{name}:{n}: not an event: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="certx", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("replay", help="replay a .jsonl command file embedded, with no broker")
    p.add_argument("commands", nargs="?", help="command file (default: the shipped sample trade day)")
    p.add_argument("--events", help="write the events here as JSON Lines")
    p.add_argument("--db", default="certx.db", help="settle into this read model (SQLite file, recreated; or a "
                   "postgresql:// DSN); default certx.db")
    p.set_defaults(func=cmd_replay)

    def db_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", default=os.environ.get("CERTX_DB", "certx.db"),
                       help="the read model: SQLite file or postgresql:// DSN, read only, so the reader's role will do "
                            "(`deploy/postgres.sh dsn reader`); default $CERTX_DB or certx.db")

    p = sub.add_parser("days", help="real trade days as command streams")
    days = p.add_subparsers(dest="days_command", required=True)
    p = days.add_parser("build", help="build the official days from FROM to TO as a .jsonl file for `certx replay` "
                        "(or `certx submit --replay`)")
    p.add_argument("--from", dest="first", required=True, metavar="DATE", help="first day, e.g. 2021-12-01")
    p.add_argument("--to", dest="last", required=True, metavar="DATE", help="last day, inclusive")
    p.add_argument("--markets", default="CEA,CCER,GEC", help="which markets to build (default CEA,CCER,GEC)")
    p.add_argument("--gec-scale", type=float, default=0.001,
                   help="GEC volume as a fraction of the real (DOMAIN: 2.8 M certificates a day in 2025); "
                        "default 0.001")
    p.add_argument("--background", type=float, default=1.0,
                   help="orders that never trade, as a multiple of the default ratio (8 a listing trade, see "
                        "certx.days.background); 0 builds the trades alone")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True, help="the .jsonl file to write")
    p.set_defaults(func=cmd_days_build)

    p = sub.add_parser("holdings", help="an account's settled cash, units and GEC serials, as JSON")
    p.add_argument("account")
    db_option(p)
    p.set_defaults(func=lambda a: _query(a, lambda st: st.holdings(a.account)))
    p = sub.add_parser("certificate", help="the provenance of one GEC, as JSON")
    p.add_argument("serial", type=int)
    db_option(p)
    p.set_defaults(func=lambda a: _query(a, lambda st: st.certificate(a.serial)))
    p = sub.add_parser("retirements", help="GECs cancelled for a beneficiary, as JSON")
    p.add_argument("--beneficiary", required=True)
    db_option(p)
    p.set_defaults(func=lambda a: _query(a, lambda st: st.retirements(a.beneficiary)))
    p = sub.add_parser("compliance", help="what an account surrendered for a compliance year (C1), as JSON")
    p.add_argument("account")
    p.add_argument("year", type=int)
    db_option(p)
    p.set_defaults(func=lambda a: _query(a, lambda st: st.compliance(a.account, a.year)))

    def kafka_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $CERTX_KAFKA or 127.0.0.1:9092)")
        p.add_argument("--kafka-config", metavar="FILE",
                       help="Kafka client properties: who to log in as, SASL/TLS (default: $CERTX_KAFKA_CONFIG; "
                            "see certx.kafka.connection)")
        p.add_argument("--prefix", default="", help="topic, group and transactional id prefix (isolates a test or "
                       "a deployment)")

    p = sub.add_parser("serve", help="run a service on Kafka")
    p.add_argument("service", choices=["gateway", "matcher", "projector"])
    p.add_argument("--db", default=os.environ.get("CERTX_DB", "certx.db"),
                   help="projector: the read model, a postgresql:// DSN or a SQLite file (default $CERTX_DB or certx.db)")
    p.add_argument("--rules", help="rule table as JSON (default: DOMAIN.md's)")
    p.add_argument("--snapshot-every", type=int, default=200_000, help="commands between engine snapshots")
    p.add_argument("--session-timeout-ms", type=int, default=10_000,
                   help="consumer session timeout: how soon a dead instance's partitions move (broker minimum applies)")
    kafka_options(p)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("submit", help="send a .jsonl command file as a sender: to your inbound topic, or with "
                       "--replay to the operator's replay path")
    p.add_argument("file")
    p.add_argument("--replay", action="store_true", help="recorded commands that keep their actors and times "
                   "(`at`): the operator's principal only")
    p.add_argument("--speed", type=float, help="send recorded commands at this many times the pace of their `at` "
                   "(600: ten minutes of market a second); default: as fast as possible")
    p.add_argument("--max-wait", type=float, default=5.0, help="with --speed: the longest pause, in seconds, a "
                   "quiet stretch (a night) is cut to")
    p.add_argument("--measures", help="follow the answers and settlements, and write the latency, lag and day "
                   "figures to this JSON file (certx.kafka.measures)")
    p.add_argument("--catch-up-timeout", type=float, default=600.0,
                   help="with --measures: how long to wait for every answer and settlement after the last send")
    p.add_argument("--rate", type=float, help="commands per second (default: as fast as possible)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    kafka_options(p)
    p.set_defaults(func=cmd_submit)
    p = sub.add_parser("tail", help="print committed events readably")
    p.add_argument("stream", choices=["events"])
    p.add_argument("--follow", "-f", action="store_true", help="keep waiting for new events")
    p.add_argument("--limit", type=int)
    kafka_options(p)
    p.set_defaults(func=cmd_tail)
    p = sub.add_parser("report", help="a replay's report: one self-contained HTML page (charts, tables) and its "
                       "figures as JSON beside it")
    p.add_argument("events", help="the replay's events, as `certx replay --events` writes them")
    p.add_argument("--measures", metavar="FILE", help="what the Kafka replay measured: latency, lag, throughput "
                   "(format: certx.report.measures)")
    p.add_argument("--official", metavar="CSV", nargs="+", help="the official daily CEA statistics to compare the "
                   "day summaries with (data/cea_daily_*.csv)")
    p.add_argument("--rules", help="the rule table the replay ran with, as JSON (default: DOMAIN.md's): the bands")
    p.add_argument("--out", default="report.html", help="the page; the figures go beside it as .json "
                   "(default report.html)")
    p.set_defaults(func=cmd_report)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
