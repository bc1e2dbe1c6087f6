"""The official daily statistics against the replayed day summaries (D3–D5): rows read as day summaries,
compared field by field on the replayed days."""
from __future__ import annotations

import datetime as dt

import pytest

from certx.report.official import Mismatch, OfficialError, compare, read

from .events import day, fen

HEADER = ("date,product,open,high,low,close,change_rate,listing_volume,listing_amount,block_volume,block_amount,"
          "auction_volume,auction_amount")
ROWS = [
    HEADER,
    "2021-12-16,CEA,43.65,45.2,43.15,44.22,0.0269,901715,39874009.6,19579226,777344108.35,0,0",
    "2023-09-12,CEA21,73.9,0,0,73.9,0,0,0,765000,55099500,0,0",
]


def replayed_cea(close: str = "44.22", block_value: str = "777344108.35"):
    return day("CEA", "2021-12-16", close, open_="43.65", high="45.20", low="43.15", listing=901_715,
               listing_value="39874009.60", block=19_579_226, block_value=block_value)


def test_D5_official_rows_read_as_day_summaries():
    cea, cea21 = read(ROWS)
    assert (cea.date, cea.product, cea.open, cea.high, cea.low, cea.close) == (
        dt.date(2021, 12, 16), "CEA", fen("43.65"), fen("45.20"), fen("43.15"), fen("44.22"))
    assert (cea.listing_volume, cea.listing_value, cea.block_volume, cea.block_value) == (
        901_715, fen("39874009.60"), 19_579_226, fen("777344108.35"))
    # D3, D4: no listing trade: the official 0 high and low are the engine's none
    assert (cea21.open, cea21.high, cea21.low, cea21.close) == (fen("73.90"), None, None, fen("73.90"))


def test_D3_D5_the_replayed_day_that_is_the_official_day_matches():
    comparison = compare(read(ROWS), [replayed_cea()])
    assert (comparison.compared, comparison.matched, comparison.not_replayed, comparison.not_official) == (1, 1, 0, 0)
    [row] = comparison.rows          # only the replayed days are compared: 2023-09-12 is not one
    assert (row.date, row.product, row.status, row.mismatches) == (dt.date(2021, 12, 16), "CEA", "match", [])


def test_D4_D5_mismatches_are_listed_field_by_field():
    comparison = compare(read(ROWS), [replayed_cea(close="44.23", block_value="777344108.36")])
    [row] = comparison.rows
    assert row.status == "mismatch" and comparison.matched == 0
    assert row.mismatches == [Mismatch("close", "44.22", "44.23"),
                              Mismatch("block_value", "777344108.35", "777344108.36")]


def test_D5_rows_on_one_side_only():
    replayed = [replayed_cea(), day("CEA22", "2021-12-16", "50.00"), day("CCER", "2021-12-16", "38.54")]
    official = read(ROWS + ["2021-12-16,CEA21,50,0,0,50,0,0,0,0,0,0,0"])
    comparison = compare(official, replayed)
    assert [(r.product, r.status) for r in comparison.rows] == [
        ("CEA", "match"), ("CEA21", "not_replayed"), ("CEA22", "not_official")]    # CCER: not the official market
    assert (comparison.compared, comparison.not_replayed, comparison.not_official) == (1, 1, 1)


@pytest.mark.parametrize("lines,where", [
    (["date,product,close", "2021-12-16,CEA,44.22"], "no column auction_amount"),
    (ROWS[:1] + ["2021-12-16,CEA,43.65,45.2,43.15,44.225,0,1,1,0,0,0,0"], "cea.csv:2:"),
    (ROWS[:2] + ["2021-12-17,CEA,43.65,45.2,43.15,44.22,0,many,1,0,0,0,0"], "cea.csv:3:"),
])
def test_a_file_that_is_not_the_official_statistics_says_where(lines, where):
    with pytest.raises(OfficialError, match=where):
        read(lines, "cea.csv")
