"""The `certx` command line: the shell around the pure core.

A mistake (a missing file, a bad DSN, a broker that does not answer or refuses the login, topics that are not
there) is one line on stderr and its own exit code (certx.mistakes), never a traceback; a traceback is a bug.
Logs go to stderr (certx.logs), output to stdout; `--json` gives the output of every table as JSON.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from importlib import metadata
from pathlib import Path

from certx import logs
from certx.cli.days import cmd_days_build
from certx.cli.files import sample_path
from certx.cli.operate import cmd_status, cmd_tail, cmd_topics
from certx.cli.queries import query
from certx.cli.replay import cmd_replay
from certx.cli.reports import cmd_match_report, cmd_report
from certx.cli.serve import cmd_serve
from certx.cli.submit import cmd_submit, rate, seconds, speed
from certx.mistakes import INTERRUPTED, explain

__all__ = ["main", "parser", "sample_path"]

DEFAULT_TIMEOUT_S = 5.0


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
        p.add_argument("--timeout", type=positive_seconds, default=DEFAULT_TIMEOUT_S,
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
    p.set_defaults(func=lambda a: query(a, lambda st: st.holdings(a.account)))
    p = sub.add_parser("certificate", help="the provenance of one GEC, as JSON")
    p.add_argument("serial", type=int)
    db_option(p)
    p.set_defaults(func=lambda a: query(a, lambda st: st.certificate(a.serial),
                                        none=f"no GEC {a.serial} was issued in {{db}}"))
    p = sub.add_parser("retirements", help="GECs cancelled for a beneficiary, as JSON")
    p.add_argument("--beneficiary", required=True)
    db_option(p)
    p.set_defaults(func=lambda a: query(a, lambda st: st.retirements(a.beneficiary)))
    p = sub.add_parser("compliance", help="what an account surrendered for a compliance year (C1), as JSON")
    p.add_argument("account")
    p.add_argument("year", type=int)
    db_option(p)
    p.set_defaults(func=lambda a: query(a, lambda st: st.compliance(a.account, a.year)))

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
    p.add_argument("--port", type=tcp_port, default=8080,
                   help="web: the page's port (default 8080; 0: any free port, logged as service.http)")
    p.add_argument("--db", default=os.environ.get("CERTX_DB", "certx.db"),
                   help="projector: the read model, a postgresql:// DSN or a SQLite file (default $CERTX_DB or certx.db)")
    p.add_argument("--rules", help="rule table as JSON (default: DOMAIN.md's)")
    p.add_argument("--snapshot-every", type=at_least_one, default=200_000, help="commands between engine snapshots")
    p.add_argument("--session-timeout-ms", type=at_least_one, default=10_000,
                   help="consumer session timeout: how soon a dead instance's partitions move (broker minimum applies)")
    p.add_argument("--no-marketdata", dest="marketdata", action="store_false",
                   help="matcher: publish no quotes on certx.marketdata (to measure what the feed costs)")
    # the environment's value as a string: argparse checks it as it would the option (a port), and only for serve
    p.add_argument("--metrics-port", type=tcp_port, default=os.environ.get("CERTX_METRICS_PORT") or None,
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
    pace = p.add_mutually_exclusive_group()        # one pace: a rate would silently drop the speed
    pace.add_argument("--speed", type=speed, help="send recorded commands at this many times the pace of their `at` "
                   "(600: ten minutes of market a second); `max` or none: as fast as possible")
    p.add_argument("--max-wait", type=seconds, default=5.0, help="with --speed: the longest pause, in seconds, a "
                   "quiet stretch (a night) is cut to")
    p.add_argument("--measures", help="follow the answers and settlements, and write the latency, lag and day "
                   "figures to this JSON file (certx.kafka.measures)")
    p.add_argument("--catch-up-timeout", type=positive_seconds, default=600.0,
                   help="with --measures: how long to wait for every answer and settlement after the last send")
    pace.add_argument("--rate", type=rate, help="commands per second (default: as fast as possible)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    kafka_options(p)
    p.set_defaults(func=cmd_submit)
    p = sub.add_parser("tail", help="print committed events, settlements, dead letters or quotes readably")
    p.add_argument("stream", choices=["events", "settlements", "dlq", "marketdata"])
    p.add_argument("--follow", "-f", action="store_true", help="keep waiting for new records")
    p.add_argument("--limit", type=at_least_one, help="print this many records, then stop")
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


def positive_seconds(text: str) -> float:
    """Seconds above 0 (`--timeout 0` could only ever say that the server did not answer), and finite (libpq's
    connect_timeout cannot be made of inf)."""
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError("seconds, above 0")
    return value


def tcp_port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535 (more was bind()'s OverflowError traceback)."""
    n = int(text)
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError("a port from 0 (any free one) to 65535")
    return n


def at_least_one(text: str) -> int:
    """A count of 1 or more (`tail --limit 0` printed nothing, as if the topic were empty)."""
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("1 or more")
    return n


def serve_defaults(service: str) -> argparse.Namespace:
    """`certx serve SERVICE` without options: its defaults as this environment sets them, parsed as given ones are
    ($CERTX_METRICS_PORT is a string until then)."""
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["serve"].parse_args([service])


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
