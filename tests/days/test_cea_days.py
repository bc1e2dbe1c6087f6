"""Real CEA days built by certx.days and replayed embedded reproduce the official rows, field by field (DOMAIN
D3-D5: open, high, low, close, listing, block and auction volume and value), and every built command is accepted:
the builder never writes an order the engine refuses (A2, B1, B2, S1, M1-M3)."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certx.days import official
from certx.engine.band import limits
from certx.money import half_up
from certx.wire import events as e

from days.figures import Built, built, cea_rows, official_summary, summary_fields

# Each range is a few days, so that every day after the first takes its reference from the engine's own close.
HARD = {
    "the first day of the market (reference = its open, 48.00; the high is exactly the band's top)":
        ("2021-07-16", "2021-07-19"),
    "the busiest day, 20.48 Mt (2021-12-16), and the days around it": ("2021-12-15", "2021-12-17"),
    "a year end and a month end": ("2021-12-30", "2022-01-04"),
    "a day with no listing trade (2024-01-02: CEA carries its close)": ("2023-12-28", "2024-01-03"),
    "ten units of listing volume in a day": ("2021-08-16", "2021-08-16"),
    "one block day of 279,856 t at two prices (the tightest block solve)": ("2021-08-09", "2021-08-09"),
    "the first day of CEA21 and CEA22, listed with no trade": ("2023-08-25", "2023-08-29"),
    "the first day of CEA23": ("2024-10-25", "2024-10-29"),
    "the first day of CEA24": ("2025-04-28", "2025-04-30"),
    "the first day of CEA25, six vintages at once": ("2026-01-05", "2026-01-06"),
    "auctions of two vintages on one day (2025-07-16)": ("2025-07-15", "2025-07-17"),
    "auctions in the autumn 2025 tide": ("2025-10-30", "2025-11-04"),
    "an auction of 1,000 t among six vintages (2026-05-22)": ("2026-05-22", "2026-05-22"),
    "the 2025 compliance deadline and month end": ("2025-12-29", "2025-12-31"),
}


def assert_official(b: Built) -> int:
    """Every CEA day summary of the replay equals its official row; returns how many were checked."""
    days = b.days("CEA")
    for day in days:
        assert summary_fields(day) == official_summary(day.date, day.product), (day.date, day.product)
    return len(days)


def expected_summaries(first: str, last: str) -> Counter:
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return Counter(date for date, _ in cea_rows() if a <= date <= b)


@pytest.mark.parametrize("first,last", HARD.values(), ids=list(HARD))
def test_D3_D4_D5_every_day_summary_of_a_hard_range_is_the_official_row(first, last):
    b = built(first, last, markets=("CEA",))
    assert assert_official(b) == sum(expected_summaries(first, last).values())
    assert not b.replay.summary.malformed
    assert b.replay.summary.rejections == Counter()


def test_M3_auction_trades_are_the_official_auction_figures_and_never_set_the_close():
    b = built("2025-07-16", markets=("CEA",))
    auctions = [t for t in b.events if isinstance(t, e.Trade) and t.mode == "auction"]
    by_product = Counter()
    for t in auctions:
        by_product[t.product] += t.quantity
    assert by_product == {"CEA23": 100_000, "CEA24": 30_000}
    closed = [ev for ev in b.events if isinstance(ev, e.AuctionClosed)]
    assert {c.product for c in closed} == {"CEA23", "CEA24"} and all(c.unsold == 0 for c in closed)
    # the losing bids got nothing and expired at the auction's close
    assert any(isinstance(ev, e.OrderExpired) and ev.order_id.startswith("bid-") for ev in b.events)
    # D4: the close is the listing VWAP alone
    for day in b.days("CEA"):
        if day.listing_volume:
            assert day.close == half_up(day.listing_value, day.listing_volume)


def test_B1_B2_every_built_trade_lies_within_the_half_up_band_of_the_previous_close():
    b = built("2021-12-15", "2021-12-17", markets=("CEA",))
    close = {}
    for ev in b.events:
        if isinstance(ev, e.DaySummary):
            close[ev.product] = int(ev.close)
        elif isinstance(ev, e.Trade) and ev.mode in ("listing", "block"):
            reference = close.get(ev.product) or official_summary(dt.date(2021, 12, 14), ev.product)["close"]
            lo, hi = limits(reference, 1000 if ev.mode == "listing" else 3000)
            assert lo <= ev.price <= hi, ev


def test_S1_listing_trades_are_at_most_99999_t_and_block_offers_take_at_least_100000_t():
    b = built("2021-12-16", markets=("CEA",))
    trades = [ev for ev in b.events if isinstance(ev, e.Trade)]
    assert all(1 <= t.quantity <= 99_999 for t in trades if t.mode == "listing")
    accepts = {c["order_id"]: c["quantity"] for c in b.commands if c["type"] == "order.accept"}
    assert accepts and all(q >= 100_000 for q in accepts.values())


def test_D2_the_background_never_trades_a_third_of_it_is_cancelled_and_the_rest_expires():
    b = built("2021-12-16", markets=("CEA",))
    traded = {o for ev in b.events if isinstance(ev, e.Trade) for o in (ev.buy_order, ev.sell_order)}
    news = [c for c in b.commands if c["type"] == "order.new" and c.get("mode", "listing") == "listing"]
    quiet = [c for c in news if c["order_id"] not in traded]
    trades = sum(1 for ev in b.events if isinstance(ev, e.Trade) and ev.mode == "listing")
    # certx.days.background: 8 resting orders a listing trade (and a few more), about 10 orders a trade in all
    assert 8 * trades <= len(quiet) <= 8 * trades + 6
    day = official_summary(dt.date(2021, 12, 16), "CEA")
    prices = {c["order_id"]: official.fen(c["price"]) for c in quiet}
    assert all(p < day["low"] or p > day["high"] for p in prices.values())
    cancelled = {ev.order_id for ev in b.events if isinstance(ev, e.OrderCancelled)}
    expired = {ev.order_id for ev in b.events if isinstance(ev, e.OrderExpired)}
    assert len(cancelled & prices.keys()) == len(quiet) // 3
    assert (cancelled | expired) >= prices.keys()


def test_A1_every_order_comes_from_the_account_s_broker_among_the_development_principals():
    from certx.days.cast import BROKERS

    b = built("2021-12-16", markets=("CEA",))
    brokers = {c["account"]: c["broker"] for c in b.commands if c["type"] == "account.open"}
    dev = Path(__file__).resolve().parents[2] / "deploy" / "principals.dev"
    principals = {line.split()[0]: line.split()[1] for line in dev.read_text().splitlines()
                  if line.strip() and not line.startswith("#")}
    assert all(principals[b] == "broker" for b in BROKERS)
    for c in b.commands:
        if c["type"].startswith("order.") or c["type"] == "auction.bid":
            assert c["actor"] == brokers[c["account"]]
        else:
            assert c["actor"] in ("registry", "bank", "operator")


def test_the_same_range_and_seed_build_the_same_bytes_and_another_seed_the_same_official_days():
    one = built("2025-07-16", markets=("CEA",), seed=7)
    again = built("2025-07-16", markets=("CEA",), seed=7)
    other = built("2025-07-16", markets=("CEA",), seed=8)
    assert one.lines == again.lines
    assert one.lines != other.lines
    assert [summary_fields(d) for d in one.days()] == [summary_fields(d) for d in other.days()]


CALENDAR = sorted({date for date, _ in cea_rows()})


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CALENDAR), st.integers(0, 2**16))
def test_D3_D4_D5_any_official_day_with_any_seed_replays_to_its_official_rows(date, seed):
    b = built(date.isoformat(), markets=("CEA",), seed=seed)
    assert assert_official(b) == sum(1 for d, _ in cea_rows() if d == date)
    assert b.replay.summary.rejections == Counter()
