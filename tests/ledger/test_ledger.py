"""The settlement ledger (A4, G1, G2, C1): real engine events, from wire commands sent through `SettlingDesk`,
folded into a `Ledger`; faulty fills are real fills re-published with changes at a new origin (`forge`)."""
from __future__ import annotations

from pathlib import Path

import pytest

from support import only
from certx.ledger import Ledger
from certx.replay import Replay
from certx.wire import events as e
from certx.wire import settlements as s
from certx.wire.codec import encode

from ledger.settling import SettlingDesk, kinds, rejections, state

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "certx" / "sample" / "trade_day.jsonl"
YUAN = 100  # fen


# --- set-ups ------------------------------------------------------------------------------------------------

def cea_desk() -> SettlingDesk:
    """A CEA day: buyer A (broker B1) with 10 M yuan, seller S (broker B2) with 1 Mt of CEA21 listed at 50.00."""
    desk = SettlingDesk()
    desk.open_account("A", "B1")
    desk.open_account("S", "B2")
    desk.list_product("CEA21", "50.00")
    desk.deposit("A", "CEA", "10000000")
    desk.issue_cea("S", "CEA21", 1_000_000)
    desk.open_day("CEA")
    return desk


def cea_trade(desk: SettlingDesk, quantity: int = 1_000, price: str = "50.00") -> e.Trade:
    desk.order("s1", "S", "B2", "CEA21", "sell", quantity, price)
    [trade] = only(desk.order("b1", "A", "B1", "CEA21", "buy", quantity, price), e.Trade)
    return trade


def gec_desk(date: str = "2025-06-16", month: str = "2025-03") -> SettlingDesk:
    """Seller S (broker B2) holds serials 1..100 (project P1, produced `month`), T (B2) holds 101..200; buyer A (B1)
    has 1,000 yuan in the GEC market. The GEC session is open."""
    desk = SettlingDesk(date=date)
    for account, broker in (("S", "B2"), ("T", "B2"), ("A", "B1")):
        desk.open_account(account, broker)
    desk.deposit("A", "GEC", "1000")
    issue_gec(desk, "S", 1, 100, month=month, project="P1")
    issue_gec(desk, "T", 101, 200, month=month, project="P2")
    desk.open_day("GEC")
    return desk


def issue_gec(desk: SettlingDesk, account: str, first: int, last: int, *, month: str, project: str) -> None:
    desk.send("issue.gec", actor="registry", account=account, project=project, province="Gansu",
              technology="wind", production_month=month, subsidised=False, first_serial=first, last_serial=last)


def gec_trade(desk: SettlingDesk, **bid_extra) -> e.Trade:
    """S lists 11..60 at 2.00; A bids for 20 at 2.50: A buys serials 11..30 at 2.00."""
    desk.order("L1", "S", "B2", "GEC", "sell", 50, "2.00", first_serial=11, last_serial=60)
    [trade] = only(desk.order("b1", "A", "B1", "GEC", "buy", 20, "2.50", **bid_extra), e.Trade)
    assert trade.serials == [(11, 30)]
    return trade


def refused(desk: SettlingDesk, event: e.Event) -> str:
    """Settle a forged event: it must be refused with `settlement.rejected` as its only output, moving nothing.
    Returns the reason."""
    before = state(desk.ledger)
    out = desk.settle(event)
    assert kinds(out) == ["settlement.rejected"], out
    assert out[0].trade_id == getattr(event, "trade_id", "")
    assert state(desk.ledger) == before, "a refused fill moved something"
    assert not desk.ledger.applied
    return out[0].reason


def held(ledger: Ledger, account: str) -> list[tuple[int, int]]:
    r = ledger.gec.get(account)
    return [] if r is None else list(r)


# --- A4: delivery versus payment ------------------------------------------------------------------------------

def test_a4_a_listing_trade_moves_the_buyers_cash_and_the_sellers_units_together():
    desk = cea_desk()
    ledger = desk.ledger
    trade = cea_trade(desk, quantity=1_000, price="50.00")
    [settled] = desk.last
    assert isinstance(settled, s.Settled)
    assert (settled.trade_id, settled.buyer, settled.seller, settled.quantity, int(settled.price), int(settled.cash)) \
        == (trade.trade_id, "A", "S", 1_000, 50 * YUAN, 50_000 * YUAN)
    assert ledger.cash[("A", "CEA")] == (10_000_000 - 50_000) * YUAN
    assert ledger.cash[("S", "CEA")] == 50_000 * YUAN
    assert ledger.units[("S", "CEA21")] == 1_000_000 - 1_000
    assert ledger.units[("A", "CEA21")] == 1_000
    assert trade.trade_id in ledger.settled


def test_a4_a_block_trade_settles_the_same_way():
    desk = cea_desk()
    desk.order("o1", "S", "B2", "CEA21", "sell", 150_000, "48.00", mode="block", time="13:30")
    ev = desk.send("order.accept", order_id="a1", actor="B1", account="A", market="CEA", target="o1",
                   quantity=150_000, time="13:40")
    [trade] = only(ev, e.Trade)
    assert trade.mode == "block"
    assert kinds(desk.last) == ["settled"]
    assert desk.ledger.cash[("A", "CEA")] == 10_000_000 * YUAN - 150_000 * 48 * YUAN
    assert desk.ledger.cash[("S", "CEA")] == 150_000 * 48 * YUAN
    assert desk.ledger.units[("S", "CEA21")] == 850_000
    assert desk.ledger.units[("A", "CEA21")] == 150_000


def test_a4_a_fill_whose_buyer_lacks_the_cash_is_rejected_and_moves_nothing():
    desk = cea_desk()
    trade = cea_trade(desk)
    # A has 9.95 M yuan left; the seller holds 999,000 t: 199,999 t at 50.00 is 9,999,950 yuan
    forged = desk.forge(trade, trade_id="CEA-forged", quantity=199_999)
    assert refused(desk, forged) == "insufficient_funds"
    assert "CEA-forged" not in desk.ledger.settled


def test_a4_a_fill_whose_seller_lacks_the_units_is_rejected_and_moves_nothing():
    desk = cea_desk()
    trade = cea_trade(desk)
    # A "sells" 1,001 t to S: A holds only the 1,000 t it bought (and S, given cash, could pay)
    forged = desk.forge(trade, trade_id="CEA-forged", buyer="S", seller="A", quantity=1_001)
    desk.deposit("S", "CEA", "1000000")
    assert refused(desk, forged) == "insufficient_holdings"


def test_a4_a_gec_fill_whose_buyer_lacks_the_cash_is_rejected_and_moves_nothing():
    desk = gec_desk()
    trade = gec_trade(desk)
    # A has 960 yuan left; serials 31..40 are S's and free, but at 100.00 each they cost 1,000 yuan
    forged = desk.forge(trade, trade_id="GEC-forged", serials=[(31, 40)], quantity=10, price=100 * YUAN)
    assert refused(desk, forged) == "insufficient_funds"


def test_a4_a_duplicate_cea_trade_with_a_new_origin_is_rejected_as_duplicate_trade():
    desk = cea_desk()
    trade = cea_trade(desk)
    assert refused(desk, desk.forge(trade)) == "duplicate_trade"


def funds_event(desk: SettlingDesk, type_: type, amount: int) -> e.Event:
    [deposit] = [ev for ev in desk.events if isinstance(ev, e.FundsDeposited) and ev.account == "A"]
    return desk.forge(type_(account="A", amount=0, seq=deposit.seq, origin=deposit.origin, market="CEA"),
                      amount=amount)


@pytest.mark.parametrize("forge", [
    lambda desk: funds_event(desk, e.FundsWithdrawn, -500 * YUAN),      # a withdrawal that pays A 500 yuan
    lambda desk: funds_event(desk, e.FundsDeposited, -20_000_000 * YUAN),  # a deposit that leaves A below zero
    lambda desk: desk.forge(only(desk.events, e.Issued)[0], quantity=-1_000),  # an issuance that takes 1,000 t
    lambda desk: desk.forge(only(desk.events, e.Issued)[0], quantity=0),
], ids=["withdrawal", "deposit", "issuance", "issuance-of-nothing"])
def test_a2_a_cash_or_unit_event_with_an_amount_below_one_is_rejected_malformed_and_moves_nothing(forge):
    """Cash and units come only from deposits and issuance and go only by withdrawals, trades and surrenders:
    a negative amount would invent or destroy them (it was settled, with nothing said)."""
    desk = cea_desk()
    assert refused(desk, forge(desk)) == "malformed"
    assert desk.ledger.cash[("A", "CEA")] == 10_000_000 * YUAN and desk.ledger.units[("S", "CEA21")] == 1_000_000


# --- G1: a GEC is traded once, cancelled in the buyer's name --------------------------------------------------

def test_g1_a_gec_trade_cancels_exactly_its_serials_in_the_buyers_name_with_the_beneficiary():
    desk = gec_desk()
    ledger = desk.ledger
    trade = gec_trade(desk, beneficiary="plant-1")
    assert kinds(desk.last) == ["settled", "gec.cancelled"]
    settled, cancelled = desk.last
    assert settled.serials == [(11, 30)] and int(settled.cash) == 20 * 2 * YUAN
    assert (cancelled.serials, cancelled.owner, cancelled.beneficiary, cancelled.trade_id) \
        == ([(11, 30)], "A", "plant-1", trade.trade_id)
    assert list(ledger.cancelled) == [(11, 30)]
    assert held(ledger, "S") == [(1, 10), (31, 100)]          # the lot's unsold 31..60 is still S's
    assert held(ledger, "A") == []                             # cancelled, never held by the buyer
    assert held(ledger, "T") == [(101, 200)]
    assert ledger.cash[("A", "GEC")] == (1_000 - 40) * YUAN and ledger.cash[("S", "GEC")] == 40 * YUAN


def test_g1_without_a_beneficiary_the_buyer_is_the_beneficiary():
    desk = gec_desk()
    gec_trade(desk)
    [cancelled] = [x for x in desk.last if isinstance(x, s.GecCancelled)]
    assert (cancelled.owner, cancelled.beneficiary) == ("A", "A")


def test_g1_the_same_fill_delivered_again_with_the_same_origin_changes_nothing_and_says_nothing():
    desk = gec_desk()
    trade = gec_trade(desk)
    before, seq = state(desk.ledger), dict(desk.ledger.seq)
    assert desk.settle(trade) == []
    assert not desk.ledger.applied
    assert state(desk.ledger) == before and desk.ledger.seq == seq


def test_g1_the_same_fill_republished_with_a_new_origin_is_rejected_already_cancelled():
    desk = gec_desk()
    trade = gec_trade(desk)
    assert refused(desk, desk.forge(trade)) == "already_cancelled"


def test_g1_a_fill_naming_serials_the_seller_does_not_hold_is_rejected_not_held():
    desk = gec_desk()
    trade = gec_trade(desk)
    # 150..159 are T's, not S's
    assert refused(desk, desk.forge(trade, trade_id="GEC-forged", serials=[(150, 159)], quantity=10)) == "not_held"
    # and 500..509 were never issued at all
    assert refused(desk, desk.forge(trade, trade_id="GEC-forged", serials=[(500, 509)], quantity=10)) == "not_held"


def test_g1_a_fill_naming_serials_partly_cancelled_is_rejected_already_cancelled():
    desk = gec_desk()
    trade = gec_trade(desk)
    # 25..30 were cancelled by the trade, 31..40 are still S's
    forged = desk.forge(trade, trade_id="GEC-forged", serials=[(25, 40)], quantity=16)
    assert refused(desk, forged) == "already_cancelled"
    forged = desk.forge(trade, trade_id="GEC-forged", serials=[(31, 35), (30, 30)], quantity=6)
    assert refused(desk, forged) == "already_cancelled"


@pytest.mark.parametrize("serials,quantity", [
    ([(31, 40)], 11),                   # ten serials for a quantity of eleven
    ([(31, 40)], 9),
    ([(31, 40), (35, 44)], 20),         # the same serials twice in one fill
    ([(40, 31)], 10),                   # a range backwards
])
def test_g1_a_fill_whose_quantity_does_not_match_its_serials_is_rejected_malformed(serials, quantity):
    desk = gec_desk()
    trade = gec_trade(desk)
    forged = desk.forge(trade, trade_id="GEC-forged", serials=serials, quantity=quantity)
    assert refused(desk, forged) == "malformed"


def test_g1_a_refused_forgery_does_not_advance_the_idempotency_mark():
    desk = gec_desk()
    trade = gec_trade(desk)
    # a forgery from far ahead in the GEC partition: refused ...
    forged = desk.forge(trade)
    assert forged.origin.offset > desk.engines["GEC"].commands
    assert refused(desk, forged) == "already_cancelled"
    # ... so the genuine events behind it still settle
    [later] = only(desk.order("b2", "A", "B1", "GEC", "buy", 5, "2.00"), e.Trade)
    assert later.origin.offset < forged.origin.offset
    assert kinds(desk.last) == ["settled", "gec.cancelled"]
    assert list(desk.ledger.cancelled) == [(11, 35)]


def test_g1_settlement_events_are_stamped_with_their_position():
    desk = gec_desk()
    trade = gec_trade(desk)
    settled, cancelled = desk.last
    assert [x.seq for x in desk.settlements] == list(range(len(desk.settlements)))
    assert (settled.market, settled.origin) == ("GEC", e.Origin(2, trade.seq, 0))
    assert (cancelled.market, cancelled.origin) == ("GEC", e.Origin(2, trade.seq, 1))


@pytest.mark.parametrize("to", ["T", "S"])
def test_g1_an_issuance_republished_with_a_new_origin_is_refused_and_never_gives_a_serial_two_holders(to):
    desk = gec_desk()
    [issued] = [ev for ev in desk.events if isinstance(ev, e.Issued) and ev.account == "S"]
    # An issuance re-published under a new origin, to another account (T) or the same one (S), must not give a
    # serial a second holder nor crash the projector: it is answered by `settlement.rejected`.
    assert refused(desk, desk.forge(issued, account=to)) == "double_issuance"
    assert held(desk.ledger, "S") == [(1, 100)] and held(desk.ledger, "T") == [(101, 200)]


def test_g1_an_issuance_of_serials_already_traded_is_refused():
    desk = gec_desk()
    gec_trade(desk)
    [issued] = [ev for ev in desk.events if isinstance(ev, e.Issued) and ev.account == "S"]
    assert refused(desk, desk.forge(issued, account="A", serials=[(11, 30)], quantity=20)) == "double_issuance"
    assert held(desk.ledger, "A") == [] and list(desk.ledger.cancelled) == [(11, 30)]


@pytest.mark.parametrize("serials,quantity", [
    ([(1_000, 901)], 100),              # a range backwards
    ([(2_000, 2_999)], 1),              # a thousand serials for a quantity of one
    ([(2_000, 2_009), (3_000, 3_009)], 10),
])
def test_g1_an_issuance_whose_serials_run_backwards_or_do_not_match_its_quantity_is_rejected_malformed(serials,
                                                                                                       quantity):
    """Both were settled: the ledger's issued set kept [1000, 901], and the read model a GEC issuance of one
    certificate holding a thousand."""
    desk = gec_desk()
    [issued] = [ev for ev in desk.events if isinstance(ev, e.Issued) and ev.account == "S"]
    assert refused(desk, desk.forge(issued, serials=serials, quantity=quantity)) == "malformed"
    assert list(desk.ledger.issued) == [(1, 200)]


# --- G2: expired certificates are retired -------------------------------------------------------------------

def expiring_desk() -> tuple[SettlingDesk, list[e.CertificatesExpired]]:
    """S's serials 1..100 are produced 2023-06 (valid through 2025-12 under the legacy rule); A buys 11..30 on
    2025-12-30; the GEC session of 2026-01-05 retires the rest."""
    desk = gec_desk(date="2025-12-30", month="2023-06")
    gec_trade(desk, beneficiary="plant-1")
    desk.close_day("GEC")
    ev = desk.open_day("GEC", date="2026-01-05")
    return desk, only(ev, e.CertificatesExpired)


def test_g2_expired_certificates_are_retired_and_leave_the_holding():
    desk, expired = expiring_desk()
    assert [(x.account, x.serials) for x in expired] == [("S", [(1, 10), (31, 100)]), ("T", [(101, 200)])]
    retired = [x for x in desk.settlements if isinstance(x, s.GecRetired)]
    assert [(x.account, x.serials, x.reason) for x in retired] == \
        [("S", [(1, 10), (31, 100)], "expired"), ("T", [(101, 200)], "expired")]
    assert held(desk.ledger, "S") == [] and held(desk.ledger, "T") == []
    assert list(desk.ledger.retired) == [(1, 10), (31, 200)]
    assert list(desk.ledger.cancelled) == [(11, 30)]           # the traded ones stay cancelled, not retired
    assert not rejections(desk.settlements)


def test_g2_a_fill_naming_retired_serials_is_rejected_already_cancelled():
    desk, _ = expiring_desk()
    [trade] = only(desk.events, e.Trade)
    forged = desk.forge(trade, trade_id="GEC-forged", serials=[(31, 40)], quantity=10)
    assert refused(desk, forged) == "already_cancelled"


def test_g2_an_expiry_naming_serials_not_held_is_rejected_and_moves_nothing():
    desk, expired = expiring_desk()
    assert refused(desk, desk.forge(expired[0])) == "not_held"


def forged_expiry(desk: SettlingDesk, account: str, serials: list[tuple[int, int]]) -> e.CertificatesExpired:
    """An expiry of `serials` in `account`'s name that the engine never published, at a new origin."""
    [issued] = [ev for ev in desk.events if isinstance(ev, e.Issued) and ev.account == account]
    return desk.forge(e.CertificatesExpired(account=account, serials=[], seq=issued.seq, origin=issued.origin,
                                            market="GEC"), serials=serials)


@pytest.mark.parametrize("serials", [
    [(1, 10), (5, 15)],                 # two ranges that overlap, each held
    [(20, 30), (20, 30)],               # the same range twice
    [(50, 40)],                         # a range backwards
])
def test_g2_an_expiry_whose_ranges_overlap_or_run_backwards_is_rejected_malformed_and_moves_nothing(serials):
    """Raised ValueError out of the ledger (overlap: the projector stopped on it at every restart, half of the
    expiry applied in memory), or retired serials 40..50 twice over and left S holding 41..49 twice (backwards)."""
    desk = gec_desk()
    assert refused(desk, forged_expiry(desk, "S", serials)) == "malformed"
    assert held(desk.ledger, "S") == [(1, 100)] and list(desk.ledger.retired) == []


# --- C1: surrendered units are cancelled ----------------------------------------------------------------------

def surrender_desk() -> SettlingDesk:
    desk = SettlingDesk()
    desk.open_account("E", "B1")
    desk.issue_cea("E", "CEA21", 10_000)
    desk.send("issue.ccer", actor="registry", account="E", product="CCER", project="P1", vintage=2023,
              quantity=1_000)
    return desk


def test_c1_surrendered_units_leave_the_holdings():
    desk = surrender_desk()
    desk.send("surrender", actor="registry", account="E", compliance_year=2024, cea={"CEA21": 1_900}, ccer=100)
    done = [x for x in desk.last if isinstance(x, s.UnitsSurrendered)]
    assert kinds(desk.last) == ["units.surrendered", "units.surrendered"]
    assert sorted((x.market, x.account, x.compliance_year, x.units) for x in done) == [
        ("CCER", "E", 2024, {"CCER": 100}), ("CEA", "E", 2024, {"CEA21": 1_900})]
    assert desk.ledger.units[("E", "CEA21")] == 10_000 - 1_900
    assert desk.ledger.units[("E", "CCER")] == 1_000 - 100


def test_c1_a_surrender_of_more_than_is_held_is_rejected_and_moves_nothing():
    desk = surrender_desk()
    ev = desk.send("surrender", actor="registry", account="E", compliance_year=2024, cea={"CEA21": 9_000}, ccer=0)
    [done] = only(ev, e.Surrendered)
    # the same surrender again at a new origin: E holds only 1,000 t more
    assert refused(desk, desk.forge(done)) == "insufficient_holdings"
    assert desk.ledger.units[("E", "CEA21")] == 1_000


def test_c1_a_surrender_of_a_negative_quantity_is_rejected_malformed_and_moves_nothing():
    """{"CEA21": -5000}: E held more than -5,000 t, so it was settled, and E was given 5,000 t."""
    desk = surrender_desk()
    ev = desk.send("surrender", actor="registry", account="E", compliance_year=2024, cea={"CEA21": 100}, ccer=0)
    [done] = only(ev, e.Surrendered)
    assert refused(desk, desk.forge(done, units={"CEA21": -5_000})) == "malformed"
    assert desk.ledger.units[("E", "CEA21")] == 10_000 - 100


# --- determinism and idempotency of a whole day ----------------------------------------------------------------

def sample_events() -> list[e.Event]:
    with open(SAMPLE, "rb") as lines:
        return list(Replay().run(lines))


def settle_all(events: list[e.Event], ledger: Ledger | None = None) -> tuple[Ledger, list[s.Settlement]]:
    ledger = ledger or Ledger()
    return ledger, [x for ev in events for x in ledger.apply(ev)]


def test_the_same_events_settle_into_byte_identical_settlement_events():
    _, first = settle_all(sample_events())
    _, again = settle_all(sample_events())
    assert {"settled", "gec.cancelled", "units.surrendered"} <= set(kinds(first))
    assert [encode(x) for x in again] == [encode(x) for x in first]


def test_the_sample_day_settles_without_a_rejection_and_every_trade_once():
    events = sample_events()
    ledger, out = settle_all(events)
    assert not rejections(out)
    trade_ids = [ev.trade_id for ev in events if isinstance(ev, e.Trade)]
    assert sorted(x.trade_id for x in out if isinstance(x, s.Settled)) == sorted(trade_ids)
    assert ledger.settled == set(trade_ids)


def test_a_whole_day_delivered_twice_settles_once():
    events = sample_events()
    ledger, _ = settle_all(events)
    before, seq = state(ledger), dict(ledger.seq)
    _, again = settle_all(events, ledger)
    assert again == []
    assert state(ledger) == before and ledger.seq == seq
