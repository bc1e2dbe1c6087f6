"""The live market page (issue 14.2) on the real stack: gateway, matcher, projector (PostgreSQL) and `certx serve
web`, all logged in as their principals, while the operator submits the sample trade day (`certx submit
--replay`), and the page open in a real headless Chromium (Debian's) from the start.

The page must show what the engine published: each product's five levels a side and its last price equal to the
last quote on `certx.marketdata`, its tape the last trades on `certx.events`, the settled trades of
`certx.settlements` in its settlement panel, and after the close each product's close. It asks nothing of any
other origin and writes nothing to the console. The service is read-only: its principal may write no topic, its
app refuses every method but GET, and nothing is produced while it is pounded with them.

The screenshot of the page (books full, just before the close) is left in the test's directory; with
CERTX_DOCS_SCREENSHOT=1 it is also copied to docs/market-page.png, the README's picture (a test run does not
rewrite the repository unless asked).
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import ClusterAuthorizationFailedError, TopicAuthorizationFailedError

from certx import money
from certx.cli import sample_path
from certx.kafka import access
from certx.kafka.reach import visible_topics
from certx.ledger import Ledger
from certx.ledger.journal import Journal
from certx.replay import Replay
from certx.web.board import PRINTS, SETTLEMENTS
from certx.wire import events as e
from certx.wire import settlements as st
from certx.wire.codec import decode_event, decode_quote, decode_settlement
from tests.kafka.conftest import committed_events, counts, expected_events, read_topic
from tests.kafka.test_gateway import send
from tests.kafka.test_marketdata import everything_in
from tests.report import browser

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]
MARKETS = [0, 1, 2]


@pytest.fixture
def chromium(tmp_path):
    if not browser.installed():
        if os.environ.get("CERTX_REQUIRE_BROWSER"):
            pytest.fail("the test command requires Debian's chromium and chromium-driver, and they are missing")
        pytest.skip("no chromium: run the suite with `bash deploy/test.sh`, which installs it")
    with browser.Browser(tmp_path / "chromium", reach=("127.0.0.1",)) as b:
        yield b


def get(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method=method), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def until(what: str, check, timeout: float = 60.0):
    """Poll `check` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.2)


def submit(lines: list[bytes], path: Path, operator: Path, prefix: str) -> None:
    """`certx submit FILE --replay`, as the README runs it, with the operator's client properties."""
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    done = subprocess.run([sys.executable, "-m", "certx.cli", "submit", str(path), "--replay", "--rate", "400",
                           "--quiet", "--kafka-config", str(operator), "--prefix", prefix],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def last_quotes(kafka, topics) -> dict:
    got = asyncio.run(everything_in(kafka, topics.marketdata, MARKETS))
    return {q.product: q for records in got.values() for q in map(decode_quote, (r.value for r in records))}


def settlements_of(lines: list[bytes]) -> int:
    """How many settlement events the ledger publishes for these commands (the embedded replay's)."""
    replay, journal = Replay(), Journal(Ledger())
    return sum(len(journal.add(ev, at=replay.at)) for events in replay.each_line(lines) for ev in events)


PAGE_CARDS = """return Object.fromEntries([...document.querySelectorAll("article.product")].map(card => [
  card.dataset.product, {
    seq: Number(card.dataset.seq),
    last: card.querySelector(".last-price").textContent,
    open: card.querySelector(".open").textContent, high: card.querySelector(".high").textContent,
    low: card.querySelector(".low").textContent, close: card.querySelector(".close").textContent,
    session: card.querySelector(".session").dataset.session,
    band: card.querySelector(".listing-band").textContent,
    book: [...card.querySelectorAll("table.book tbody tr")].map(r =>
      [r.dataset.side, Number(r.dataset.level), ...[...r.cells].slice(1).map(c => c.textContent)]),
    tape: [...card.querySelectorAll("table.tape tbody tr")].map(r => r.dataset.trade),
    chart: card.querySelector("canvas") ? card.querySelector("canvas").width : 0}]))"""
PAGE_SETTLEMENTS = """return [...document.querySelectorAll("table.settlements tbody tr")].map(r =>
  [r.dataset.kind, r.dataset.trade, ...[...r.cells].slice(2).map(c => c.textContent)])"""


def shown_book(quote) -> list[list]:
    """The ladder as the page must show it: asks 5..1, then bids 1..5; an empty level is dashes."""
    def level(side: str, n: int, levels) -> list:
        if n > len(levels):
            return [side, n, "–", "–", "–"]
        price, quantity, orders = levels[n - 1]
        return [side, n, money.text(price), f"{quantity:,}", f"{orders:,}"]
    return [level("ask", n, quote.asks) for n in range(5, 0, -1)] + [level("bid", n, quote.bids) for n in range(1, 6)]


def shown_settlement(x) -> list:
    if isinstance(x, st.Settled):
        whole, fen = money.text(x.cash).split(".")
        return ["settled", x.trade_id, x.product, f"{x.quantity:,}", money.text(x.price), f"{int(whole):,}.{fen}",
                f"{x.buyer} ← {x.seller}"]
    return ["gec.cancelled", x.trade_id, "GEC", f"{sum(b - a + 1 for a, b in x.serials):,}", "", "",
            f"{x.owner}, for {x.beneficiary}"]


def test_the_market_page_shows_what_the_engine_published(as_, topics, gateway, matchers, projectors, pg_dsn,
                                                         services, chromium, tmp_path):
    matchers().wait_assigned()
    projectors(pg_dsn).wait_ready()
    web = services("web", "--port", "0")
    origin = f"http://127.0.0.1:{web.http_port()}"
    until("the page's service is ready", lambda: get(f"{origin}/ready")[0] == 200)
    chromium.log("performance")
    chromium.open(f"{origin}/")
    until("the page connected", lambda: chromium.run("return document.documentElement.dataset.ready || null"))
    assert json.loads(get(f"{origin}/state")[1])["pages"] == 1

    # The sample day up to its close, so that the books are full: the page must show the engine's last quotes.
    lines = sample_path().read_bytes().splitlines()
    closing = [line for line in lines if b'"session.close"' in line]
    day = lines[:lines.index(closing[0])]
    operator = tmp_path / "operator.properties"
    operator.write_text(as_("operator").properties())
    submit(day, tmp_path / "day.jsonl", operator, topics.prefix)
    want = expected_events(day)
    got = asyncio.run(committed_events(as_("operator"), topics, counts(want)))
    assert got == want
    quotes = last_quotes(as_("web"), topics)
    assert set(quotes) == {"CEA", "CCER", "GEC"}
    cards = until("the page shows every product's last quote", lambda: (
        lambda c: c if {p: x["seq"] for p, x in c.items()} == {p: q.seq for p, q in quotes.items()} else None)(
            chromium.run(PAGE_CARDS)))
    for product, q in quotes.items():
        card = cards[product]
        assert card["book"] == shown_book(q), product
        assert (card["last"], card["open"], card["high"], card["low"]) == \
            tuple(money.text(v) for v in (q.last, q.open, q.high, q.low)), product
        assert card["session"] == "open" and card["chart"] > 0
    assert len(quotes["CEA"].bids) == len(quotes["CEA"].asks) == 5             # five levels each side, all shown
    assert cards["CEA"]["band"] == f"{money.text(quotes['CEA'].listing_band[0])} – " \
                                   f"{money.text(quotes['CEA'].listing_band[1])}"
    trades = defaultdict(list)
    for events in got.values():
        for ev in map(decode_event, events):
            if isinstance(ev, e.Trade):
                trades[ev.product].append(ev.trade_id)
    for product, ids in trades.items():
        assert cards[product]["tape"] == ids[-PRINTS:][::-1], product        # newest first

    # The settlement panel: settled trades and GEC cancellations, as the projector published them.
    # Each market's settlements are in one partition, in order: the panel shows each market's last, newest first.
    want_rows, settled = [], 0
    published = asyncio.run(read_topic(as_("web"), topics.settlements, MARKETS, want=settlements_of(day), timeout=60))
    for records in published.values():
        mine = [x for x in map(decode_settlement, (r.value for r in records))
                if isinstance(x, (st.Settled, st.GecCancelled))]
        settled += sum(isinstance(x, st.Settled) for x in mine)
        want_rows += [shown_settlement(x) for x in mine[-SETTLEMENTS:][::-1]]
    assert settled == sum(map(len, trades.values()))                        # every trade settled (A4), once
    rows = until("the settlement panel shows the last settlements", lambda: (
        lambda r: r if r == want_rows else None)(chromium.run(PAGE_SETTLEMENTS)), timeout=30)
    assert {row[0] for row in rows} == {"settled", "gec.cancelled"}

    shot = tmp_path / "market-page.png"
    chromium.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("CERTX_DOCS_SCREENSHOT"):
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, ROOT / "docs" / "market-page.png")

    # The close (D4): every product's day summary is its close, and the page says the session is closed.
    submit(lines[lines.index(closing[0]):], tmp_path / "close.jsonl", operator, topics.prefix)
    summaries = {}
    for events in asyncio.run(committed_events(as_("operator"), topics, counts(expected_events(lines)))).values():
        summaries.update({ev.product: ev for ev in map(decode_event, events) if isinstance(ev, e.DaySummary)})
    closed = until("the page shows the close", lambda: (lambda c: c if all(
        x["session"] == "closed" for x in c.values()) else None)(chromium.run(PAGE_CARDS)))
    for product, summary in summaries.items():
        close = "–" if summary.close is None else money.text(summary.close)
        assert closed[product]["close"] == f"{close} ({summary.date})", product
    assert closed["CEA"]["close"] == "44.22 (2021-12-16)"

    # Nothing from anywhere else, and a quiet console.
    requests = [m["params"] for m in (json.loads(x["message"])["message"] for x in chromium.log("performance"))
                if m["method"] == "Network.requestWillBeSent"]
    mine = [r["request"]["url"] for r in requests if r.get("documentURL", "").startswith(origin)]
    assert mine and all(url.startswith(f"{origin}/") for url in mine), mine
    assert {url[len(origin):] for url in mine} >= {"/", "/page.js", "/page.css", "/vendor/uPlot.iife.min.js",
                                                  "/stream"}
    assert chromium.log("browser") == []

    # Read-only: every method but GET is refused on every route, and nothing is produced while it is asked.
    before = asyncio.run(ends(as_("admin"), topics))
    command = b'{"type":"session.open","id":"x","market":"CEA","date":"2021-12-17"}'
    for path in ("/", "/stream", "/state", "/ready", "/page.js", "/command", "/order"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            status, _ = get(f"{origin}{path}", method, command)
            assert status in (404, 405), (method, path, status)
            assert status == 405 or path in ("/command", "/order")
    time.sleep(1.0)
    assert asyncio.run(ends(as_("admin"), topics)) == before

    # A page that goes away leaves nothing behind.
    chromium.open("about:blank")
    until("the server forgot the page", lambda: json.loads(get(f"{origin}/state")[1])["pages"] == 0, timeout=30)


async def ends(kafka, topics) -> dict:
    """Every topic's end offsets (what has ever been produced to it)."""
    consumer = AIOKafkaConsumer(**kafka.aiokafka())
    await consumer.start()
    try:
        names = topics.layout(access.senders(access.read_principals()))
        tps = [TopicPartition(name, p) for name, (partitions, _) in names.items() for p in range(partitions)]
        return await consumer.end_offsets(tps)
    finally:
        await consumer.stop()


async def send_plainly(kafka, topic: str, value: bytes) -> None:
    """A producer that needs no producer id (not idempotent), so that the topic's own ACL answers."""
    producer = AIOKafkaProducer(enable_idempotence=False, acks=1, **kafka.aiokafka())
    await producer.start()
    try:
        await (await producer.send(topic, value))
    finally:
        await producer.stop()


def test_the_page_s_principal_may_only_read(as_, topics):
    """`web` reads the quotes, the events and the settlements, and may write nothing: not a command, not an
    event, not a quote."""
    web = as_("web")
    with pytest.raises(ClusterAuthorizationFailedError):        # an idempotent producer: not even a producer id,
        asyncio.run(send(web, topics.events, [b"{}"]))           # which any right to write would give
    for topic in (topics.commands, topics.replay, topics.inbound("operator"), topics.events, topics.marketdata,
                  topics.settlements, topics.dlq):
        with pytest.raises(TopicAuthorizationFailedError):
            asyncio.run(send_plainly(web, topic, b'{"type": "session.open"}'))
    for topic in (topics.marketdata, topics.events, topics.settlements):
        assert asyncio.run(everything_in(web, topic, MARKETS)) == {0: [], 1: [], 2: []}
    seen = asyncio.run(visible_topics(web))
    assert {t for t in seen if t.startswith(topics.prefix)} == {topics.marketdata, topics.events, topics.settlements}
