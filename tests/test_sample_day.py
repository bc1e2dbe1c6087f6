"""The shipped sample trade day (certx/sample/trade_day.jsonl, built by certx.sample.build) replays to the
official CEA statistics of its day (DOMAIN D3–D5, data/cea_daily_2021_2023.csv), trades in all three markets,
and is refused only where it means to be."""
from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from certx import cli
from certx.days.official import data_dir
from certx.replay import Replay
from certx.wire import events as e

# The official file as certx ships it (or $CERTX_DATA), read here with csv and Decimal, not by certx.days.
DATA = data_dir() / "cea_daily_2021_2023.csv"

# The deliberately refused commands in the sample: reason -> rejection events. Each gives one rejection, also
# the surrender over the 5% CCER cap (C1), which reaches two partitions but is answered by its home market only.
DELIBERATE = Counter({
    "price_out_of_band": 2,     # B1: a listing buy one fen above the band; B2: a block offer one fen below
    "not_authorised": 2,        # A1: an order from a broker that does not hold the account; M2: an addressed offer
    "market_closed": 2,         # D1: a listing order at lunch; a block offer in the morning
    "insufficient_funds": 1,    # A2
    "lot_size": 1,              # S1: a listing order above 99,999 t
    "already_cancelled": 1,     # G1: a lot of GECs traded (and so cancelled) earlier that day
    "offset_cap_exceeded": 1,   # C1
})


def fen(text: str) -> int:
    value = Decimal(text) * 100
    assert value == value.to_integral_value(), text
    return int(value)


@pytest.fixture(scope="module")
def sample() -> Path:
    path = cli.sample_path()
    assert path.is_file(), path
    return path


@pytest.fixture(scope="module")
def replayed(sample: Path) -> tuple[Replay, list[e.Event]]:
    replay = Replay()
    with open(sample, "rb") as lines:
        events = list(replay.run(lines))
    return replay, events


def commands(sample: Path) -> list[dict]:
    return [msgspec.json.decode(line) for line in sample.read_bytes().splitlines() if line.strip()]


def official(date: str, product: str = "CEA") -> tuple[dict, dict]:
    """The CSV row of `date` and the row of the trading day before it."""
    with open(DATA, newline="", encoding="utf-8") as f:
        rows = sorted((r for r in csv.DictReader(f) if r["product"] == product), key=lambda r: r["date"])
    i = next(i for i, r in enumerate(rows) if r["date"] == date)
    return rows[i], rows[i - 1]


def test_cea_day_summary_is_the_official_day(sample, replayed):
    replay, events = replayed
    [day] = [ev for ev in events if isinstance(ev, e.DaySummary) and ev.product == "CEA"]
    row, before = official(day.date.isoformat())
    assert day.date == dt.date(2021, 12, 16)
    assert (day.open, day.high, day.low, day.close) == (
        fen(row["open"]), fen(row["high"]), fen(row["low"]), fen(row["close"]))
    assert (day.listing_volume, day.listing_value) == (int(row["listing_volume"]), fen(row["listing_amount"]))
    assert (day.block_volume, day.block_value) == (int(row["block_volume"]), fen(row["block_amount"]))
    assert (day.auction_volume, day.auction_value) == (int(row["auction_volume"]), fen(row["auction_amount"]))
    # B4: the reference price is the previous trading day's close
    [listed] = [c for c in commands(sample) if c["type"] == "product.list" and c["product"] == "CEA"]
    assert fen(listed["reference_price"]) == fen(before["close"])
    # D3: the open is the first listing trade
    first = next(ev for ev in events if isinstance(ev, e.Trade) and ev.product == "CEA" and ev.mode == "listing")
    assert first.price == day.open


def test_every_market_trades(replayed):
    replay, events = replayed
    trades = [ev for ev in events if isinstance(ev, e.Trade)]
    by = Counter((t.product, t.mode) for t in trades)
    assert by["CEA", "listing"] > 50 and by["CEA", "block"] > 10
    assert by["CCER", "listing"] >= 3
    gec = [t for t in trades if t.product == "GEC"]
    assert len(gec) >= 5 and all(t.serials and t.beneficiary and t.province and t.technology for t in gec)
    assert any(t.beneficiary != t.buyer for t in gec)
    assert all(t.buyer != t.seller for t in trades)
    # S1: listing trades within 1..99,999 t, block trades at least 100,000 t (or the rest of an offer)
    assert all(1 <= t.quantity <= 99_999 for t in trades if t.product == "CEA" and t.mode == "listing")
    # C1: gen-01 hands in 190,000 t of CEA and 10,000 t of CCER (exactly the 5% cap), each leg in its market
    assert any(isinstance(ev, e.Surrendered) and ev.account == "gen-01" for ev in events)
    assert replay.engines["CEA"].surrendered == {"CEA": 190_000}
    assert replay.engines["CCER"].surrendered == {"CCER": 10_000}


def test_the_only_rejections_are_the_deliberate_ones(replayed):
    replay, events = replayed
    assert not replay.summary.malformed
    reasons = Counter(ev.reason for ev in events if isinstance(ev, (e.OrderRejected, e.CommandRejected)))
    assert reasons == DELIBERATE
    assert replay.summary.rejections == DELIBERATE


def test_the_file_is_in_time_order_in_china_time(sample):
    ats = [c["at"] for c in commands(sample)]
    assert all(at.endswith("+08:00") for at in ats)
    times = [dt.datetime.fromisoformat(at) for at in ats]
    assert times == sorted(times)
    assert 200 <= len(times) <= 2_000


def test_the_shipped_file_is_what_the_generator_builds(sample):
    from certx.days import official
    from certx.sample import build

    day = official.cea_day(dt.date.fromisoformat(build.DEFAULT_DATE), "CEA")
    lines = build.build(day, int(build.DEFAULT_DATE.replace("-", "")))
    assert b"\n".join(lines) + b"\n" == sample.read_bytes(), "rerun `python -m certx.sample.build`"
    assert build.DELIBERATE == DELIBERATE


def test_certx_replay_with_no_argument_replays_the_sample(capsys):
    assert cli.main(["replay", "--db", ":memory:", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "sample/trade_day.jsonl" in out.splitlines()[0]
    assert "CEA        2021-12-16    43.65    45.20    43.15    44.22      901,715   19,579,226" in out
