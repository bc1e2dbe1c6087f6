"""M2 (block agreement: offers, accepts, never the listing book nor the close) and B2 (the ±30% block band)."""
from __future__ import annotations

from certx.wire import events as e
from support import Desk, cea_day, only, rejected

BLOCK_TIME = "13:30"


def offer(desk: Desk, order_id: str, account: str, broker: str, side: str, quantity: int, price: str, **extra):
    return desk.order(order_id, account, broker, "CEA21", side, quantity, price, mode="block", time=BLOCK_TIME,
                      **extra)


def accept(desk: Desk, order_id: str, account: str, broker: str, target: str, quantity: int):
    return desk.send("order.accept", order_id=order_id, actor=broker, account=account, market="CEA",
                     target=target, quantity=quantity, time=BLOCK_TIME)


def block_trades(events):
    return [(t.mode, t.buyer, t.seller, t.quantity, int(t.price)) for t in only(events, e.Trade)]


def with_third_buyer(reference: str = "50.00") -> Desk:
    desk = cea_day(reference)
    desk.open_account("C", "B3")
    desk.deposit("C", "CEA", "10000000")
    return desk


# --- M2 ---------------------------------------------------------------------------------------------

def test_M2_public_offer_is_accepted_at_the_offer_price():
    desk = cea_day("50.00")
    offer(desk, "k1", "S", "B2", "sell", 100_000, "48.00")
    events = accept(desk, "k2", "A", "B1", "k1", 100_000)
    assert block_trades(events) == [("block", "A", "S", 100_000, 4800)]
    assert "k1" not in desk.engines["CEA"].blocks.offers


def test_M2_a_buy_offer_is_accepted_by_a_seller():
    desk = cea_day("50.00")
    offer(desk, "k1", "A", "B1", "buy", 100_000, "52.00")
    events = accept(desk, "k2", "S", "B2", "k1", 100_000)
    assert block_trades(events) == [("block", "A", "S", 100_000, 5200)]
    cea = desk.engines["CEA"]
    assert cea.wallets["S"].cash == 100_000 * 5200
    assert cea.wallets["A"].cash_held == 0


def test_M2_block_does_not_touch_the_listing_book():
    desk = cea_day("50.00")
    desk.order("b1", "A", "B1", "CEA21", "buy", 100, "50.00", time="13:10")
    events = offer(desk, "k1", "S", "B2", "sell", 100_000, "49.00")      # would cross the listing bid
    assert not only(events, e.Trade)
    book = desk.engines["CEA"].products["CEA21"].book
    assert list(book.orders) == ["b1"] and book.asks.best() is None
    accept(desk, "k2", "A", "B1", "k1", 100_000)
    assert book.orders["b1"].remaining == 100


def test_M2_block_trade_does_not_change_the_close():
    desk = cea_day("50.00")
    desk.order("s1", "S", "B2", "CEA21", "sell", 100, "51.00")
    desk.order("b1", "A", "B1", "CEA21", "buy", 100, "51.00")
    offer(desk, "k1", "S", "B2", "sell", 100_000, "40.00")
    accept(desk, "k2", "A", "B1", "k1", 100_000)
    (day,) = only(desk.close_day(), e.DaySummary)
    assert day.close == 5100 and desk.engines["CEA"].products["CEA21"].close == 5100


def test_M2_block_only_day_carries_the_previous_close():
    desk = cea_day("50.00")
    offer(desk, "k1", "S", "B2", "sell", 100_000, "40.00")
    accept(desk, "k2", "A", "B1", "k1", 100_000)
    (day,) = only(desk.close_day(), e.DaySummary)
    assert day.close == 5000


def test_M2_addressed_offer_can_only_be_accepted_by_its_counterparty():
    desk = with_third_buyer()
    offer(desk, "k1", "S", "B2", "sell", 100_000, "48.00", counterparty="A")
    assert rejected(accept(desk, "k2", "C", "B3", "k1", 100_000)) == "not_authorised"
    assert block_trades(accept(desk, "k3", "A", "B1", "k1", 100_000)) == [("block", "A", "S", 100_000, 4800)]


def test_M2_public_offer_can_be_accepted_by_anyone():
    desk = with_third_buyer()
    offer(desk, "k1", "S", "B2", "sell", 100_000, "48.00")
    assert block_trades(accept(desk, "k2", "C", "B3", "k1", 100_000)) == [("block", "C", "S", 100_000, 4800)]


def test_M2_partial_accept_where_the_offer_allows():
    desk = cea_day("50.00")
    offer(desk, "k1", "S", "B2", "sell", 200_000, "40.00")
    assert block_trades(accept(desk, "k2", "A", "B1", "k1", 100_000)) == [("block", "A", "S", 100_000, 4000)]
    assert desk.engines["CEA"].blocks.offers["k1"].remaining == 100_000


def test_M2_partial_accept_below_the_block_minimum_is_rejected_unless_it_takes_the_rest():
    desk = cea_day("50.00")
    offer(desk, "k1", "S", "B2", "sell", 150_000, "40.00")
    assert rejected(accept(desk, "k2", "A", "B1", "k1", 99_999)) == "lot_size"
    accept(desk, "k3", "A", "B1", "k1", 100_000)
    assert block_trades(accept(desk, "k4", "A", "B1", "k1", 50_000)) == [("block", "A", "S", 50_000, 4000)]


def test_M2_offer_that_forbids_partial_must_be_taken_in_full():
    desk = cea_day("50.00")
    offer(desk, "k1", "S", "B2", "sell", 150_000, "40.00", partial=False)
    assert rejected(accept(desk, "k2", "A", "B1", "k1", 100_000)) == "lot_size"
    assert block_trades(accept(desk, "k3", "A", "B1", "k1", 150_000)) == [("block", "A", "S", 150_000, 4000)]


def test_M2_accept_for_more_than_offered_is_rejected():
    desk = cea_day("50.00")
    offer(desk, "k1", "S", "B2", "sell", 100_000, "40.00")
    assert rejected(accept(desk, "k2", "A", "B1", "k1", 100_001)) == "lot_size"


def test_M2_accept_of_an_unknown_offer_is_rejected():
    desk = cea_day("50.00")
    assert rejected(accept(desk, "k2", "A", "B1", "nope", 100_000)) == "unknown_order"


def test_M2_block_is_off_for_ccer_by_default():
    desk = Desk()
    desk.open_account("S", "B2")
    desk.send("issue.ccer", actor="registry", account="S", product="CCER", project="P1", vintage=2021,
              quantity=200_000)
    desk.open_day("CCER")
    events = desk.order("k1", "S", "B2", "CCER", "sell", 100_000, "60.00", mode="block", time=BLOCK_TIME)
    assert rejected(events) == "mode_not_allowed"


# --- B2: block offers within ±30% of the previous close, limits rounded half-up ------------------------

def test_B2_official_example_close_43_16_allows_a_block_at_30_21():
    desk = cea_day("43.16")                    # 43.16 × 0.7 = 30.212 -> 30.21
    events = offer(desk, "k1", "S", "B2", "sell", 100_000, "30.21")
    assert rejected(events) is None
    assert block_trades(accept(desk, "k2", "A", "B1", "k1", 100_000)) == [("block", "A", "S", 100_000, 3021)]


def test_B2_one_fen_below_the_lower_block_limit_is_rejected():
    desk = cea_day("43.16")
    assert rejected(offer(desk, "k1", "S", "B2", "sell", 100_000, "30.20")) == "price_out_of_band"


def test_B2_upper_block_limit_is_inclusive_and_one_fen_above_is_rejected():
    desk = cea_day("43.16")                    # 43.16 × 1.3 = 56.108 -> 56.11
    assert rejected(offer(desk, "k1", "A", "B1", "buy", 100_000, "56.11")) is None
    assert rejected(offer(desk, "k2", "A", "B1", "buy", 100_000, "56.12")) == "price_out_of_band"


def test_B2_block_band_rounds_half_up_on_an_exact_half_fen():
    desk = cea_day("50.05")                    # 50.05 × 0.7 = 35.035 -> 35.04 (half-up, not 35.03)
    assert rejected(offer(desk, "k1", "S", "B2", "sell", 100_000, "35.03")) == "price_out_of_band"
    assert rejected(offer(desk, "k2", "S", "B2", "sell", 100_000, "35.04")) is None


def test_B2_block_price_is_outside_the_listing_band():
    desk = cea_day("43.16")                    # listing lower limit 38.84: the block band is the wider one
    assert rejected(desk.order("s1", "S", "B2", "CEA21", "sell", 100, "30.21", time=BLOCK_TIME)) == "price_out_of_band"
