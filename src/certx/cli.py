"""The `certx` command line: the shell around the pure core.

A mistake (a missing file, a bad DSN, a broker that does not answer or refuses the login, topics that are not
there) is one line on stderr and its own exit code (certx.mistakes), never a traceback; a traceback is a bug.
Logs go to stderr (certx.logs), output to stdout; `--json` gives the output of every table as JSON.
"""
from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata, resources
from pathlib import Path
from typing import Iterable, Iterator

from certx import logs, money
from certx.mistakes import INTERRUPTED, BadFile, BadSetting, MissingFile, WouldOverwrite, explain
from certx.replay import Replay, Summary
from certx.wire.codec import encode
from certx.wire.events import Event

DEFAULT_TIMEOUT_S = 5.0


def sample_path() -> Path:
    return Path(str(resources.files("certx") / "sample" / "trade_day.jsonl"))


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


def _query(args: argparse.Namespace, ask) -> int:
    import json

    from certx.store import open_store
    from certx.store.target import shown

    if not args.db.startswith("postgres") and not Path(args.db).exists():
        raise MissingFile(f"no read model at {args.db}: give --db (a file `certx replay` wrote, or the projector's "
                          f"database)")
    store = open_store(args.db, read_only=True, timeout_s=args.timeout)   # the reader's role may read, nothing more
    try:
        answer = ask(store)
    except Exception as exc:
        if not not_a_read_model(exc):
            raise
        raise BadFile(f"{shown(args.db)} is not a read model ({' '.join(str(exc).split())[:200]}): give "
                      f"--db a file `certx replay` wrote, or the projector's database") from None
    finally:
        store.close()
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    return 0 if answer is not None else 1


def not_a_read_model(exc: BaseException) -> bool:
    """A database that answers but holds no read model: not SQLite at all, or without the tables."""
    import sqlite3

    psycopg = sys.modules.get("psycopg")
    return type(exc) is sqlite3.DatabaseError \
        or isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc) \
        or psycopg is not None and isinstance(exc, psycopg.errors.UndefinedTable)


def load_rules(path: str | None):
    """A deployment's rule table, as JSON in the shape of certx.rules.Rules (missing fields keep DOMAIN's)."""
    import msgspec

    from certx.rules import DEFAULT, Rules

    if path is None:
        return DEFAULT
    try:
        return msgspec.json.decode(Path(path).read_bytes(), type=Rules)
    except msgspec.DecodeError as exc:
        raise BadFile(f"the rule table {path} is not certx.rules.Rules as JSON: {exc}") from None


def kafka(args: argparse.Namespace):
    from certx.kafka.connection import load

    return load(args.bootstrap, args.kafka_config)


def needs(args: argparse.Namespace, *names: str) -> None:
    """The broker answers within --timeout, lets this principal in, and shows it these topics (certx.kafka.reach)."""
    import asyncio

    from certx.kafka.reach import require_topics

    asyncio.run(require_topics(kafka(args), list(names), args.timeout))


def free_port(option: str, host: str, port: int) -> None:
    """The service can listen there: a port another process holds is a mistake now, not a child that cannot
    bind and is started again and again."""
    import socket

    try:
        socket.create_server((host, port)).close()
    except OSError as exc:
        raise BadSetting(f"{option} {port} on {host} is taken or cannot be used ({exc.strerror}): give another "
                         f"{option}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from certx.kafka.topics import Topics
    from services.supervisor import main_argv, supervise, supervised

    topics = Topics(args.prefix)
    if not supervised():
        # Mistakes first, here, in one line each: a service would only log them and stop.
        if args.service == "web":
            free_port("--port", args.host, args.port)
        elif args.metrics_port is not None:
            free_port("--metrics-port", args.metrics_host, args.metrics_port)
        needs(args, *{"gateway": (topics.commands, topics.replay, topics.dlq),
                      "matcher": (topics.commands, topics.events, topics.snapshots, topics.dlq)
                      + ((topics.marketdata,) if args.marketdata else ()),
                      "projector": (topics.events, topics.settlements, topics.dlq),
                      "web": (topics.marketdata, topics.events, topics.settlements)}[args.service])
        if args.service == "projector":
            from certx.store import open_store

            open_store(args.db, timeout_s=args.timeout).close()
        if args.service == "matcher":
            load_rules(args.rules)
        return supervise(main_argv(), args.service)   # the service runs in a child this process restarts

    if args.service == "web":
        from certx.kafka.web import WebSettings
        from services.web import service as web

        return asyncio.run(web(WebSettings(kafka=kafka(args), topics=topics, host=args.host, port=args.port)).run())
    http = {"http_port": args.metrics_port, "http_host": args.metrics_host}
    if args.service == "projector":
        from certx.kafka.projector import ProjectorSettings
        from services.projector import service

        return asyncio.run(service(ProjectorSettings(kafka=kafka(args), db=args.db, topics=topics), **http).run())
    if args.service == "gateway":
        from certx.kafka.gateway import GatewaySettings
        from services.gateway import service

        return asyncio.run(service(GatewaySettings(kafka=kafka(args), topics=topics), **http).run())
    from certx.kafka.matcher import Settings
    from services.matcher import service

    settings = Settings(kafka=kafka(args), topics=topics, rules=load_rules(args.rules),
                        snapshot_every=args.snapshot_every, session_timeout_ms=args.session_timeout_ms,
                        marketdata=args.marketdata)
    return asyncio.run(service(settings, **http).run())


def _speed(text: str) -> float | None:
    """`--speed 600`, or `--speed max` (as fast as possible, the same as no --speed)."""
    if text == "max":
        return None
    speed = float(text)
    if not speed > 0:
        raise argparse.ArgumentTypeError("a speed-up above 0, or max")
    return speed


def cmd_submit(args: argparse.Namespace) -> int:
    import asyncio

    from certx.kafka.submit import destination, submit
    from certx.kafka.topics import Topics

    with open(args.file, "rb") as f:
        lines = f.readlines()
    topics = Topics(args.prefix)
    needs(args, destination(kafka(args), topics, args.replay))
    if args.measures:
        return asyncio.run(_measured(args, lines))
    done = asyncio.run(submit(lines, kafka(args), topics, replay=args.replay, rate=args.rate,
                              speed=args.speed, max_wait=args.max_wait, progress=not args.quiet, total=len(lines)))
    print(f"submitted {done.lines} commands to {done.topic}; the answers are on certx.events")
    return 0


async def _measured(args: argparse.Namespace, lines: list[bytes]) -> int:
    """Submit while following the answers and the settlements; then wait for both to catch up, and write the
    figures (certx.kafka.measures)."""
    import asyncio
    import time

    import msgspec

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

    from certx.kafka.tail import tail, topic_of
    from certx.kafka.topics import Topics

    topics = Topics(args.prefix)
    needs(args, topic_of(args.stream, topics))
    asyncio.run(tail(kafka(args), topics, args.stream, follow=args.follow, limit=args.limit, as_json=args.json))
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
    clash = read_by(out, figures_path, inputs=[args.events, args.measures, args.rules, *(args.official or ())])
    if clash:
        print(f"certx report: --out {out} would write over {clash}, which it reads: give the page another name",
              file=sys.stderr)
        return WouldOverwrite.code
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
        return unreadable("report", exc)
    print(f"wrote {out} and {figures_path}")
    return 0


def unreadable(command: str, exc: OSError | ValueError) -> int:
    """One line for a file the command could not read or write, and the code certx.mistakes gives it (these
    commands name their own failures, so they say them here rather than through `main`)."""
    print(f"certx {command}: {exc}", file=sys.stderr)
    return (MissingFile if isinstance(exc, FileNotFoundError) else BadFile).code


def read_by(*outputs: Path, inputs: Iterable[str | None]) -> str | None:
    """The input an output would write over (the same file, by whatever name), if any: DESIGN 8, an output
    named after another (the figures beside the page, STEM.json) must not replace a file the command reads."""
    for source in filter(None, inputs):
        if any(out.exists() and Path(source).exists() and os.path.samefile(out, source) for out in outputs):
            return source
    return None


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


def cmd_match_report(args: argparse.Namespace) -> int:
    """The buyer's evidence of a 24/7 match (issue 13): from the events, its JSON and CSV, and a summary."""
    from certx.hours import evidence
    from certx.hours.matches import Matches, period

    try:
        first, end = period(args.period)
    except ValueError:
        print(f"certx match-report: a period is a year (2025) or a month (2025-06), not {args.period!r}",
              file=sys.stderr)
        return 2
    stem = Path(args.out or f"match-{args.account}-{args.period}")
    clash = read_by(stem.with_suffix(".json"), stem.with_suffix(".csv"), inputs=[args.events])
    if clash:
        print(f"certx match-report: --out {stem} would write over {clash}, which it reads: give another stem",
              file=sys.stderr)
        return WouldOverwrite.code
    matches = Matches()
    try:
        with open(args.events, "rb") as lines:
            for event in _events(args.events, lines):
                matches.add(event)
        found = [a for a in matches.of(args.account, first, end) if args.match in (None, a.allocation_id)]
        if len(found) != 1:
            ids = ", ".join(a.allocation_id for a in found) or "none"
            print(f"certx match-report: {len(found)} matches of {args.account} in {args.period} ({ids}); "
                  f"name one with --match", file=sys.stderr)
            return 2
        report = evidence.evidence(matches.inputs(found[0], first, end))
        stem.with_suffix(".json").write_bytes(evidence.to_json(report))
        stem.with_suffix(".csv").write_text(evidence.to_csv(report), encoding="utf-8")
    except (OSError, ValueError) as exc:
        return unreadable("match-report", exc)
    s = report.scores
    print(f"{found[0].allocation_id}: {args.account} for {report.beneficiary}, {report.first_hour} to "
          f"{report.last_hour}: load {report.load:,} kWh, {report.certificates:,} certificates for "
          f"{report.cost / 100:,.2f} yuan; matched hourly {s.hourly:.2%}, monthly {s.monthly:.2%}, annual "
          f"{s.annual:.2%}; inputs {report.inputs_sha256[:16]}…; wrote {stem.with_suffix('.json')} and "
          f"{stem.with_suffix('.csv')}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import asyncio

    from certx.kafka.status import status
    from certx.kafka.topics import Topics
    from certx.table import show

    topics = Topics(args.prefix)
    needs(args, topics.commands, topics.events)
    show(asyncio.run(status(kafka(args), topics)), args.json)
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    import asyncio

    from certx.kafka import access
    from certx.kafka.reach import visible_topics
    from certx.kafka.topics import Topics, describe
    from certx.table import show

    topics = Topics(args.prefix)
    if not args.principals.is_file():
        raise MissingFile(f"no principals file {args.principals}")
    principals = access.read_principals(args.principals)
    if args.action == "create":
        bootstrap = load_connection(args)      # the address and TLS settings; the user is the file's admin
        asyncio.run(visible_topics(access.admin_connection(principals, bootstrap), args.timeout))
        count = access.set_up(bootstrap, principals, topics)
        if args.clients:
            access.write_clients(bootstrap, principals, args.clients)
        print(f"topics, {len(principals)} principals and {count} ACLs ready on {bootstrap.bootstrap}"
              + (f" (prefix {args.prefix!r})" if args.prefix else ""))
        return 0
    asyncio.run(visible_topics(kafka(args), args.timeout))
    show(asyncio.run(describe(kafka(args), topics, access.senders(principals))), args.json)
    return 0


def load_connection(args: argparse.Namespace):
    from certx.kafka.connection import load

    return load(args.bootstrap, None)


def version() -> str:
    try:
        return metadata.version("certx")
    except metadata.PackageNotFoundError:
        return "unknown"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="certx", description=__doc__.split("\n\n")[0])
    top.add_argument("--version", action="version", version=f"certx {version()}")
    top.add_argument("--log-level", choices=logs.LEVELS, help="default $CERTX_LOG_LEVEL or info")
    top.add_argument("--log-format", choices=("json", "console"),
                     help="default $CERTX_LOG_FORMAT, else console on a terminal and JSON lines elsewhere")
    sub = top.add_subparsers(dest="command", required=True)

    def timeout_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                       help=f"seconds to wait for a server to answer (default {DEFAULT_TIMEOUT_S:g})")

    def json_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="the output as JSON")

    p = sub.add_parser("replay", help="replay a .jsonl command file embedded, with no broker")
    p.add_argument("commands", nargs="?", help="command file (default: the shipped sample trade day)")
    p.add_argument("--events", help="write the events here as JSON Lines")
    p.add_argument("--quotes", help="write the market-data feed here as JSON Lines: after each command, a quote of "
                   "each product it changed (certx.marketdata)")
    p.add_argument("--db", help="settle into this read model: a SQLite file or a postgresql:// DSN that holds none "
                   "yet (default: a new file for this run, certx-replay-<time>.db)")
    p.add_argument("--fresh", action="store_true", help="replace the read model --db already holds")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    json_option(p)
    timeout_option(p)
    p.set_defaults(func=cmd_replay)

    def db_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", default=os.environ.get("CERTX_DB", "certx.db"),
                       help="the read model: SQLite file or postgresql:// DSN, read only, so the reader's role will do "
                            "(`deploy/postgres.sh dsn reader`); default $CERTX_DB or certx.db")
        timeout_option(p)

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
    p.add_argument("--copies", type=int, default=1,
                   help="a stress stream: every participant's command N times over, in accounts and ids of each "
                        "copy's own, on the same books (certx.days.stress); the summaries are no longer official")
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
        p.add_argument("--prefix", default=os.environ.get("CERTX_PREFIX", ""),
                       help="topic, group and transactional id prefix (isolates a test or a deployment; default "
                            "$CERTX_PREFIX)")
        timeout_option(p)

    p = sub.add_parser("serve", help="run a service on Kafka (web: the live market page, read-only)")
    p.add_argument("service", choices=["gateway", "matcher", "projector", "web"])
    p.add_argument("--host", default="127.0.0.1", help="web: the address to serve the page on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080,
                   help="web: the page's port (default 8080; 0: any free port, logged as service.http)")
    p.add_argument("--db", default=os.environ.get("CERTX_DB", "certx.db"),
                   help="projector: the read model, a postgresql:// DSN or a SQLite file (default $CERTX_DB or certx.db)")
    p.add_argument("--rules", help="rule table as JSON (default: DOMAIN.md's)")
    p.add_argument("--snapshot-every", type=int, default=200_000, help="commands between engine snapshots")
    p.add_argument("--session-timeout-ms", type=int, default=10_000,
                   help="consumer session timeout: how soon a dead instance's partitions move (broker minimum applies)")
    p.add_argument("--no-marketdata", dest="marketdata", action="store_false",
                   help="matcher: publish no quotes on certx.marketdata (to measure what the feed costs)")
    port = os.environ.get("CERTX_METRICS_PORT")
    p.add_argument("--metrics-port", type=int, default=int(port) if port else None,
                   help="serve /metrics, /live and /ready on this port (0: any free port, logged as service.http; "
                        "default $CERTX_METRICS_PORT, else none)")
    p.add_argument("--metrics-host", default=os.environ.get("CERTX_METRICS_HOST", "127.0.0.1"),
                   help="the address to serve them on (default $CERTX_METRICS_HOST or 127.0.0.1)")
    kafka_options(p)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("submit", help="send a .jsonl command file as a sender: to your inbound topic, or with "
                       "--replay to the operator's replay path")
    p.add_argument("file")
    p.add_argument("--replay", action="store_true", help="recorded commands that keep their actors and times "
                   "(`at`): the operator's principal only")
    p.add_argument("--speed", type=_speed, help="send recorded commands at this many times the pace of their `at` "
                   "(600: ten minutes of market a second); `max` or none: as fast as possible")
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
    p = sub.add_parser("tail", help="print committed events, settlements, dead letters or quotes readably")
    p.add_argument("stream", choices=["events", "settlements", "dlq", "marketdata"])
    p.add_argument("--follow", "-f", action="store_true", help="keep waiting for new records")
    p.add_argument("--limit", type=int, help="print this many records, then stop")
    p.add_argument("--json", action="store_true", help="each record as it is on the wire (JSON Lines)")
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
    p = sub.add_parser("match-report", help="the buyer's evidence of a 24/7 match, as JSON and CSV: per hour the "
                       "load, matched energy and sources; the scores; the cost and cancellations; the inputs' hash")
    p.add_argument("account")
    p.add_argument("period", help="a year (2025) or a month (2025-06), China time")
    p.add_argument("events", help="the events: `certx replay --events` or `certx tail events --json` writes them")
    p.add_argument("--match", help="the match's id, when the account has several in the period")
    p.add_argument("--out", help="the files' stem (default match-ACCOUNT-PERIOD): STEM.json and STEM.csv")
    p.set_defaults(func=cmd_match_report)
    p = sub.add_parser("status", help="each market: session, input offset and lag, last event, snapshot age "
                       "(as the operator)")
    json_option(p)
    kafka_options(p)
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("topics", help="create the deployment's topics, users and ACLs (as the principals file's "
                       "admin), or describe its topics")
    p.add_argument("action", choices=["create", "describe"])
    from certx.kafka.access import DEFAULT_FILE

    p.add_argument("--principals", type=Path, default=Path(os.environ.get("CERTX_PRINCIPALS", DEFAULT_FILE)),
                   help="the principals file (default $CERTX_PRINCIPALS or deploy/principals.dev)")
    p.add_argument("--clients", type=Path, help="create: write <name>.properties for every principal here")
    json_option(p)
    kafka_options(p)
    p.set_defaults(func=cmd_topics)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.configure(args.log_level, args.log_format)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("certx: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:             # `certx tail events | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        mistake = explain(exc)
        if mistake is None:
            raise                       # a bug: its traceback is what a developer needs
        print(f"certx: {mistake}", file=sys.stderr)
        return mistake.code


if __name__ == "__main__":
    sys.exit(main())
