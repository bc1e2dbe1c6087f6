"""A real week replayed through the real stack (the load-test issue): `certx days build` for 2025-07-14..18 (every
CEA vintage, CCER, GEC at a small scale), sent by the operator's replay path with `certx submit --replay --measures`
through the gateway, the matcher, the projector and PostgreSQL. Every day's summary equals the official row
(DOMAIN D3–D5), every trade is settled once, and the report of the week renders in Chromium."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from certx import cli
from certx.days import build, official
from certx.store import open_store
from certx.wire import events as e
from certx.wire.codec import decode_event, encode
from tests.kafka.conftest import read_topic
from tests.report import browser
from tests.report.test_browser import show

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

FIRST, LAST = dt.date(2025, 7, 14), dt.date(2025, 7, 18)


def test_D5_a_real_week_through_gateway_matcher_projector_and_postgresql(as_, topics, services, matchers,
                                                                       projectors, pg_dsn, tmp_path):
    stream = tmp_path / "week.jsonl"
    days, commands = build.write(stream, FIRST, LAST, gec_scale=0.0005)
    assert days == 5 and commands > 1_000
    services("gateway").wait_ready()
    matchers().wait_assigned()
    projectors(pg_dsn).wait_started()

    operator = as_("operator")
    measures = tmp_path / "measures.json"
    submit = subprocess.run(
        [sys.executable, "-m", "certx.cli", "submit", str(stream), "--replay", "--quiet", "--measures",
         str(measures), "--catch-up-timeout", "240", "--bootstrap", operator.bootstrap, "--prefix", topics.prefix],
        env={**os.environ, "CERTX_KAFKA_USER": operator.username, "CERTX_KAFKA_PASSWORD": operator.password},
        capture_output=True, text=True, timeout=600)
    assert submit.returncode == 0, submit.stdout + submit.stderr
    run = json.loads(measures.read_text())["run"]
    assert run["commands"] == commands and run["unanswered"] == 0 and run["settled_equals_trades"]

    got = asyncio.run(read_topic(operator, topics.events, [0, 1, 2], None, timeout=10, settle=0))
    events = [decode_event(r.value) for p in sorted(got) for r in got[p]]
    trades = [ev for ev in events if isinstance(ev, e.Trade)]
    assert len(trades) == run["trades"] > 100
    assert not [ev for ev in events if isinstance(ev, (e.OrderRejected, e.CommandRejected))]

    # D3–D5: every CEA day summary equals the official row, field by field; CCER's volume and turnover too
    summaries = {(s.date, s.product): s for s in events if isinstance(s, e.DaySummary)}
    cea = [row for day in official.trading_days(FIRST, LAST) for row in official.cea_days()[day]]
    assert len(cea) == 25
    for row in cea:
        s = summaries[row.date, row.product]
        assert (s.open, s.high, s.low, s.close, s.listing_volume, s.listing_value, s.block_volume, s.block_value,
                s.auction_volume, s.auction_value) == \
            (row.open, row.high, row.low, row.close, row.listing_volume, row.listing_value, row.block_volume,
             row.block_value, row.auction_volume, row.auction_value), (row.date, row.product)
    for day, row in official.ccer_days().items():
        if FIRST <= day <= LAST:
            s = summaries[day, "CCER"]
            assert (s.listing_volume, s.listing_value) == (row.volume, row.value), day

    # every trade settled once, in PostgreSQL
    store = open_store(pg_dsn)
    try:
        settled = store.query("SELECT trade_id FROM trades")
    finally:
        store.close()
    assert sorted(t for (t,) in settled) == sorted(t.trade_id for t in trades)

    # the week's report renders in a real browser
    events_file = tmp_path / "events.jsonl"
    events_file.write_bytes(b"".join(encode(ev) + b"\n" for ev in events))
    page = tmp_path / "report.html"
    csvs = [str(official.data_dir() / name) for name in ("cea_daily_2024_2026.csv",)]
    assert cli.main(["report", str(events_file), "--measures", str(measures), "--out", str(page),
                     "--official", *csvs]) == 0
    compared = json.loads((tmp_path / "report.json").read_text())["official"]
    assert compared["compared"] == compared["matched"] == 25, "the report finds the official rows equal too"
    if not browser.installed():
        if os.environ.get("CERTX_REQUIRE_BROWSER"):
            pytest.fail("the test command requires Debian's chromium and chromium-driver")
        pytest.skip("no chromium")
    with browser.Browser(tmp_path / "chromium") as chromium:
        seen = show(chromium, page)
        assert seen["console"] == [] and seen["requests"] == seen["url"]
        titles = chromium.run('return [...document.querySelectorAll("figure.chart .u-title")].map(t => t.textContent)')
        assert any("CEA24" in t for t in titles) and any("latency" in t.lower() or "ms" in t for t in titles), titles
        chromium.screenshot(tmp_path / "week.png")
