"""The report's figures from hand-made events: the close against its bands (B1, B2, B3, B4, D4), volume by
mode (D5), the tide through the year, rejections by reason."""
from __future__ import annotations

import datetime as dt

from certx.report.figures import VolumeDay, build
from certx.wire import events as e

from .events import day, fen, listed, opened


def closes(events: list[e.Event]) -> dict[str, list]:
    return {p.product: p.days for p in build(events).closes}


def test_B1_B2_bands_from_the_reference_price_rounded_half_up():
    # DOMAIN's own figures: a previous close of 52.96 allowed 58.26 (above the exact 58.256); 43.16 allowed 30.21.
    [d21] = closes([listed("CEA21", "52.96"), opened("2021-07-16"), day("CEA21", "2021-07-16", "55.00")])["CEA21"]
    assert d21.previous_close == fen("52.96")
    assert d21.listing_band == (fen("47.66"), fen("58.26"))
    assert d21.block_band == (fen("37.07"), fen("68.85"))
    assert (d21.listing_bps, d21.block_bps) == (1000, 3000)
    [d22] = closes([listed("CEA22", "43.16"), opened("2021-07-16"), day("CEA22", "2021-07-16", "43.16")])["CEA22"]
    assert d22.block_band == (fen("30.21"), fen("56.11"))
    # exactly half a fen goes up: 50.05 × 0.9 = 45.045, × 1.1 = 55.055
    [half] = closes([listed("CEA23", "50.05"), opened("2021-07-16"), day("CEA23", "2021-07-16", "50.05")])["CEA23"]
    assert half.listing_band == (fen("45.05"), fen("55.06"))


def test_D4_D5_each_day_s_band_is_built_from_the_previous_close():
    days = closes([
        listed("CEA21", "50.00"),
        opened("2021-07-16"), day("CEA21", "2021-07-16", "52.00", high="53.00", low="51.00", listing=10),
        opened("2021-07-19"), day("CEA21", "2021-07-19", "52.00"),          # D4: no listing trade, close carries over
        opened("2021-07-20"), day("CEA21", "2021-07-20", "55.55", high="56.00", low="55.00", listing=5),
    ])["CEA21"]
    assert [d.previous_close for d in days] == [fen("50.00"), fen("52.00"), fen("52.00")]
    assert [d.listing_band for d in days] == [(fen("45.00"), fen("55.00")), (fen("46.80"), fen("57.20")),
                                              (fen("46.80"), fen("57.20"))]
    assert [d.close for d in days] == [fen("52.00"), fen("52.00"), fen("55.55")]
    assert [(d.high, d.low) for d in days] == [(fen("53.00"), fen("51.00")), (None, None), (fen("56.00"), fen("55.00"))]


def test_B4_no_band_before_a_reference_price():
    days = closes([listed("CEA23", None), opened("2023-08-28"), day("CEA23", "2023-08-28", None),
                   listed("CEA23", "73.06"), opened("2023-08-29"), day("CEA23", "2023-08-29", "73.06")])["CEA23"]
    assert (days[0].previous_close, days[0].listing_band, days[0].block_band) == (None, None, None)
    assert days[1].listing_band == (fen("65.75"), fen("80.37"))


def test_B3_a_band_change_holds_from_the_next_day():
    days = closes([
        listed("CEA21", "50.00"), opened("2021-07-16"),
        e.BandScheduled(product="CEA21", mode="listing", ratio="0.05", market="CEA"),
        day("CEA21", "2021-07-16", "50.00"),
        opened("2021-07-19"), day("CEA21", "2021-07-19", "50.00"),
    ])["CEA21"]
    assert [d.listing_bps for d in days] == [1000, 500]
    assert [d.listing_band for d in days] == [(fen("45.00"), fen("55.00")), (fen("47.50"), fen("52.50"))]
    assert [d.block_bps for d in days] == [3000, 3000]


def test_closes_only_for_products_with_a_band():
    # GEC has no band; CCER's is not enabled in DOMAIN's rules (configurable).
    events = [listed("CEA21", "50.00"), listed("CCER", "30.00"), opened("2021-07-16"),
              day("CEA21", "2021-07-16", "50.00"), day("CCER", "2021-07-16", "30.00"), day("GEC", "2021-07-16", "5.00")]
    assert list(closes(events)) == ["CEA21"]


def test_D5_volume_by_mode_per_day_sums_each_market_s_products():
    figures = build([
        opened("2023-09-12"),
        day("CEA", "2023-09-12", "72.22", block=178_201),
        day("CEA21", "2023-09-12", "73.90", listing=1_000, block=765_000, auction=30_000),
        day("CCER", "2023-09-12", "60.00", listing=5_000),
        day("CEA21", "2023-09-13", "73.90", listing=2_000),
    ])
    volumes = {m.market: (m.unit, m.days) for m in figures.volumes}
    assert volumes["CEA"] == ("t", [VolumeDay(dt.date(2023, 9, 12), 1_000, 943_201, 30_000),
                                    VolumeDay(dt.date(2023, 9, 13), 2_000, 0, 0)])
    assert volumes["CCER"] == ("t", [VolumeDay(dt.date(2023, 9, 12), 5_000, 0, 0)])
    assert "GEC" not in volumes


def test_tide_cumulative_volume_through_each_year():
    # DOMAIN: December 2021 alone held 76% of that year's volume.
    figures = build([
        day("CEA", "2021-07-16", "51.23", listing=10),
        day("CEA", "2021-11-30", "50.00", block=14),
        day("CEA", "2021-12-16", "44.22", listing=6, block=70),
        day("CEA", "2022-01-04", "54.00", listing=3),
        day("CCER", "2021-12-16", "38.00", listing=1_000),       # another market: not CEA's tide
    ])
    y2021, y2022 = figures.tide
    assert (y2021.year, y2021.volume) == (2021, 100)
    assert [(m.month, m.volume, m.share) for m in y2021.months] == [
        ("2021-07", 10, 10.0), ("2021-11", 14, 14.0), ("2021-12", 76, 76.0)]
    assert [(d.date.isoformat(), d.volume, d.share) for d in y2021.days] == [
        ("2021-07-16", 10, 10.0), ("2021-11-30", 24, 24.0), ("2021-12-16", 100, 100.0)]
    assert [(d.volume, d.share) for d in y2022.days] == [(3, 100.0)]     # each year starts again


def test_rejections_by_reason_and_market():
    figures = build([
        e.OrderRejected(account="a", reason="price_out_of_band", market="CEA"),
        e.OrderRejected(account="a", reason="price_out_of_band", market="CEA"),
        e.OrderRejected(account="b", reason="price_out_of_band", market="CCER"),
        e.CommandRejected(command="surrender", reason="offset_cap_exceeded", market="CEA"),
        e.OrderRejected(account="c", reason="already_cancelled", market="GEC"),
    ])
    assert [(r.reason, r.market, r.count) for r in figures.rejections] == [
        ("price_out_of_band", "CEA", 2), ("already_cancelled", "GEC", 1), ("offset_cap_exceeded", "CEA", 1),
        ("price_out_of_band", "CCER", 1)]


def test_overview_and_nothing_measured_or_compared_unless_given():
    trade = e.Trade(trade_id="t1", product="CEA21", mode="block", price=fen("50.00"), quantity=100_000,
                    buy_order="b", sell_order="s", buyer="x", seller="y", market="CEA")
    figures = build([opened("2021-07-16"), trade, day("CEA21", "2021-07-16", "50.00", block=100_000)], source="day.jsonl")
    o = figures.overview
    assert (o.source, o.events, o.trades, o.products) == ("day.jsonl", 3, {"block": 1}, ["CEA21"])
    assert o.first_date == o.last_date == dt.date(2021, 7, 16)
    assert figures.measures is None and figures.official is None
