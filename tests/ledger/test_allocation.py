"""A 24/7 match settles all or nothing (A4 for the whole allocation) and cancels its serials in the beneficiary's
name (G1, issue 13). Real engine events through `SettlingDesk`; faulty allocations are real ones re-published
with changes at a new origin (`forge`)."""
from __future__ import annotations

import msgspec

from support import only
from certx.wire import events as e
from certx.wire import settlements as s

from ledger.settling import SettlingDesk, kinds, state
from rules.test_hours import sun, wind


def desk() -> SettlingDesk:
    """S holds SUN (1-124, one certificate an hour) and WIND (1001-1372, two hours each) of May 2025, both with
    their curves and listed at 5.00 and 3.00; A (broker B1) has 1,000 yuan; the GEC session is open."""
    d = SettlingDesk(date="2025-06-16")
    for account, broker in (("S", "B2"), ("A", "B1")):
        d.open_account(account, broker)
    d.deposit("A", "GEC", "1000")
    for project, first, last, curve in (("SUN", 1, 124, sun()), ("WIND", 1001, 1372, wind())):
        d.send("issue.gec", actor="registry", account="S", project=project, province="Gansu", technology="wind",
               production_month="2025-05", subsidised=False, first_serial=first, last_serial=last)
        d.send("curve.attach", actor="registry", project=project, production_month="2025-05", kwh=curve)
    d.open_day("GEC")
    d.order("sun", "S", "B2", "GEC", "sell", 124, "5.00", first_serial=1, last_serial=124)
    d.order("wind", "S", "B2", "GEC", "sell", 372, "3.00", first_serial=1001, last_serial=1372)
    return d


def allocation(d: SettlingDesk) -> e.Allocated:
    loads = [500] * 4 + [0] * 6 + [1000] * 4          # May 1st: 00:00-04:00 from WIND, 10:00-14:00 from SUN
    [a] = only(d.send("gec.match", order_id="m1", actor="B1", account="A", start="2025-05-01T00:00:00+08:00",
                      loads=loads, beneficiary="DC-1"), e.Allocated)
    return a


def test_a4_g1_an_allocation_settles_every_trade_and_cancels_the_serials_in_the_beneficiarys_name():
    d = desk()
    a = allocation(d)
    assert len(a.trades) >= 2 and a.matched_kwh == 6_000
    assert kinds(d.last) == ["settled", "gec.cancelled"] * len(a.trades)
    cancelled = [x for x in d.last if isinstance(x, s.GecCancelled)]
    assert {(x.owner, x.beneficiary) for x in cancelled} == {("A", "DC-1")}
    assert sorted(r for x in cancelled for r in x.serials) == sorted(r for t in a.trades for r in t.serials)
    assert d.ledger.cash[("A", "GEC")] == 100_000 - int(a.cost)
    assert d.ledger.cash[("S", "GEC")] == int(a.cost)


def refused(d: SettlingDesk, forged: e.Allocated) -> str:
    before = state(d.ledger)
    out = d.settle(forged)
    assert kinds(out) == ["settlement.rejected"] and out[0].trade_id == forged.allocation_id
    assert state(d.ledger) == before, "a refused allocation moved something"
    return out[0].reason


def test_a4_one_bad_trade_refuses_the_whole_allocation():
    d = desk()
    a = allocation(d)
    again = d.forge(a, allocation_id="m1-again")
    assert refused(d, again) == "already_cancelled"           # every serial is cancelled already
    fresh = d.forge(a, allocation_id="m2", trades=[
        msgspec.structs.replace(a.trades[0], trade_id="GEC-x1", serials=[(50, 50)], quantity=1),  # fine alone
        msgspec.structs.replace(a.trades[1], trade_id="GEC-x2", serials=[(5000, 5000)], quantity=1),  # not issued
    ])
    assert refused(d, fresh) == "not_held"
    assert 50 not in {x for f, l in d.ledger.cancelled for x in range(f, l + 1)}


def test_a4_an_allocation_the_buyer_cannot_pay_for_in_full_moves_nothing():
    d = desk()
    a = allocation(d)
    # each trade alone is within A's cash (under 1,000 yuan), all of them together are not
    dear = d.forge(a, allocation_id="m3", trades=[
        msgspec.structs.replace(t, trade_id=f"GEC-y{i}", serials=[(60 + i, 60 + i)], quantity=1, price=60_000)
        for i, t in enumerate(a.trades)])
    assert refused(d, dear) == "insufficient_funds"


def test_g1_a_serial_twice_in_one_allocation_is_refused():
    d = desk()
    a = allocation(d)
    twice = d.forge(a, allocation_id="m4", trades=[
        msgspec.structs.replace(a.trades[0], trade_id="GEC-z1", serials=[(70, 70)], quantity=1),
        msgspec.structs.replace(a.trades[0], trade_id="GEC-z2", serials=[(70, 70)], quantity=1)])
    assert refused(d, twice) == "malformed"


def test_a4_g1_a_forged_price_market_or_product_moves_nothing():
    # Red team: the ledger took a negative price (the seller paid the buyer, the seller's cash went below zero,
    # the serials were cancelled), settled GEC serials with CEA cash when the allocation named CEA's market, and
    # took a trade of product CEA21 or of no certificate at all. Settlement refuses forgeries and moves nothing.
    d = desk()
    a = allocation(d)
    d.deposit("A", "CEA", "1000")
    one = msgspec.structs.replace(a.trades[0], serials=[(50, 50)], quantity=1)
    forgeries = {
        "negative price": d.forge(a, allocation_id="n1", trades=[
            msgspec.structs.replace(one, trade_id="GEC-n1", price=-10_000_000)]),
        "CEA's market": d.forge(a, allocation_id="n2", market="CEA", trades=[
            msgspec.structs.replace(one, trade_id="GEC-n2")]),
        "product": d.forge(a, allocation_id="n3", trades=[
            msgspec.structs.replace(one, trade_id="GEC-n3", product="CEA21")]),
        "no certificate": d.forge(a, allocation_id="n4", trades=[
            msgspec.structs.replace(one, trade_id="GEC-n4", serials=[], quantity=0)]),
    }
    for what, forged in forgeries.items():
        assert refused(d, forged) == "malformed", what
    # the same checks hold for a lone GEC trade
    lone = msgspec.structs.replace(one, trade_id="GEC-n5", price=-10_000_000, market="GEC", seq=a.seq + 10_000,
                                   origin=e.Origin(a.origin.partition, a.origin.offset + 10_000, 0))
    before = state(d.ledger)
    assert kinds(d.settle(lone)) == ["settlement.rejected"] and state(d.ledger) == before
    cea = msgspec.structs.replace(lone, trade_id="GEC-n6", price=300, market="CEA",
                                  origin=e.Origin(0, 10**6, 0))
    assert kinds(d.settle(cea)) == ["settlement.rejected"] and state(d.ledger) == before
