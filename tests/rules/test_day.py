"""D1–D5: sessions and their hours, day orders, the open, the close, the day summary."""
from __future__ import annotations

import msgspec
import pytest

from certx.wire import events as e
from certx.wire.codec import encode
from support import Desk, cea_day, only, rejected


def buy(desk: Desk, order_id: str, quantity: int, price: str, **extra):
    return desk.order(order_id, "A", "B1", "CEA21", "buy", quantity, price, **extra)


def sell(desk: Desk, order_id: str, quantity: int, price: str, **extra):
    return desk.order(order_id, "S", "B2", "CEA21", "sell", quantity, price, **extra)


def block(desk: Desk, order_id: str, quantity: int, price: str, time: str = "13:30"):
    return desk.order(order_id, "S", "B2", "CEA21", "sell", quantity, price, mode="block", time=time)


def accept(desk: Desk, order_id: str, target: str, quantity: int, time: str = "13:30"):
    return desk.send("order.accept", order_id=order_id, actor="B1", account="A", market="CEA", target=target,
                     quantity=quantity, time=time)


def summary(desk: Desk, product: str = "CEA21") -> e.DaySummary:
    return {d.product: d for d in only(desk.close_day(), e.DaySummary)}[product]


# --- D1: sessions opened and closed by control commands; listing 09:30–11:30, 13:00–15:00; block 13:00–15:00 -

@pytest.mark.parametrize("time,ok", [
    ("09:29", False), ("09:30", True), ("11:29", True), ("11:30", False), ("12:00", False),
    ("12:59", False), ("13:00", True), ("14:59", True), ("15:00", False),
])
def test_D1_listing_hours(time, ok):
    desk = cea_day("50.00")
    reason = rejected(buy(desk, "b1", 10, "50.00", time=time))
    assert reason == (None if ok else "market_closed")


@pytest.mark.parametrize("time,ok", [("10:00", False), ("12:59", False), ("13:00", True), ("14:59", True),
                                     ("15:00", False)])
def test_D1_block_hours(time, ok):
    desk = cea_day("50.00")
    assert rejected(block(desk, "k1", 100_000, "50.00", time=time)) == (None if ok else "market_closed")


def test_D1_block_accept_outside_block_hours_is_rejected():
    desk = cea_day("50.00")
    block(desk, "k1", 100_000, "50.00")
    assert rejected(accept(desk, "k2", "k1", 100_000, time="15:00")) == "market_closed"
    assert rejected(accept(desk, "k3", "k1", 100_000, time="14:59")) is None


def test_D1_lift_outside_listing_hours_is_rejected():
    desk = cea_day("50.00")
    sell(desk, "s1", 10, "50.00")
    events = desk.send("order.lift", order_id="l1", actor="B1", account="A", market="CEA", target="s1",
                       quantity=10, time="12:00")
    assert rejected(events) == "market_closed"


def test_D1_session_ends_exactly_at_11_30():
    desk = cea_day("50.00")
    def line(order_id: str, at: str) -> bytes:
        return msgspec.json.encode({"type": "order.new", "at": at, "actor": "B1", "order_id": order_id,
                                    "account": "A", "product": "CEA21", "side": "buy", "quantity": 1,
                                    "price": "50.00"})
    assert rejected(desk.raw(line("b1", "2021-12-16T11:29:59.999+08:00"))) is None
    assert rejected(desk.raw(line("b2", "2021-12-16T11:30:00.000+08:00"))) == "market_closed"


def test_D1_an_order_stamped_on_another_date_is_outside_the_open_session():
    desk = cea_day("50.00")                                     # open for 2021-12-16
    line = msgspec.json.encode({"type": "order.new", "at": "2021-12-17T10:00:00+08:00", "actor": "B1",
                                "order_id": "b1", "account": "A", "product": "CEA21", "side": "buy",
                                "quantity": 1, "price": "50.00"})
    assert rejected(desk.raw(line)) == "market_closed"


def test_D1_a_cancel_between_sessions_is_market_closed_and_allowed_in_the_afternoon():
    desk = cea_day("50.00")
    buy(desk, "b1", 10, "50.00")
    events = desk.send("order.cancel", order_id="b1", actor="B1", account="A", market="CEA", time="12:00")
    assert rejected(events) == "market_closed"
    events = desk.send("order.cancel", order_id="b1", actor="B1", account="A", market="CEA", time="13:01")
    assert [ev.order_id for ev in only(events, e.OrderCancelled)] == ["b1"]


def test_D1_no_trading_before_the_session_is_opened():
    desk = Desk()
    desk.open_account("A", "B1")
    desk.list_product("CEA21", "50.00")
    desk.deposit("A", "CEA", "1000")
    assert rejected(buy(desk, "b1", 1, "50.00")) == "market_closed"
    opened = desk.open_day("CEA")
    assert [ev.date.isoformat() for ev in only(opened, e.SessionOpened)] == ["2021-12-16"]
    assert rejected(buy(desk, "b2", 1, "50.00")) is None


def test_D1_no_trading_after_the_session_is_closed():
    desk = cea_day("50.00")
    closed = desk.close_day()
    assert [ev.date.isoformat() for ev in only(closed, e.SessionClosed)] == ["2021-12-16"]
    assert rejected(buy(desk, "b1", 1, "50.00", time="14:00")) == "market_closed"


def test_D1_session_close_must_name_the_open_date():
    desk = cea_day("50.00")
    events = desk.send("session.close", actor="operator", market="CEA", date="2021-12-17", time="15:30")
    assert rejected(events) == "market_closed"
    assert rejected(buy(desk, "b1", 1, "50.00")) is None



@pytest.mark.parametrize("actor", ["B1", "registry", "bank"])
def test_D1_only_the_operator_closes_a_session(actor):
    desk = cea_day("50.00")
    buy(desk, "b1", 10, "49.00")
    events = desk.send("session.close", actor=actor, market="CEA", date="2021-12-16", time="15:30")
    assert rejected(events) == "not_authorised"
    assert desk.engines["CEA"].date is not None
    assert "b1" in desk.engines["CEA"].products["CEA21"].book.orders


def test_D1_session_cannot_be_opened_twice_nor_for_a_past_date():
    desk = cea_day("50.00")
    again = desk.send("session.open", actor="operator", market="CEA", date="2021-12-17", time="09:10")
    assert rejected(again) == "session_already_open"
    desk.close_day()                                            # closes 2021-12-16
    stale = desk.send("session.open", actor="operator", market="CEA", date="2021-12-16", time="16:00")
    assert rejected(stale) == "stale_date"


def test_D1_a_session_opens_for_its_commands_day_or_the_next_never_a_typo_ahead():
    """The trading date is the operator's to type: 2022-12-17 for 2021-12-17 would open a year ahead (GEC's
    certificates retired as expired for good, G2, and every earlier date refused as stale once it closed)."""
    desk = cea_day("50.00")
    desk.close_day()                                            # closes 2021-12-16
    typo = desk.send("session.open", actor="operator", market="CEA", date="2022-12-17", time="09:10")
    assert rejected(typo) == "date_ahead" and desk.engines["CEA"].date is None
    evening = desk.send("session.open", actor="operator", market="CEA", date="2021-12-17", time="23:50")
    assert not rejected(evening) and str(desk.engines["CEA"].date) == "2021-12-17"


# --- D2: day orders: at close every resting order expires and releases its reservation ------------------

def test_D2_resting_orders_expire_at_close_and_release_cash_and_units():
    desk = cea_day("50.00")
    buy(desk, "b1", 100, "49.00")
    sell(desk, "s1", 200, "51.00")
    events = desk.close_day()
    expired = {ev.order_id: ev.remaining for ev in only(events, e.OrderExpired)}
    assert expired == {"b1": 100, "s1": 200}
    cea = desk.engines["CEA"]
    assert (cea.wallets["A"].cash, cea.wallets["A"].cash_held) == (1_000_000_000, 0)
    pos = cea.wallets["S"].positions["CEA21"]
    assert (pos.free, pos.held) == (1_000_000, 0)
    assert not cea.products["CEA21"].book.orders


def test_D2_a_partly_filled_order_expires_with_its_remainder():
    desk = cea_day("50.00")
    sell(desk, "s1", 100, "50.00")
    buy(desk, "b1", 300, "50.00")
    events = desk.close_day()
    assert [(ev.order_id, ev.remaining) for ev in only(events, e.OrderExpired)] == [("b1", 200)]
    assert desk.engines["CEA"].wallets["A"].cash == 1_000_000_000 - 100 * 5000


def test_D2_block_offers_expire_at_close():
    desk = cea_day("50.00")
    block(desk, "k1", 100_000, "50.00")
    events = desk.close_day()
    assert [(ev.order_id, ev.remaining) for ev in only(events, e.OrderExpired)] == [("k1", 100_000)]
    pos = desk.engines["CEA"].wallets["S"].positions["CEA21"]
    assert (pos.free, pos.held) == (1_000_000, 0)


def test_D2_an_expired_order_is_gone_the_next_day():
    desk = cea_day("50.00")
    sell(desk, "s1", 10, "50.00")
    desk.close_day()
    desk.open_day("CEA", "2021-12-17")
    events = desk.send("order.lift", order_id="l1", actor="B1", account="A", market="CEA", target="s1",
                       quantity=10)
    assert rejected(events) == "unknown_order"
    assert not only(buy(desk, "b1", 10, "50.00"), e.Trade)


def test_D2_expiries_come_before_the_summary_and_session_closed_is_last():
    desk = cea_day("50.00")
    buy(desk, "b1", 100, "49.00")
    kinds = [type(ev) for ev in desk.close_day()]
    assert kinds == [e.OrderExpired, e.DaySummary, e.SessionClosed]


# --- D3: open = first listing trade of the day, else the previous close ------------------------------------

def test_D3_open_is_the_first_listing_trade():
    desk = cea_day("50.00")
    sell(desk, "s1", 100, "51.00")
    buy(desk, "b1", 100, "51.00")
    sell(desk, "s2", 100, "50.20")
    buy(desk, "b2", 100, "50.20")
    assert summary(desk).open == 5100


def test_D3_open_without_listing_trade_is_the_previous_close():
    desk = cea_day("50.00")
    assert summary(desk).open == 5000


def test_D3_the_quoted_open_is_the_days_open_before_the_first_trade_and_after_the_close():
    """D3 on the market-data feed: the quote's open was the first trade's or null, so after a close with no listing
    trade the feed said null where the day summary said the previous close; and before the first trade D3 already
    names the previous close. Now the quote and the summary give the same open at every step."""
    from certx.marketdata import Changes, quotes

    def quoted_open(desk: Desk) -> int | None:
        every = Changes()
        every.every = 0
        return next(q.open for q in quotes(desk.engines["CEA"], every) if q.product == "CEA21")

    desk = cea_day("50.00")
    assert quoted_open(desk) == 5000                                 # the previous close, nothing traded yet
    assert summary(desk).open == 5000 and quoted_open(desk) == 5000  # closed: as the day summary says
    desk.open_day("CEA", "2021-12-17")
    sell(desk, "s1", 100, "51.00")
    buy(desk, "b1", 100, "51.00")
    assert quoted_open(desk) == 5100


def test_D3_a_block_trade_does_not_set_the_open():
    desk = cea_day("50.00")
    block(desk, "k1", 100_000, "45.00")
    accept(desk, "k2", "k1", 100_000)
    sell(desk, "s1", 100, "51.00", time="13:40")
    buy(desk, "b1", 100, "51.00", time="13:40")
    assert summary(desk).open == 5100


# --- D4: close = VWAP of the day's listing trades, half-up to the fen; else the previous close carries over -

def test_D4_close_is_volume_weighted_not_a_simple_mean():
    desk = cea_day("50.00")
    sell(desk, "s1", 100, "50.00")
    buy(desk, "b1", 100, "50.00")
    sell(desk, "s2", 300, "51.00")
    buy(desk, "b2", 300, "51.00")
    assert summary(desk).close == 5075            # (50×100 + 51×300) / 400 = 50.75


def test_D4_close_rounds_half_up_to_the_fen():
    desk = cea_day("50.00")
    sell(desk, "s1", 1, "50.00")
    buy(desk, "b1", 1, "50.00")
    sell(desk, "s2", 1, "50.01")
    buy(desk, "b2", 1, "50.01")
    assert summary(desk).close == 5001            # 50.005 -> 50.01


def test_D4_without_listing_trades_the_previous_close_carries_over():
    desk = cea_day("50.00")
    sell(desk, "s1", 100, "51.00")
    buy(desk, "b1", 100, "51.00")
    desk.close_day()
    desk.open_day("CEA", "2021-12-17")
    assert summary(desk).close == 5100
    assert desk.engines["CEA"].products["CEA21"].close == 5100


def test_D4_block_trades_never_set_the_close():
    desk = cea_day("50.00")
    sell(desk, "s1", 100, "51.00")
    buy(desk, "b1", 100, "51.00")
    block(desk, "k1", 100_000, "40.00")
    accept(desk, "k2", "k1", 100_000)
    assert summary(desk).close == 5100


def test_D4_lifts_are_listing_trades_and_count_in_the_close():
    desk = cea_day("50.00")
    sell(desk, "s1", 100, "52.00")
    desk.send("order.lift", order_id="l1", actor="B1", account="A", market="CEA", target="s1", quantity=100)
    assert summary(desk).close == 5200


# --- D5: the day summary per product; the next day's bands come from its close ------------------------------

def busy_day() -> Desk:
    desk = cea_day("50.00")
    for i, (quantity, price) in enumerate([(100, "50.50"), (200, "51.00"), (100, "50.20")]):
        sell(desk, f"s{i}", quantity, price)
        buy(desk, f"b{i}", quantity, price)
    block(desk, "k1", 100_000, "45.00")
    accept(desk, "k2", "k1", 100_000)
    return desk


def test_D5_day_summary_has_every_figure():
    desk = busy_day()
    day = summary(desk)
    assert (day.product, day.date.isoformat()) == ("CEA21", "2021-12-16")
    assert (day.open, day.high, day.low) == (5050, 5100, 5020)
    value = 100 * 5050 + 200 * 5100 + 100 * 5020      # 2,027,000 fen
    assert (day.listing_volume, day.listing_value) == (400, value)
    assert day.close == (2 * value + 400) // 800      # VWAP half-up: 50.675 -> 50.68
    assert day.close == 5068
    assert (day.block_volume, day.block_value) == (100_000, 100_000 * 4500)
    assert (day.auction_volume, day.auction_value) == (0, 0)


def test_D5_one_summary_per_product():
    desk = cea_day("50.00")
    desk.list_product("CEA22", "60.00")
    desk.list_product("CEA23", None)
    products = sorted(d.product for d in only(desk.close_day(), e.DaySummary))
    assert products == ["CEA21", "CEA22", "CEA23"]


def test_D5_quiet_day_summary_has_no_high_or_low_and_zero_volumes():
    desk = cea_day("50.00")
    day = summary(desk)
    assert (day.open, day.high, day.low, day.close) == (5000, None, None, 5000)
    assert (day.listing_volume, day.listing_value, day.block_volume, day.block_value) == (0, 0, 0, 0)


def test_D5_summary_money_is_decimal_strings_on_the_wire():
    desk = busy_day()
    wire = msgspec.json.decode(encode(summary(desk)))
    assert (wire["close"], wire["listing_value"], wire["block_value"]) == ("50.68", "20270.00", "4500000.00")


def test_D5_next_days_listing_and_block_bands_come_from_the_close():
    desk = busy_day()                                   # close 50.68
    desk.close_day()
    desk.open_day("CEA", "2021-12-17")                  # listing 45.61 .. 55.75; block 35.48 .. 65.88
    assert rejected(buy(desk, "b9", 10, "55.75")) is None
    assert rejected(buy(desk, "b10", 10, "55.76")) == "price_out_of_band"
    assert rejected(block(desk, "k9", 100_000, "35.47")) == "price_out_of_band"
    assert rejected(block(desk, "k10", 100_000, "35.48")) is None
