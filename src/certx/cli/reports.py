"""`certx report` and `certx match-report`: files from a replay's events, never over a file they read."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from certx.cli.files import events_of, load_rules, read_by, text_lines, unreadable
from certx.mistakes import WouldOverwrite


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
        given = None
        if args.measures:
            try:
                given = measures.decode(Path(args.measures).read_bytes())
            except measures.MeasuresError as exc:
                raise ValueError(f"{args.measures}: not a measures file (certx.measures/1): {exc}") from None
        rows = None
        if args.official:
            rows = []
            for name in args.official:
                rows += official.read(text_lines(name), name)
        with open(args.events, "rb") as lines:
            figures = build(events_of(args.events, lines), rules=load_rules(args.rules), source=args.events,
                            measures=given, official=rows)
        out.write_text(page.render(figures), encoding="utf-8")
        figures_path.write_bytes(page.figures_json(figures))
    except (OSError, ValueError) as exc:      # the bad file's name and line are in the message
        return unreadable("report", exc)
    print(f"wrote {out} and {figures_path}")
    return 0


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
            for event in events_of(args.events, lines):
                matches.add(event)
        found = [a for a in matches.of(args.account, first, end) if args.match in (None, a.allocation_id)]
        if not found:
            named = f" named {args.match}" if args.match else ""
            print(f"certx match-report: no 24/7 match of {args.account} in {args.period}{named} in {args.events} "
                  f"(no gec.allocated for that account and period)", file=sys.stderr)
            return 2
        if len(found) != 1:
            ids = ", ".join(a.allocation_id for a in found)
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
