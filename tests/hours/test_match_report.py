"""`certx match-report` (issue 13, item 4): the buyer's evidence of a 24/7 match from the events `certx replay
--events` writes, as JSON and CSV, agreeing with the engine's allocation, and verifiable from its own inputs."""
from __future__ import annotations

import subprocess
import sys

import msgspec

from certx.hours import evidence
from certx.sample.hourly import BUYER, year
from certx.wire import events as e
from certx.wire.codec import decode_event


def test_the_match_report_of_a_data_centres_year_agrees_with_the_allocation_and_verifies(tmp_path):
    log, events = tmp_path / "year.jsonl", tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(year()) + b"\n")
    cli = [sys.executable, "-m", "certx.cli"]
    subprocess.run([*cli, "replay", str(log), "--events", str(events)], check=True, capture_output=True)
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
    subprocess.run([*cli, "replay", str(log), "--events", str(events)], check=True, capture_output=True)
    for period in ("2024", "2025-13", "last year"):
        done = subprocess.run([*cli, "match-report", BUYER, period, str(events), "--out", str(tmp_path / "x")],
                              capture_output=True, text=True)
        assert done.returncode == 2 and "certx match-report" in done.stderr, (period, done.stderr)
    assert not (tmp_path / "x.json").exists()
