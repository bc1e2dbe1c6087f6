"""Hourly GECs as an overlay (issue 13, items 1 and 2): the registry attaches a project-month's hourly curve, and
bids filter on hours, with G4's filters, M4's priorities and G1's cancellation unchanged. Each test sends real wire
commands through `Desk`.

The projects of these tests, May 2025 (31 days, 744 hours, China time):
- SUN, solar: 1,000 kWh in each hour 10:00-14:00 of every day, so 4 certificates a day, each inside one hour;
  124 certificates, serials 1-124 (certificate k: day k // 4, hour 10 + k % 4).
- WIND: 500 kWh every hour, so each certificate spans two hours (00-02, 02-04, ... of each day); 372
  certificates, serials 1001-1372.
"""
from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from support import engine_state, only, rejected
from certx.engine import snapshot
from certx.hours.clock import month_hours
from certx.hours.mask import HourFilter
from certx.registry.issuance import month_index
from certx.wire import events as e
from certx.wire.commands import GecFilter
from certx.wire.codec import encode
from rules.test_gec import bid, cash, fills, gec_desk, held, issue, lift, lot, trades

CHINA = dt.timezone(dt.timedelta(hours=8))
MAY = month_index("2025-05")


def sun(hours: int = month_hours(MAY), extra: int = 0) -> list[int]:
    kwh = [1_000 if 10 <= h % 24 < 14 else 0 for h in range(hours)]
    kwh[-11] += extra                                  # 13:00 on the month's last day
    return kwh


def wind(hours: int = month_hours(MAY)) -> list[int]:
    return [500] * hours


def attach(desk, project: str, month: str, kwh: list[int], **extra) -> list[e.Event]:
    return desk.send("curve.attach", actor=extra.pop("actor", "registry"), project=project, production_month=month,
                     kwh=kwh, **extra)


def hours_desk():
    """SUN's and WIND's May issued to seller S (and attached), the GEC session open on 2025-06-16."""
    desk = gec_desk()
    issue(desk, "S", 1, 124, project="SUN", technology="solar", month="2025-05")
    issue(desk, "S", 1001, 1372, project="WIND", technology="wind", month="2025-05")
    assert only(attach(desk, "SUN", "2025-05", sun()), e.CurveAttached)
    assert only(attach(desk, "WIND", "2025-05", wind()), e.CurveAttached)
    desk.open_day("GEC")
    return desk


def of_day(day: int, hours: range) -> list[int]:
    """SUN's serials produced on a day of May (1-31) in the given hours of the day."""
    return [4 * (day - 1) + h - 10 + 1 for h in hours if 10 <= h < 14]


def ranges(serials: list[int]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s in serials:
        if out and out[-1][1] == s - 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return [tuple(r) for r in out]


# --- item 1: the registry attaches a curve ------------------------------------------------------------------

def test_a_curve_is_attached_by_the_registry_and_gives_each_certificate_its_hours():
    desk = gec_desk()
    issue(desk, "S", 1, 124, project="SUN", technology="solar", month="2025-05")
    [ev] = attach(desk, "SUN", "2025-05", sun(extra=400))
    assert isinstance(ev, e.CurveAttached) and ev.market == "GEC"
    assert (ev.project, ev.production_month, ev.serials, ev.carry_in, ev.carry_out) == \
        ("SUN", "2025-05", [(1, 124)], 0, 400)
    curve = desk.engines["GEC"].curves.curve_of("SUN", MAY)
    may_1st = dt.datetime(2025, 5, 1, tzinfo=CHINA)
    hour = int(may_1st.timestamp()) // 3600
    assert curve.hours(1, 1) == [(hour + 10, 1_000)]             # 2025-05-01 10:00 China time
    assert curve.hours(5, 6) == [(hour + 34, 1_000), (hour + 35, 1_000)]    # the 2nd, 10:00 and 11:00
    assert desk.engines["CCER"].curves.curve_of("SUN", MAY) is None       # the overlay is the GEC market's


def test_a_months_remainder_is_carried_to_the_next_month_and_its_first_certificate_holds_both_months_hours():
    """400 kWh left at the end of May (13:00 on the 31st) come first in June: June's first certificate is those
    400 kWh and 600 of June's first producing hour."""
    desk = gec_desk()
    issue(desk, "S", 1, 124, project="SUN", technology="solar", month="2025-05")
    issue(desk, "S", 201, 320, project="SUN", technology="solar", month="2025-06")
    attach(desk, "SUN", "2025-05", sun(extra=400))
    june = sun(month_hours(MAY + 1))                      # 120 certificates' worth: 120,000 kWh
    june[-11] -= 400                                      # so with the carry it is 120 certificates, none left
    [ev] = attach(desk, "SUN", "2025-06", june)
    assert (ev.carry_in, ev.carry_out) == (400, 0)
    curves = desk.engines["GEC"].curves
    may_31st_13 = curves.curve_of("SUN", MAY).start + 30 * 24 + 13
    june_1st_10 = curves.curve_of("SUN", MAY + 1).start + 10
    assert curves.hours_of("SUN", MAY + 1, 201, 201) == [(may_31st_13, 400), (june_1st_10, 600)]


def test_a_curve_that_does_not_add_up_with_the_issued_certificates_is_refused_curve_mismatch():
    desk = gec_desk()
    issue(desk, "S", 1, 124, project="SUN", technology="solar", month="2025-05")
    before = engine_state(desk.engines["GEC"])
    short = sun()
    short[10] -= 1                                        # 123,999 kWh for 124 certificates
    assert rejected(attach(desk, "SUN", "2025-05", short)) == "curve_mismatch"
    assert rejected(attach(desk, "SUN", "2025-05", sun(extra=1_000))) == "curve_mismatch"   # a whole GEC left over
    assert rejected(attach(desk, "SUN", "2025-04", sun(month_hours(MAY - 1)))) == "curve_mismatch"  # none issued
    assert rejected(attach(desk, "MOON", "2025-05", sun())) == "curve_mismatch"
    assert engine_state(desk.engines["GEC"]) == before


def test_a_curve_of_the_wrong_length_or_with_a_negative_hour_is_malformed_and_changes_nothing():
    desk = gec_desk()
    issue(desk, "S", 1, 124, project="SUN", technology="solar", month="2025-05")
    before = engine_state(desk.engines["GEC"])
    assert rejected(attach(desk, "SUN", "2025-05", sun(720))) == "malformed"         # June's length, for May
    negative = sun()
    negative[0] = -1
    line = msgspec.json.encode({"type": "curve.attach", "id": "neg", "actor": "registry", "at": desk.at(),
                                "project": "SUN", "production_month": "2025-05", "kwh": negative})
    assert rejected(desk.raw(line)) == "malformed"
    assert rejected(desk.raw(line.replace(b'"kwh":[', b'"kwh":[1.5,'))) == "malformed"
    assert engine_state(desk.engines["GEC"]) == before


def test_a1_only_the_registry_attaches_a_curve():
    desk = gec_desk()
    issue(desk, "S", 1, 124, project="SUN", technology="solar", month="2025-05")
    assert rejected(attach(desk, "SUN", "2025-05", sun(), actor="B2")) == "not_authorised"
    assert desk.engines["GEC"].curves.curve_of("SUN", MAY) is None


def test_one_curve_a_project_month_in_production_order():
    desk = gec_desk()
    issue(desk, "S", 1, 124, project="SUN", technology="solar", month="2025-05")
    issue(desk, "S", 201, 320, project="SUN", technology="solar", month="2025-06")
    issue(desk, "S", 401, 524, project="SUN", technology="solar", month="2025-07")
    attach(desk, "SUN", "2025-06", sun(month_hours(MAY + 1)))
    before = engine_state(desk.engines["GEC"])
    assert rejected(attach(desk, "SUN", "2025-06", sun(month_hours(MAY + 1)))) == "curve_exists"
    assert rejected(attach(desk, "SUN", "2025-05", sun())) == "curve_out_of_order"
    assert engine_state(desk.engines["GEC"]) == before
    assert only(attach(desk, "SUN", "2025-07", sun()), e.CurveAttached)[0].carry_in == 0
    assert rejected(attach(desk, "SUN", "2025-07", sun(), id="c-again")) == "curve_exists"


def test_M4_a_curve_is_attached_before_its_certificates_rest_in_a_lot_so_no_resting_bid_is_left_crossing():
    """A curve makes certificates match bids with hours: attached under a resting lot, a resting bid with hours
    would cross the lot with nothing to make them trade. So it waits until the lot is gone (at the close, D2)."""
    desk = gec_desk()
    issue(desk, "S", 1, 124, project="SUN", technology="solar", month="2025-05")
    desk.open_day("GEC")
    bid(desk, "b1", "A", 2, "3.00", filter={"hours": [[10, 12]], "strict": True})
    lot(desk, "L1", "S", 1, 10, "2.00")                                 # no curve yet: no trade
    before = engine_state(desk.engines["GEC"])
    assert rejected(attach(desk, "SUN", "2025-05", sun())) == "certificates_listed"
    assert engine_state(desk.engines["GEC"]) == before
    desk.order("L2", "S", "B2", "GEC", "sell", 10, "2.00", first_serial=11, last_serial=20,
               counterparty="C")                                        # an addressed lot is no bid's (M5)
    desk.send("order.cancel", order_id="L1", actor="B2", account="S", market="GEC")
    assert only(attach(desk, "SUN", "2025-05", sun()), e.CurveAttached)
    assert fills(lot(desk, "L3", "S", 1, 10, "2.00")) == [("L3", "b1", 300, [(1, 2)])]


def test_M4_a_curve_attach_asks_whether_its_batches_are_listed_without_reading_the_lots_of_their_bucket(
        monkeypatch):
    """Red team: whether any of the month's certificates rest in a public lot was found by reading every lot of
    the batch's bucket (province, technology, subsidy, month), 4.4 ms an attach under 20,000 distributed-PV lots
    of one province's month, so a registry's month of curves held the GEC market for minutes. The book counts
    the public lots of each batch as they rest and leave (sold out, cancelled, a pool's share sold out), and its
    check compares the count with the lots."""
    from certx.books.gec import Lot
    desk = gec_desk()
    for p in range(30):
        issue(desk, "S", 1 + 10 * p, 10 + 10 * p, project=f"PV{p}", technology="solar", month="2025-05")
    desk.open_day("GEC")
    for p in range(29):
        lot(desk, f"L{p}", "S", 1 + 10 * p, 10 + 10 * p, "2.00")
    reads = []
    batches = Lot.batches
    monkeypatch.setattr(Lot, "batches", lambda self: reads.append(self) or batches(self))
    assert only(attach(desk, "PV29", "2025-05", [0] * 10 + [10_000] + [0] * 733), e.CurveAttached)
    assert reads == []
    assert rejected(attach(desk, "PV3", "2025-05", [0] * 10 + [10_000] + [0] * 733)) == "certificates_listed"
    lift(desk, "x", "A", "L3", 10)                                     # sold out: no longer listed
    assert only(attach(desk, "PV3", "2025-05", [0] * 10 + [10_000] + [0] * 733), e.CurveAttached)
    desk.engines["GEC"].lots.check()


def test_M5_a_curve_attached_under_an_addressed_lot_leaves_it_to_its_counterparty_and_the_book_checking_itself():
    """An addressed lot is no bid's (M5), so a curve may attach under it; it rests without the bounds that bids
    with hours read (only public lots have them), and its counterparty still lifts it."""
    desk = gec_desk()
    issue(desk, "S", 1, 124, project="SUN", technology="solar", month="2025-05")
    desk.open_day("GEC")
    desk.order("L", "S", "B2", "GEC", "sell", 10, "2.00", first_serial=1, last_serial=10, counterparty="C")
    assert only(attach(desk, "SUN", "2025-05", sun()), e.CurveAttached)
    desk.engines["GEC"].lots.check()
    assert not trades(bid(desk, "b1", "A", 2, "3.00", filter={"hours": [[10, 12]], "strict": True}))
    assert fills(lift(desk, "x", "C", "L", 10)) == [("L", "x", 200, [(1, 10)])]


def test_G4_bids_with_hours_pass_by_the_lots_their_bounds_rule_out_and_take_the_same_as_before():
    """SUN's certificates are each inside one hour of 10:00-14:00, WIND's span two hours of any: a bid for the night
    rules SUN's lots out unread and takes WIND's 00:00-02:00 certificates, though SUN's lot is cheaper; one for
    10:00-11:00 strict rules WIND's out (half of each certificate at most) and takes SUN's."""
    desk = hours_desk()
    lot(desk, "L1", "S", 1, 124, "2.00")
    lot(desk, "L2", "S", 1001, 1372, "3.00")
    book = desk.engines["GEC"].lots
    night = bid(desk, "b1", "A", 2, "3.00", filter={"hours": [[0, 2]], "strict": True})
    assert fills(night) == [("L2", "b1", 300, [(1001, 1001), (1013, 1013)])]
    assert fills(bid(desk, "b2", "A", 2, "3.00", filter={"hours": [[10, 11]], "strict": True})) == \
        [("L1", "b2", 200, [(1, 1), (5, 5)])]
    at_night = HourFilter.of(GecFilter(hours=[[0, 2]], strict=True))
    ten = HourFilter.of(GecFilter(hours=[[10, 11]], strict=True))
    l1, l2 = book.orders["L1"], book.orders["L2"]
    assert (at_night.may_meet(l1.bounds), at_night.may_meet(l2.bounds)) == (False, True)
    assert (ten.may_meet(l1.bounds), ten.may_meet(l2.bounds)) == (True, False)
    book.check()


def test_a_restored_engine_rests_its_lots_with_their_curves_bounds():
    """A snapshot holds no bounds (they follow from the curves): the curves come back before the lots, which rest
    with theirs, and a bid with hours takes what it takes from the engine that was saved."""
    desk = hours_desk()
    lot(desk, "L1", "S", 1, 124, "2.00")
    engine = desk.engines["GEC"]
    restored, _ = snapshot.load(snapshot.dump(engine, 1))
    restored.lots.check()
    assert restored.lots.orders["L1"].bounds == engine.lots.orders["L1"].bounds is not None
    twin = gec_desk()
    twin.replay.engines["GEC"] = restored
    twin._ids = desk._ids
    terms = {"hours": [[12, 13]], "strict": True}
    assert [encode(x) for x in bid(desk, "b", "A", 3, "2.00", filter=terms)] == \
        [encode(x) for x in bid(twin, "b", "A", 3, "2.00", filter=terms)]


def test_a_resent_curve_is_refused_duplicate_command():
    desk = gec_desk()
    issue(desk, "S", 1, 124, project="SUN", technology="solar", month="2025-05")
    attach(desk, "SUN", "2025-05", sun(), id="curve-1")
    assert rejected(attach(desk, "SUN", "2025-05", sun(), id="curve-1")) == "duplicate_command"


# --- item 2: hour filters on bids (G4, M4) ------------------------------------------------------------------

def test_G4_an_hour_mask_takes_only_certificates_produced_inside_it_from_the_middle_of_a_lot():
    """A bid for 10:00-12:00 China time, strict, takes the first two of each day's four SUN certificates: runs
    from the middle of the lot; the rest of the lot keeps resting, and no certificate is lost or made (M4, G1)."""
    desk = hours_desk()
    lot(desk, "L1", "S", 1, 124, "2.00")
    ev = bid(desk, "b1", "A", 6, "2.00", filter={"hours": [[10, 12]], "strict": True})
    assert fills(ev) == [("L1", "b1", 200, [(1, 2), (5, 6), (9, 10)])]
    [t] = trades(ev)
    assert t.quantity == 6 and t.project == "SUN"
    rest = desk.engines["GEC"].lots.orders["L1"]
    assert list(rest.serials) == [(3, 4), (7, 8), (11, 124)] and rest.remaining == 118
    assert list(desk.engines["GEC"].cancelled) == [(1, 2), (5, 6), (9, 10)]
    assert cash(desk, "A") == (100_000_00 - 6 * 200, 0)
    desk.engines["GEC"].lots.check()


def test_G4_an_absolute_window_takes_the_certificates_of_its_hours_only():
    desk = hours_desk()
    lot(desk, "L1", "S", 1, 124, "2.00")
    window = {"hours_from": "2025-05-03T11:00:00+08:00", "hours_to": "2025-05-04T11:00:00+08:00", "strict": True}
    ev = bid(desk, "b1", "A", 100, "2.00", filter=window)
    assert fills(ev) == [("L1", "b1", 200, ranges(of_day(3, range(11, 14)) + of_day(4, range(10, 11))))]


def test_G4_a_window_in_utc_names_the_same_hours():
    desk = hours_desk()
    lot(desk, "L1", "S", 1, 124, "2.00")
    window = {"hours_from": "2025-05-03T03:00:00Z", "hours_to": "2025-05-03T04:00:00+00:00", "min_share": 100}
    assert fills(bid(desk, "b1", "A", 100, "2.00", filter=window)) == [("L1", "b1", 200, [(10, 10)])]


def test_G4_min_share_takes_certificates_mostly_inside_and_strict_those_wholly_inside():
    """WIND's certificates span two hours each: 00-02, 02-04, ... The mask 00-05 holds three of them wholly
    (00-02, 02-04) and half of 04-06: strict takes two a day, min_share 50 three, min_share 51 two."""
    for asked, per_day in (({"strict": True}, 2), ({"min_share": 50}, 3), ({"min_share": 51}, 2),
                           ({"min_share": 1}, 3)):
        desk = hours_desk()
        lot(desk, "W", "S", 1001, 1372, "2.00")
        ev = bid(desk, "b1", "A", 2 * per_day, "2.00", filter={"hours": [[0, 5]], **asked})
        day = [1001 + k for k in range(per_day)]
        assert fills(ev) == [("W", "b1", 200, ranges(day + [s + 12 for s in day]))], asked


def test_G4_hour_filters_combine_with_the_filters_of_today():
    """Province, technology, subsidy and production month still apply: a bid for wind in the sun's hours takes
    WIND's certificates of those hours, not SUN's, however cheap."""
    desk = hours_desk()
    lot(desk, "L1", "S", 1, 124, "1.00")
    lot(desk, "W", "S", 1001, 1372, "2.00")
    ev = bid(desk, "b1", "A", 2, "2.00", filter={"technologies": ["wind"], "hours": [[10, 14]], "strict": True})
    assert fills(ev) == [("W", "b1", 200, [(1006, 1007)])]        # 10-12 and 12-14 of May 1st
    ev = bid(desk, "b2", "A", 1, "2.00", filter={"provinces": ["Qinghai"], "hours": [[10, 14]], "strict": True})
    assert trades(ev) == []


def test_M4_a_hour_filtered_bid_still_takes_the_cheapest_lot_it_accepts_first():
    desk = hours_desk()
    lot(desk, "L1", "S", 1, 4, "1.00")                   # May 1st, 10:00-14:00: two of them after noon
    lot(desk, "L2", "S", 5, 124, "1.50")
    ev = bid(desk, "b1", "A", 3, "2.00", filter={"hours": [[12, 14]], "strict": True})
    assert fills(ev) == [("L1", "b1", 100, [(3, 4)]), ("L2", "b1", 150, [(7, 7)])]


def test_G4_a_certificate_without_a_curve_never_matches_an_hour_filtered_bid():
    desk = hours_desk()
    issue(desk, "T", 2001, 2100, project="DARK", technology="solar", month="2025-05")   # no curve
    issue(desk, "T", 125, 130, project="SUN", technology="solar", month="2025-05")      # after SUN's curve
    lot(desk, "D", "T", 2001, 2100, "1.00")
    lot(desk, "LATE", "T", 125, 130, "1.00")
    every_hour = {"hours": [[0, 24]], "min_share": 1}
    assert trades(bid(desk, "b1", "A", 10, "2.00", filter=every_hour)) == []
    assert trades(bid(desk, "b2", "A", 10, "2.00")) != []                             # without hours, they trade


def test_M4_a_new_lot_fills_resting_hour_filtered_bids_from_its_middle_and_rests_with_the_rest():
    desk = hours_desk()
    bid(desk, "b1", "A", 2, "3.00", filter={"hours": [[13, 14]], "strict": True})
    bid(desk, "b2", "C", 3, "2.50")                                                     # no hours: lowest first
    ev = lot(desk, "L1", "S", 1, 124, "2.00")
    assert fills(ev) == [("L1", "b1", 300, [(4, 4), (8, 8)]), ("L1", "b2", 250, [(1, 3)])]
    rest = desk.engines["GEC"].lots.orders["L1"]
    assert list(rest.serials) == [(5, 7), (9, 124)] and rest.remaining == 119
    assert "b1" not in desk.engines["GEC"].lots.orders and "b2" not in desk.engines["GEC"].lots.orders


def test_M4_a_lift_of_a_lot_with_holes_takes_its_lowest_serials_and_a_cancel_returns_every_range():
    desk = hours_desk()
    lot(desk, "L1", "S", 1, 12, "2.00")
    bid(desk, "b1", "A", 3, "2.00", filter={"hours": [[11, 12]], "strict": True})     # takes 2, 6 and 10
    assert fills(lift(desk, "x1", "C", "L1", 2)) == [("L1", "x1", 200, [(1, 1), (3, 3)])]
    ev = desk.send("order.cancel", order_id="L1", actor="B2", account="S", market="GEC")
    assert only(ev, e.OrderCancelled)[0].remaining == 7
    assert held(desk, "S") == [(4, 5), (7, 9), (11, 124), (1001, 1372)]


def test_G1_the_serials_a_bid_takes_from_the_middle_are_cancelled_in_the_buyers_name_exactly():
    from ledger.settling import SettlingDesk
    from certx.wire import settlements as s

    desk = SettlingDesk(date="2025-06-16")
    for account, broker in (("S", "B2"), ("A", "B1")):
        desk.open_account(account, broker)
    desk.deposit("A", "GEC", "1000")
    issue(desk, "S", 1, 124, project="SUN", technology="solar", month="2025-05")
    attach(desk, "SUN", "2025-05", sun())
    desk.open_day("GEC")
    lot(desk, "L1", "S", 1, 124, "2.00")
    bid(desk, "b1", "A", 4, "2.00", filter={"hours": [[12, 13]], "strict": True}, beneficiary="A data centre")
    [cancelled] = [x for x in desk.last if isinstance(x, s.GecCancelled)]
    assert [tuple(r) for r in cancelled.serials] == [(3, 3), (7, 7), (11, 11), (15, 15)]
    assert (cancelled.owner, cancelled.beneficiary) == ("A", "A data centre")
    assert list(desk.ledger.cancelled) == [(3, 3), (7, 7), (11, 11), (15, 15)]
    assert list(desk.ledger.gec["S"]) == [(1, 2), (4, 6), (8, 10), (12, 14), (16, 124)]


@pytest.mark.parametrize("bad", [
    {"hours": [[6, 6]], "strict": True},                        # empty
    {"hours": [[7, 6]], "strict": True},                        # backwards
    {"hours": [[0, 25]], "strict": True},                       # past midnight
    {"hours": [[-1, 6]], "strict": True},
    {"hours": [[0, 6], [5, 8]], "strict": True},                # overlapping
    {"hours": [[18, 24], [0, 6]], "strict": True},              # out of order
    {"hours": [[0, 6, 8]], "strict": True},
    {"hours": [], "strict": True},
    {"hours": [[0, 6]]},                                        # neither min_share nor strict
    {"hours": [[0, 6]], "strict": False},
    {"hours": [[0, 6]], "strict": True, "min_share": 50},       # both
    {"hours": [[0, 6]], "min_share": 0},
    {"hours": [[0, 6]], "min_share": 101},
    {"min_share": 50},                                          # a share of no hours
    {"strict": True},
    {"hours_from": "2025-05-03T11:30:00+08:00", "strict": True},            # not on the hour
    {"hours_to": "2025-05-03T11:00:00+05:30", "strict": True},              # 05:30 UTC
    {"hours_from": "2025-05-03T11:00:00", "strict": True},                  # no offset
    {"hours_from": "2025-05-03T11:00:00+08:00", "hours_to": "2025-05-03T11:00:00+08:00", "strict": True},
    {"hours_from": "2025-05-04T11:00:00+08:00", "hours_to": "2025-05-03T11:00:00+08:00", "strict": True},
], ids=str)
def test_G4_a_bad_hour_filter_is_malformed_and_changes_nothing(bad):
    desk = hours_desk()
    before = engine_state(desk.engines["GEC"])
    line = msgspec.json.encode({"type": "order.new", "order_id": "bad", "actor": "B1", "account": "A", "at": desk.at(),
                                "product": "GEC", "side": "buy", "quantity": 1, "price": "2.00", "filter": bad})
    [ev] = desk.raw(line)
    assert isinstance(ev, e.OrderRejected) and ev.reason == "malformed", ev
    assert engine_state(desk.engines["GEC"]) == before


def test_G4_the_hours_of_a_24_7_matchs_filter_are_checked_as_a_bids_are():
    desk = hours_desk()
    line = msgspec.json.encode({"type": "gec.match", "order_id": "m1", "actor": "B1", "account": "A", "market": "GEC",
                                "at": desk.at(), "start": "2025-05-01T00:00:00+08:00", "loads": [1_000] * 24,
                                "filter": {"hours": [[6, 3]], "strict": True}})
    [ev] = desk.raw(line)
    assert ev.reason == "malformed" and "hours [6, 3]" in ev.detail
