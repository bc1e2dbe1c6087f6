"""`certx match-report` (issue 13, item 4): the buyer's evidence of a 24/7 match from the events `certx replay
--events` writes, as JSON and CSV, agreeing with the engine's allocation, and verifiable from its own inputs."""
from __future__ import annotations

import subprocess
import sys

import msgspec

from certx.hours import evidence
from certx.mistakes import BadFile, WouldOverwrite
from certx.sample.hourly import BUYER, year
from certx.wire import events as e
from certx.wire.codec import decode_event


def test_the_match_report_of_a_data_centres_year_agrees_with_the_allocation_and_verifies(tmp_path):
    log, events = tmp_path / "year.jsonl", tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(year()) + b"\n")
    cli = [sys.executable, "-m", "certx.cli"]
    subprocess.run([*cli, "replay", str(log), "--events", str(events), "--db", ":memory:"], check=True,
                   capture_output=True)
    done = subprocess.run([*cli, "match-report", BUYER, "2025", str(events), "--out", str(tmp_path / "dc")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    [allocation] = [ev for ev in map(decode_event, events.read_bytes().splitlines()) if isinstance(ev, e.Allocated)]
    data = (tmp_path / "dc.json").read_bytes()
    report = evidence.from_json(data)
    assert evidence.verify(data)
    assert (report.scores.matched_hourly, report.cost, report.load) == \
        (allocation.matched_kwh, int(allocation.cost), allocation.load_kwh)
    assert report.cancellations == tuple(sorted(t.trade_id for t in allocation.trades))
    rows = evidence.from_csv((tmp_path / "dc.csv").read_text())
    assert len(rows) == 8_760 and sum(r.matched for r in rows) == allocation.matched_kwh
    # a tampered report does not verify
    forged = msgspec.json.decode(data)
    forged["scores"]["hourly"] = 1.0
    assert not evidence.verify(msgspec.json.encode(forged))


def test_a_period_with_no_match_or_a_bad_period_is_an_error_not_a_report(tmp_path):
    log, events = tmp_path / "year.jsonl", tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(year(projects=2)) + b"\n")
    cli = [sys.executable, "-m", "certx.cli"]
    subprocess.run([*cli, "replay", str(log), "--events", str(events), "--db", ":memory:"], check=True,
                   capture_output=True)
    for period in ("2024", "2025-13", "last year"):
        done = subprocess.run([*cli, "match-report", BUYER, period, str(events), "--out", str(tmp_path / "x")],
                              capture_output=True, text=True)
        assert done.returncode == 2 and "certx match-report" in done.stderr, (period, done.stderr)
    # None found is said as none, not "0 matches …; name one with --match", which asked for what cannot help.
    for period, match in (("2024", []), ("2025", ["--match", "nope"])):
        done = subprocess.run([*cli, "match-report", BUYER, period, str(events), *match, "--out",
                               str(tmp_path / "x")], capture_output=True, text=True)
        assert done.returncode == 2 and f"no 24/7 match of {BUYER} in {period}" in done.stderr, done.stderr
        assert "name one with --match" not in done.stderr and str(events) in done.stderr
    assert not (tmp_path / "x.json").exists()
    # DESIGN 8: the report's STEM.json must not replace the events it reads (kept here as x.json).
    kept = tmp_path / "x.json"
    kept.write_bytes(events.read_bytes())
    done = subprocess.run([*cli, "match-report", BUYER, "2025", str(kept), "--out", str(tmp_path / "x")],
                          capture_output=True, text=True)
    assert done.returncode == WouldOverwrite.code and "would write over" in done.stderr, done.stderr
    assert kept.read_bytes() == events.read_bytes()


def test_a_hostile_events_file_is_an_error_not_a_crash(tmp_path, capsys, restored_logging):
    # Red team: a curve.attached with a negative or huge kWh, or a trade without serials or production month, made
    # match-report raise (OverflowError, StopIteration, TypeError) with a traceback instead of saying what is wrong.
    import copy

    from certx import cli
    from certx.wire.codec import encode
    from ledger.test_allocation import allocation, desk

    d = desk()
    allocation(d)
    lines = [msgspec.json.decode(encode(ev)) for ev in d.events]

    def curve(ls):
        return next(x for x in ls if x["type"] == "curve.attached")

    def trade(ls):
        return next(x for x in ls if x["type"] == "gec.allocated")["trades"][0]

    hostile = {
        "negative kWh": lambda ls: curve(ls)["kwh"].__setitem__(0, -5),
        "huge kWh": lambda ls: curve(ls)["kwh"].__setitem__(0, 10**19),
        "no production month": lambda ls: trade(ls).pop("production_month"),
        "no serials": lambda ls: trade(ls).__setitem__("serials", None),
    }
    for what, change in hostile.items():
        ls = copy.deepcopy(lines)
        change(ls)
        path = tmp_path / "events.jsonl"
        path.write_bytes(b"\n".join(msgspec.json.encode(x) for x in ls) + b"\n")
        code = cli.main(["match-report", "A", "2025-05", str(path), "--out", str(tmp_path / "x")])
        assert code == BadFile.code and "certx match-report" in capsys.readouterr().err, what
    assert not (tmp_path / "x.json").exists()
