"""The report of the shipped sample day in a real browser (Debian's Chromium, headless, which `deploy/test.sh`
installs): it draws every chart with its title and legend, writes nothing to the console, asks the network
for nothing, and leaves a screenshot of the whole page in the test's directory."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from certx import cli

from . import browser
from .test_page import OFFICIAL

pytestmark = pytest.mark.browser

CHARTS = {  # the sample day's charts: name -> words its title must hold
    "close-CEA": "CEA: daily close against the ±10% listing and ±30% block bands",
    "volume-CEA": "(tonnes)", "volume-CCER": "(tonnes)", "volume-GEC": "(certificates)",
    "tide-CEA": "cumulative volume through the year",
    "latency": "(ms", "lag": "records", "throughput": "commands per second",
}


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    if not browser.installed():
        if os.environ.get("CERTX_REQUIRE_BROWSER"):
            pytest.fail("the test command requires Debian's chromium and chromium-driver, and they are missing")
        pytest.skip("no chromium: run the suite with `bash deploy/test.sh`, which installs it")
    with browser.Browser(tmp_path_factory.mktemp("chromium")) as b:
        yield b


def small_measures(path: Path) -> Path:
    """A minute of per-second samples, as the Kafka replay writes them."""
    samples = [{"at": f"2026-11-30T10:00:{s:02d}+00:00",
                "latency_ms": {"p50": 1.5 + s % 7 / 10, "p99": 6.0 + s % 5, "p99_9": 9.0 + s % 9, "max": 12.0 + s % 11},
                "matcher_lag": (s * 37) % 400, "projector_lag": (s * 53) % 3000, "throughput": 2000.0 - s % 13}
               for s in range(60)]
    path.write_text(json.dumps({"format": "certx.measures/1", "source": "a test minute", "samples": samples}))
    return path


def show(b: browser.Browser, page: Path) -> dict[str, list[str]]:
    """Open `page` and wait for its script to finish; what it wrote to the console, and every URL the page's
    document asked for."""
    b.log("performance")                                     # what came before is not this page's
    url = page.resolve().as_uri()
    b.open(url)
    deadline = time.monotonic() + 20
    while b.run("return document.documentElement.dataset.ready || null") != "yes":
        assert time.monotonic() < deadline, f"the page's script never finished: {b.log('browser')}"
        time.sleep(0.1)
    requests = []
    for entry in b.log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent" and message["params"].get("documentURL") == url:
            requests.append(message["params"]["request"]["url"])
    console = [f"{e['level']}: {e['message']}" for e in b.log("browser")]
    return {"url": [url], "requests": requests, "console": console}


def test_the_sample_day_s_report_in_chromium(chromium, tmp_path):
    events = tmp_path / "events.jsonl"
    assert cli.main(["replay", "--events", str(events), "--db", ":memory:"]) == 0
    page = tmp_path / "report.html"
    official = ["--official", *map(str, OFFICIAL)] if OFFICIAL[0].is_file() else []
    assert cli.main(["report", str(events), "--measures", str(small_measures(tmp_path / "measures.json")),
                     *official, "--out", str(page)]) == 0

    seen = show(chromium, page)
    assert seen["console"] == []
    assert seen["requests"] == seen["url"]                   # the page itself, and nothing else

    charts = chromium.run("""return [...document.querySelectorAll("figure.chart")].map(f => ({
        name: f.dataset.chart, title: f.querySelector(".u-title").textContent,
        canvas: [...f.querySelectorAll("canvas")].map(c => c.width * c.height),
        legend: [...f.querySelectorAll(".u-legend .u-series .u-label")].map(l => l.textContent)}))""")
    assert {c["name"] for c in charts} == set(CHARTS)
    for c in charts:
        assert CHARTS[c["name"]] in c["title"], c
        assert c["canvas"] and all(c["canvas"]), c                # drawn, with a size
    legends = {c["name"]: c["legend"] for c in charts}
    assert legends["close-CEA"] == ["day", "block −30%", "block +30%", "listing −10%", "listing +10%", "close",
                                    "high", "low"]
    assert legends["volume-CEA"] == ["day", "auction", "block", "listing"]
    assert legends["latency"] == ["time (UTC)", "p50", "p99", "p99.9", "max"]

    tables = chromium.run("""return Object.fromEntries([...document.querySelectorAll("table[data-table]")].map(t =>
        [t.dataset.table, [...t.querySelectorAll("tr")].slice(1).map(r => [...r.cells].map(c => c.textContent))]))""")
    assert ["price_out_of_band", "CEA", "2"] in [row[:3] for row in tables["rejections"]]
    if official:
        assert [row[:5] for row in tables["official"]] == [["2021-12-16", "CEA", "match", "44.22", "44.22"]]
        assert "mismatches" not in tables

    shot = tmp_path / "report.png"
    chromium.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_without_measures_or_official_statistics_the_page_says_so(chromium, tmp_path):
    events = tmp_path / "events.jsonl"
    assert cli.main(["replay", "--events", str(events), "--db", ":memory:"]) == 0
    page = tmp_path / "report.html"
    assert cli.main(["report", str(events), "--out", str(page)]) == 0
    seen = show(chromium, page)
    assert seen["console"] == [] and seen["requests"] == seen["url"]
    notes = chromium.run("return [...document.querySelectorAll('.missing')].map(p => p.textContent)")
    assert any(n.startswith("Not measured") for n in notes)
    assert any(n.startswith("No official statistics given") for n in notes)
    assert not chromium.run("return document.querySelector('figure[data-chart=latency]')")


def test_a_page_that_asks_the_network_is_seen(chromium, tmp_path):
    """The checks above could pass by seeing nothing: a page that loads an image from elsewhere is caught (the
    browser resolves no host name, so the request goes nowhere), and so is what it writes to the console."""
    page = tmp_path / "probe.html"
    page.write_text('<!doctype html><img src="https://cdn.example.invalid/chart.png">'
                    '<script>console.error("probe"); document.documentElement.dataset.ready = "yes"</script>')
    seen = show(chromium, page)
    assert "https://cdn.example.invalid/chart.png" in seen["requests"]
    assert any("probe" in line and line.startswith("SEVERE") for line in seen["console"]), seen["console"]


def test_a_24_7_match_is_charted_day_by_day_with_its_scores(chromium, tmp_path):
    """Issue 13, item 4: the report charts each 24/7 match's load and hour-matched energy per day, with its scores,
    the same as the buyer's evidence."""
    from certx.sample.hourly import year

    log, events, page = tmp_path / "year.jsonl", tmp_path / "events.jsonl", tmp_path / "report.html"
    log.write_bytes(b"\n".join(year()) + b"\n")
    assert cli.main(["replay", str(log), "--events", str(events), "--db", ":memory:", "--quiet"]) == 0
    assert cli.main(["report", str(events), "--out", str(page)]) == 0
    figures = json.loads((tmp_path / "report.json").read_text())
    [match] = figures["matches"]
    assert len(match["days"]) == 365 and sum(d["matched"] for d in match["days"]) == match["matched"]
    seen = show(chromium, page)
    assert seen["console"] == [] and seen["requests"] == seen["url"]
    legend = chromium.run("""return [...document.querySelectorAll(
        "figure[data-chart='match-dc-2025'] .u-legend .u-series .u-label")].map(l => l.textContent)""")
    assert legend == ["day", "load", "matched"]
    text = chromium.run("return document.getElementById('matches').textContent")
    assert f"matched hour by hour {100 * match['scores'][0]:.1f}%" in text
    chromium.run("document.getElementById('matches').scrollIntoView()")
    chromium.screenshot(tmp_path / "matches.png")
