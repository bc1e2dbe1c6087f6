"""B1 (listing band ±10%, half-up, inclusive), B3 (band ratio changes from the next day), B4 (reference price)."""
from __future__ import annotations

import pytest

from certx.wire import events as e
from support import Desk, cea_day, only, rejected


def buy(desk: Desk, order_id: str, price: str, product: str = "CEA21", **extra):
    return desk.order(order_id, "A", "B1", product, "buy", 10, price, **extra)


def sell(desk: Desk, order_id: str, price: str, product: str = "CEA21", **extra):
    return desk.order(order_id, "S", "B2", product, "sell", 10, price, **extra)


def block_sell(desk: Desk, order_id: str, price: str):
    return desk.order(order_id, "S", "B2", "CEA21", "sell", 100_000, price, mode="block", time="13:30")


def next_day(desk: Desk, date: str) -> None:
    desk.close_day()
    desk.open_day("CEA", date)


# --- B1 -----------------------------------------------------------------------------------------------

def test_B1_official_example_close_52_96_allows_58_26():
    desk = cea_day("52.96")                    # 52.96 × 1.1 = 58.256 -> 58.26
    assert rejected(buy(desk, "b1", "58.26")) is None


def test_B1_one_fen_above_the_upper_limit_is_rejected():
    desk = cea_day("52.96")
    assert rejected(buy(desk, "b1", "58.27")) == "price_out_of_band"


def test_B1_lower_limit_is_inclusive_and_one_fen_below_is_rejected():
    desk = cea_day("52.96")                    # 52.96 × 0.9 = 47.664 -> 47.66
    assert rejected(sell(desk, "s1", "47.66")) is None
    assert rejected(sell(desk, "s2", "47.65")) == "price_out_of_band"


def test_B1_limit_is_close_times_ratio_rounded_half_up():
    desk = cea_day("50.05")                    # 45.045 -> 45.05 and 55.055 -> 55.06 (half-up, not half-even)
    assert rejected(sell(desk, "s1", "45.04")) == "price_out_of_band"
    assert rejected(sell(desk, "s2", "45.05")) is None
    assert rejected(buy(desk, "b1", "55.06")) is None
    assert rejected(buy(desk, "b2", "55.07")) == "price_out_of_band"
    assert desk.engines["CEA"].products["CEA21"].listing_limits == (4505, 5506)


def test_B1_next_day_band_is_built_from_todays_close():
    desk = cea_day("50.00")
    sell(desk, "s1", "51.00")
    buy(desk, "b1", "51.00")
    next_day(desk, "2021-12-17")               # close 51.00: band 45.90 .. 56.10
    assert rejected(buy(desk, "b2", "56.10")) is None
    assert rejected(buy(desk, "b3", "56.11")) == "price_out_of_band"
    assert rejected(sell(desk, "s2", "45.89")) == "price_out_of_band"


def test_B1_band_applies_to_sells_and_buys_alike():
    desk = cea_day("50.00")
    assert rejected(sell(desk, "s1", "55.01")) == "price_out_of_band"
    assert rejected(buy(desk, "b1", "44.99")) == "price_out_of_band"


# --- B3: band ratios per product and mode, changed by control command, effective from the next day -----

def band_set(desk: Desk, product: str, mode: str, ratio: str, actor: str = "operator"):
    return desk.send("band.set", actor=actor, product=product, mode=mode, ratio=ratio)


def test_B3_listing_band_change_waits_for_the_next_day():
    desk = cea_day("50.00")
    assert rejected(band_set(desk, "CEA21", "listing", "0.05")) is None
    assert rejected(buy(desk, "b1", "54.00")) is None          # today still ±10%
    next_day(desk, "2021-12-17")                                # close carries 50.00; now ±5%
    assert rejected(buy(desk, "b2", "52.50")) is None
    assert rejected(buy(desk, "b3", "52.51")) == "price_out_of_band"
    assert rejected(sell(desk, "s1", "47.49")) == "price_out_of_band"


def test_B3_block_band_change_leaves_the_listing_band_alone():
    desk = cea_day("50.00")
    band_set(desk, "CEA21", "block", "0.2")
    next_day(desk, "2021-12-17")                                # block ±20%: 40.00 .. 60.00
    assert rejected(block_sell(desk, "k1", "39.99")) == "price_out_of_band"
    assert rejected(block_sell(desk, "k2", "40.00")) is None
    assert rejected(buy(desk, "b1", "55.00")) is None           # listing still ±10%
    assert rejected(buy(desk, "b2", "55.01")) == "price_out_of_band"


def test_B3_a_band_for_gec_is_refused_as_gec_has_none():
    # Red team: band.set on the GEC product was scheduled and answered `band.scheduled`, yet no GEC order is ever
    # held to a band (bands are CEA's and CCER's): an operator was told a rule took effect that never would.
    desk = Desk(date="2025-06-16")
    assert rejected(band_set(desk, "GEC", "listing", "0.05")) == "mode_not_allowed"


def test_B3_band_change_is_per_product():
    desk = cea_day("50.00")
    desk.list_product("CEA22", "50.00")
    band_set(desk, "CEA21", "listing", "0.05")
    next_day(desk, "2021-12-17")
    assert rejected(buy(desk, "b1", "55.00", product="CEA22")) is None
    assert rejected(buy(desk, "b2", "55.00")) == "price_out_of_band"


def test_B3_band_can_be_widened():
    desk = cea_day("50.00")
    band_set(desk, "CEA21", "listing", "0.2")
    next_day(desk, "2021-12-17")
    assert rejected(buy(desk, "b1", "60.00")) is None
    assert rejected(buy(desk, "b2", "60.01")) == "price_out_of_band"


def test_B3_band_set_is_an_operator_command():
    desk = cea_day("50.00")
    assert rejected(band_set(desk, "CEA21", "listing", "0.05", actor="B1")) == "not_authorised"
    next_day(desk, "2021-12-17")
    assert rejected(buy(desk, "b1", "55.00")) is None


# --- B4: a product with no close takes its first reference price from a control command ----------------

def unreferenced() -> Desk:
    desk = cea_day("50.00")
    events = desk.list_product("CEA23", None)
    assert only(events, e.ProductListed)
    desk.issue_cea("S", "CEA23", 200_000)
    return desk


def test_B4_orders_on_a_product_without_reference_price_are_rejected():
    desk = unreferenced()
    assert rejected(buy(desk, "b1", "50.00", product="CEA23")) == "no_reference_price"
    assert rejected(sell(desk, "s1", "50.00", product="CEA23")) == "no_reference_price"


def test_B4_block_offers_on_a_product_without_reference_price_are_rejected():
    desk = unreferenced()
    events = desk.order("k1", "S", "B2", "CEA23", "sell", 100_000, "50.00", mode="block", time="13:30")
    assert rejected(events) == "no_reference_price"


def test_B4_reference_price_from_the_control_command_opens_the_product():
    desk = unreferenced()
    assert rejected(desk.list_product("CEA23", "60.00")) is None
    assert rejected(buy(desk, "b1", "66.00", product="CEA23")) is None
    assert rejected(buy(desk, "b2", "66.01", product="CEA23")) == "price_out_of_band"


def test_B4_no_reference_price_survives_a_day_without_trades():
    desk = unreferenced()
    next_day(desk, "2021-12-17")
    assert rejected(buy(desk, "b1", "50.00", product="CEA23")) == "no_reference_price"


def test_B4_a_second_reference_price_is_refused_once_the_product_has_one():
    desk = cea_day("50.00")
    assert rejected(desk.list_product("CEA21", "60.00")) == "duplicate_product"
    assert desk.engines["CEA"].products["CEA21"].close == 5000


@pytest.mark.parametrize("actor", ["B1", "registry", "bank"])
def test_B4_only_the_operator_lists_a_product_or_gives_it_a_reference_price(actor):
    desk = unreferenced()
    listing = {"actor": actor, "market": "CEA", "reference_price": "60.00"}
    assert rejected(desk.send("product.list", product="CEA23", **listing)) == "not_authorised"
    assert rejected(desk.send("product.list", product="CEA24", **listing)) == "not_authorised"
    assert "CEA24" not in desk.engines["CEA"].products
    assert rejected(buy(desk, "b1", "50.00", product="CEA23")) == "no_reference_price"
