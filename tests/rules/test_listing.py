"""P1, P2 (products and books), M1 (listing: price-time matching and lifts), S1 (sizes)."""
from __future__ import annotations

from certx.rules import Rules
from certx.wire import events as e
from support import Desk, cea_day, only, rejected


def trades(events) -> list[tuple[str, str, int, int]]:
    """(buy_order, sell_order, quantity, price in fen) of each trade, in order."""
    return [(t.buy_order, t.sell_order, t.quantity, int(t.price)) for t in only(events, e.Trade)]


def lift(desk: Desk, order_id: str, account: str, broker: str, target: str, quantity: int, market: str = "CEA"):
    return desk.send("order.lift", order_id=order_id, actor=broker, account=account, market=market,
                     target=target, quantity=quantity)


# --- P1: one CEA product per vintage, each with its own book, close, band, open and close ----------

def test_P1_each_vintage_has_its_own_band():
    desk = cea_day("50.00")
    desk.list_product("CEA22", "60.00")
    assert rejected(desk.order("b1", "A", "B1", "CEA22", "buy", 10, "65.00")) is None    # 54.00..66.00
    assert rejected(desk.order("b2", "A", "B1", "CEA21", "buy", 10, "65.00")) == "price_out_of_band"


def test_P1_each_vintage_has_its_own_book():
    desk = cea_day("50.00")
    desk.list_product("CEA22", "50.00")
    desk.order("b1", "A", "B1", "CEA22", "buy", 10, "52.00")
    events = desk.order("s1", "S", "B2", "CEA21", "sell", 10, "50.00")
    assert not only(events, e.Trade)
    cea = desk.engines["CEA"]
    assert list(cea.products["CEA21"].book.orders) == ["s1"]
    assert list(cea.products["CEA22"].book.orders) == ["b1"]


def test_P1_each_vintage_has_its_own_open_and_close():
    desk = cea_day("50.00")
    desk.list_product("CEA22", "60.00")
    desk.order("s1", "S", "B2", "CEA21", "sell", 10, "51.00")
    desk.order("b1", "A", "B1", "CEA21", "buy", 10, "51.00")
    days = {d.product: d for d in only(desk.close_day(), e.DaySummary)}
    assert (days["CEA21"].open, days["CEA21"].close) == (5100, 5100)
    assert (days["CEA22"].open, days["CEA22"].close) == (6000, 6000)
    assert desk.engines["CEA"].products["CEA22"].close == 6000


def test_P1_a_new_vintage_can_be_listed_over_time():
    desk = cea_day("50.00")
    desk.issue_cea("S", "CEA25", 100)
    assert rejected(desk.order("s1", "S", "B2", "CEA25", "sell", 10, "70.00")) == "unknown_product"
    desk.list_product("CEA25", "70.00")
    assert rejected(desk.order("s2", "S", "B2", "CEA25", "sell", 10, "70.00")) is None


# --- P2: CCER product key (pooled by default, or per project and vintage); multi-transfer -------------

def ccer_desk(rules: Rules = Rules()) -> Desk:
    desk = Desk(rules)
    for account, broker in (("A", "B1"), ("S", "B2"), ("C", "B3")):
        desk.open_account(account, broker)
    desk.deposit("A", "CCER", "100000")
    desk.deposit("C", "CCER", "100000")
    desk.open_day("CCER")
    return desk


def issue_ccer(desk: Desk, product: str, project: str, vintage: int, quantity: int):
    return desk.send("issue.ccer", actor="registry", account="S", product=product, project=project,
                     vintage=vintage, quantity=quantity)


def refused_issue(events) -> set[str]:
    """Reasons a refused issue.ccer gave, and that it issued nothing. (How many rejections it yields, one per
    command, is the reject-reason rule's test in test_accounts.py.)"""
    assert not only(events, e.Issued)
    return {ev.reason for ev in only(events, e.CommandRejected)}


def test_P2_ccer_is_one_pooled_book_by_default():
    desk = ccer_desk()
    assert rejected(issue_ccer(desk, "CCER", "P1", 2021, 100)) is None
    assert rejected(issue_ccer(desk, "CCER", "P2", 2022, 50)) is None
    ccer = desk.engines["CCER"]
    assert ccer.wallets["S"].positions["CCER"].free == 150
    assert refused_issue(issue_ccer(desk, "CCER-P3-2022", "P3", 2022, 1)) == {"unknown_product"}
    desk.order("s1", "S", "B2", "CCER", "sell", 120, "60.00")
    assert trades(desk.order("b1", "A", "B1", "CCER", "buy", 120, "60.00")) == [("b1", "s1", 120, 6000)]


def test_P2_ccer_product_key_per_project_and_vintage_when_configured():
    desk = ccer_desk(Rules(ccer_product_key="project_vintage"))
    assert rejected(issue_ccer(desk, "CCER-P1-2021", "P1", 2021, 100)) is None
    assert rejected(issue_ccer(desk, "CCER-P2-2022", "P2", 2022, 50)) is None
    assert refused_issue(issue_ccer(desk, "CCER", "P3", 2022, 1)) == {"unknown_product"}
    ccer = desk.engines["CCER"]
    assert {"CCER-P1-2021", "CCER-P2-2022"} <= set(ccer.products)
    desk.order("s1", "S", "B2", "CCER-P1-2021", "sell", 10, "60.00")
    # a bid on the other project's book does not meet it
    assert not only(desk.order("b1", "A", "B1", "CCER-P2-2022", "buy", 10, "61.00"), e.Trade)
    assert trades(desk.order("b2", "A", "B1", "CCER-P1-2021", "buy", 10, "61.00")) == [("b2", "s1", 10, 6000)]


def test_P2_ccer_is_multi_transfer_bought_units_can_be_sold_again():
    desk = ccer_desk()
    issue_ccer(desk, "CCER", "P1", 2021, 100)
    desk.order("s1", "S", "B2", "CCER", "sell", 100, "60.00")
    desk.order("b1", "A", "B1", "CCER", "buy", 100, "60.00")
    desk.order("s2", "A", "B1", "CCER", "sell", 100, "61.00")
    assert trades(desk.order("b2", "C", "B3", "CCER", "buy", 100, "61.00")) == [("b2", "s2", 100, 6100)]
    assert desk.engines["CCER"].wallets["C"].positions["CCER"].free == 100


# --- M1(a): an aggressive limit order matches on price-time priority at the resting price ------------

def two_sellers() -> Desk:
    desk = cea_day("50.00")
    desk.open_account("T", "B3")
    desk.issue_cea("T", "CEA21", 1_000)
    return desk


def test_M1a_aggressive_buy_takes_best_price_then_oldest_at_resting_prices():
    desk = two_sellers()
    desk.order("s1", "S", "B2", "CEA21", "sell", 100, "50.10")
    desk.order("t1", "T", "B3", "CEA21", "sell", 100, "50.05")
    desk.order("s2", "S", "B2", "CEA21", "sell", 100, "50.05")
    events = desk.order("b1", "A", "B1", "CEA21", "buy", 250, "50.20")
    assert trades(events) == [("b1", "t1", 100, 5005), ("b1", "s2", 100, 5005), ("b1", "s1", 50, 5010)]
    assert desk.engines["CEA"].products["CEA21"].book.orders["s1"].remaining == 50


def test_M1a_aggressive_sell_trades_at_the_resting_bid_price():
    desk = cea_day("50.00")
    desk.order("b1", "A", "B1", "CEA21", "buy", 100, "49.90")
    desk.order("b2", "A", "B1", "CEA21", "buy", 100, "50.00")
    events = desk.order("s1", "S", "B2", "CEA21", "sell", 150, "49.50")
    assert trades(events) == [("b2", "s1", 100, 5000), ("b1", "s1", 50, 4990)]
    assert "s1" not in desk.engines["CEA"].products["CEA21"].book.orders


def test_M1a_unfilled_rest_of_an_aggressive_order_rests_at_its_limit():
    desk = cea_day("50.00")
    desk.order("s1", "S", "B2", "CEA21", "sell", 100, "50.00")
    desk.order("b1", "A", "B1", "CEA21", "buy", 300, "50.10")
    book = desk.engines["CEA"].products["CEA21"].book
    assert book.orders["b1"].remaining == 200 and book.bids.best() == 5010 and book.asks.best() is None


def test_M1a_no_trade_when_prices_do_not_cross():
    desk = cea_day("50.00")
    desk.order("s1", "S", "B2", "CEA21", "sell", 100, "50.01")
    assert not only(desk.order("b1", "A", "B1", "CEA21", "buy", 100, "50.00"), e.Trade)


# --- M1(b): a lift names one resting order within the best 5 levels and trades at its price ---------

def test_M1b_lift_trades_with_the_named_order_at_its_price_for_the_takers_quantity():
    desk = cea_day("50.00")
    desk.order("s1", "S", "B2", "CEA21", "sell", 100, "50.01")
    desk.order("s2", "S", "B2", "CEA21", "sell", 100, "50.02")
    events = lift(desk, "l1", "A", "B1", "s2", 40)
    assert trades(events) == [("l1", "s2", 40, 5002)]
    book = desk.engines["CEA"].products["CEA21"].book
    assert book.orders["s2"].remaining == 60 and book.orders["s1"].remaining == 100


def test_M1b_lift_for_more_than_the_target_takes_only_the_target():
    desk = cea_day("50.00")
    desk.order("s1", "S", "B2", "CEA21", "sell", 30, "50.01")
    desk.order("s2", "S", "B2", "CEA21", "sell", 100, "50.01")
    assert trades(lift(desk, "l1", "A", "B1", "s1", 100)) == [("l1", "s1", 30, 5001)]
    assert desk.engines["CEA"].wallets["A"].cash_held == 0


def test_M1b_at_one_price_the_taker_chooses_the_counterparty():
    desk = two_sellers()
    desk.order("s1", "S", "B2", "CEA21", "sell", 100, "50.01")
    desk.order("t1", "T", "B3", "CEA21", "sell", 100, "50.01")
    events = lift(desk, "l1", "A", "B1", "t1", 100)
    assert [(t.seller, t.sell_order) for t in only(events, e.Trade)] == [("T", "t1")]
    assert desk.engines["CEA"].products["CEA21"].book.orders["s1"].remaining == 100


def test_M1b_a_seller_lifts_a_resting_bid():
    desk = cea_day("50.00")
    desk.order("b1", "A", "B1", "CEA21", "buy", 100, "49.00")
    desk.order("b2", "A", "B1", "CEA21", "buy", 100, "49.50")
    assert trades(lift(desk, "l1", "S", "B2", "b1", 100)) == [("b1", "l1", 100, 4900)]


def six_ask_levels() -> Desk:
    desk = cea_day("50.00")
    for i in range(1, 7):
        desk.order(f"s{i}", "S", "B2", "CEA21", "sell", 10, f"50.0{i}")
    return desk


def test_M1b_lift_beyond_the_fifth_level_is_rejected():
    desk = six_ask_levels()
    assert rejected(lift(desk, "l1", "A", "B1", "s6", 10)) == "beyond_lift_depth"
    assert desk.engines["CEA"].products["CEA21"].book.orders["s6"].remaining == 10


def test_M1b_lift_at_the_fifth_level_is_allowed():
    desk = six_ask_levels()
    assert trades(lift(desk, "l1", "A", "B1", "s5", 10)) == [("l1", "s5", 10, 5005)]


def test_M1b_levels_are_price_levels_not_orders():
    desk = cea_day("50.00")
    for i in range(1, 7):                      # six orders, all at the best price: one level
        desk.order(f"s{i}", "S", "B2", "CEA21", "sell", 10, "50.01")
    desk.order("s7", "S", "B2", "CEA21", "sell", 10, "50.02")
    assert trades(lift(desk, "l1", "A", "B1", "s7", 10)) == [("l1", "s7", 10, 5002)]


def test_M1b_lift_beyond_the_fifth_bid_level_is_rejected():
    desk = cea_day("50.00")
    for i in range(1, 7):
        desk.order(f"b{i}", "A", "B1", "CEA21", "buy", 10, f"49.9{i}")   # b1 is the worst: level 6
    assert rejected(lift(desk, "l1", "S", "B2", "b1", 10)) == "beyond_lift_depth"
    assert trades(lift(desk, "l2", "S", "B2", "b2", 10)) == [("b2", "l2", 10, 4992)]


def test_M1b_lift_of_an_unknown_order_is_rejected():
    desk = cea_day("50.00")
    assert rejected(lift(desk, "l1", "A", "B1", "nope", 10)) == "unknown_order"


# --- S1: CEA listing orders 1 to 99,999 t; block offers at least 100,000 t -------------------------

def test_S1_listing_order_of_99999_is_accepted():
    desk = cea_day("50.00")
    assert rejected(desk.order("s1", "S", "B2", "CEA21", "sell", 99_999, "50.00")) is None


def test_S1_listing_order_of_one_tonne_is_accepted():
    desk = cea_day("50.00")
    assert rejected(desk.order("s1", "S", "B2", "CEA21", "sell", 1, "50.00")) is None


def test_S1_listing_order_of_100000_is_rejected():
    desk = cea_day("50.00")
    assert rejected(desk.order("s1", "S", "B2", "CEA21", "sell", 100_000, "50.00")) == "lot_size"


def test_S1_block_offer_of_100000_is_accepted():
    desk = cea_day("50.00")
    events = desk.order("k1", "S", "B2", "CEA21", "sell", 100_000, "50.00", mode="block", time="13:30")
    assert rejected(events) is None


def test_S1_block_offer_of_99999_is_rejected():
    desk = cea_day("50.00")
    events = desk.order("k1", "S", "B2", "CEA21", "sell", 99_999, "50.00", mode="block", time="13:30")
    assert rejected(events) == "lot_size"
