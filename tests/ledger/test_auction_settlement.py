"""Settling auction trades (M3 with A4): each fill of a one-way bidding auction is a `trade` of mode "auction" that
the ledger settles delivery versus payment like a listing trade: the buyer's cash and the seller's units move
together, at the bid's own price, once."""
from __future__ import annotations

from support import only
from certx.wire import events as e
from certx.wire import settlements as s

from ledger.settling import SettlingDesk, kinds, state

YUAN = 100  # fen


def auction_desk() -> SettlingDesk:
    """A CEA day: buyers A (B1) and C (B3) with 1 M yuan each, seller S (B2) with 100,000 t of CEA21 at 50.00;
    S auctions 10,000 t, reserve 45.00, closing at 10:30; three bids."""
    desk = SettlingDesk()
    for account, broker in (("A", "B1"), ("S", "B2"), ("C", "B3")):
        desk.open_account(account, broker)
    desk.list_product("CEA21", "50.00")
    desk.deposit("A", "CEA", "1000000")
    desk.deposit("C", "CEA", "1000000")
    desk.issue_cea("S", "CEA21", 100_000)
    desk.open_day("CEA")
    desk.send("auction.open", actor="B2", auction_id="X1", product="CEA21", seller="S", quantity=10_000,
              reserve_price="45.00", closes_at=desk.at("10:30"))
    for order_id, account, broker, quantity, price in (("b1", "A", "B1", 6_000, "46.00"),
                                                       ("b2", "C", "B3", 6_000, "48.00"),
                                                       ("b3", "A", "B1", 2_000, "47.00")):
        desk.send("auction.bid", order_id=order_id, actor=broker, account=account, market="CEA", auction_id="X1",
                  quantity=quantity, price=price, time="10:10")
    return desk


def close(desk: SettlingDesk) -> list[e.Trade]:
    events = desk.send("funds.deposit", actor="bank", account="S", market="CEA", amount="1", time="10:30")
    return only(events, e.Trade)


def test_M3_A4_auction_trades_settle_at_each_bids_own_price():
    desk = auction_desk()
    trades = close(desk)
    assert [(t.mode, t.buyer, t.quantity, int(t.price)) for t in trades] == [
        ("auction", "C", 6_000, 4800), ("auction", "A", 2_000, 4700), ("auction", "A", 2_000, 4600)]
    settled = [x for x in desk.last if isinstance(x, s.Settled)]
    assert kinds(desk.last) == ["settled"] * 3
    assert [(x.trade_id, x.mode, x.buyer, x.seller, x.quantity, int(x.cash)) for x in settled] == [
        (t.trade_id, "auction", t.buyer, "S", t.quantity, int(t.price) * t.quantity) for t in trades]
    ledger = desk.ledger
    assert ledger.cash["A", "CEA"] == 1_000_000 * YUAN - 2_000 * 4700 - 2_000 * 4600
    assert ledger.cash["C", "CEA"] == 1_000_000 * YUAN - 6_000 * 4800
    assert ledger.cash["S", "CEA"] == 6_000 * 4800 + 2_000 * 4700 + 2_000 * 4600 + 1 * YUAN
    assert (ledger.units["A", "CEA21"], ledger.units["C", "CEA21"], ledger.units["S", "CEA21"]) == \
        (4_000, 6_000, 90_000)


def test_M3_A4_the_ledger_agrees_with_the_engine_after_an_auction():
    desk = auction_desk()
    close(desk)
    desk.close_day()
    cea = desk.engines["CEA"]
    for account, wallet in cea.wallets.items():
        assert desk.ledger.cash.get((account, "CEA"), 0) == wallet.cash + wallet.cash_held
        for product, pos in wallet.positions.items():
            assert desk.ledger.units.get((account, product), 0) == pos.total()


def test_M3_A4_an_auction_fill_delivered_twice_settles_once():
    desk = auction_desk()
    trade = close(desk)[0]
    before = state(desk.ledger)
    assert desk.settle(trade) == []                              # the same origin again: a duplicate delivery
    assert state(desk.ledger) == before
    out = desk.settle(desk.forge(trade))                        # the same fill at a new origin
    assert kinds(out) == ["settlement.rejected"] and out[0].reason == "duplicate_trade"
    assert state(desk.ledger) == before
