"""GEC days built by certx.days: the volume DOMAIN gives ("Real activity") at the chosen scale, every certificate
traded at most once (G1), every trade taken from a bid respecting the bid's filter (G4, read here from the command
file, not with the engine's rule), lots never exceeded (S2), serial ranges only (DESIGN 6)."""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from certx.days import gec
from certx.registry.issuance import month_index
from certx.wire import events as e

from days.figures import Built, built

SCALE = 0.002


@pytest.fixture(scope="module")
def month_end() -> Built:
    """The end of one month and the start of the next, 2025: two monthly issuances."""
    return built("2025-06-26", "2025-07-03", markets=("GEC",), gec_scale=SCALE)


def trading_days(first: str, last: str) -> list[dt.date]:
    from certx.days.official import trading_days as days

    return days(dt.date.fromisoformat(first), dt.date.fromisoformat(last))


def test_the_volume_is_domain_s_at_the_chosen_scale(month_end):
    days = month_end.days("GEC")
    assert [d.date for d in days] == trading_days("2025-06-26", "2025-07-03")
    assert all(d.listing_volume == round(2_800_000 * SCALE) for d in days)      # 2.8 M a day in 2025
    b = built("2024-06-03", markets=("GEC",), gec_scale=SCALE)
    [day] = b.days("GEC")
    assert day.listing_volume == round(446_000_000 // len(trading_days("2024-01-01", "2024-12-31")) * SCALE)


def test_G1_no_certificate_is_traded_twice(month_end):
    ranges = sorted((a, b) for ev in month_end.events if isinstance(ev, e.Trade) for a, b in ev.serials)
    assert ranges and all(b0 < a1 for (_, b0), (a1, _) in zip(ranges, ranges[1:]))
    traded = sum(b - a + 1 for a, b in ranges)
    assert traded == sum(d.listing_volume for d in month_end.days("GEC"))


def accepts(flt: dict, trade: e.Trade, date: dt.date) -> bool:
    """G4, written out from DOMAIN: the province included (or not excluded), the technology, the subsidy, the
    production month within the window and at most `max_age_months` old."""
    month = month_index(trade.production_month)
    return all((
        "provinces" not in flt or trade.province in flt["provinces"],
        trade.province not in flt.get("exclude_provinces", ()),
        "technologies" not in flt or trade.technology in flt["technologies"],
        "subsidised" not in flt or trade.subsidised == flt["subsidised"],
        "production_from" not in flt or month >= month_index(flt["production_from"]),
        "production_to" not in flt or month <= month_index(flt["production_to"]),
        "max_age_months" not in flt or month_index(f"{date:%Y-%m}") - month <= flt["max_age_months"],
    ))


def test_G4_every_trade_respects_its_bid_s_filter_and_regional_exclusions_refuse_cheaper_lots(month_end):
    by_day: dict[dt.date, dict[str, dict]] = {}
    for c in month_end.commands:
        if c["type"] == "order.new" and c.get("side") == "buy":
            by_day.setdefault(dt.date.fromisoformat(c["at"][:10]), {})[c["order_id"]] = c
    date = None
    kinds = Counter()
    for ev in month_end.events:
        if isinstance(ev, e.SessionOpened):
            date = ev.date
        elif isinstance(ev, e.Trade):
            bid = by_day[date].get(ev.buy_order)
            if bid is None:
                kinds["lift"] += 1
                continue
            flt = bid.get("filter", {})
            assert accepts(flt, ev, date), (ev, flt)
            kinds.update(flt.keys())
            assert ev.beneficiary == bid["beneficiary"]
    assert kinds["lift"] and kinds["exclude_provinces"] and kinds["provinces"] and kinds["technologies"]


def test_S2_a_lift_never_takes_more_than_its_lot_and_lots_are_whole_issued_batches(month_end):
    issued = {(c["first_serial"], c["last_serial"]) for c in month_end.commands if c["type"] == "issue.gec"}
    lots = {(c["at"][:10], c["order_id"]): c for c in month_end.commands      # order ids are per day (D2)
            if c["type"] == "order.new" and c.get("side") == "sell"}
    assert all((c["first_serial"], c["last_serial"]) in issued for c in lots.values())
    lifted = Counter()
    for c in month_end.commands:
        if c["type"] == "order.lift":
            lifted[c["at"][:10], c["target"]] += c["quantity"]
    assert lifted and all(q <= lots[key]["quantity"] for key, q in lifted.items())
    assert month_end.replay.summary.rejections == Counter()


def test_G2_traded_certificates_are_within_their_24_months():
    b = built("2025-07-01", markets=("GEC",), gec_scale=SCALE)
    for t in (ev for ev in b.events if isinstance(ev, e.Trade)):
        assert month_index("2025-07") - month_index(t.production_month) < 24


def test_the_scale_knob_makes_gec_small_or_big():
    small = built("2025-07-01", markets=("GEC",), gec_scale=0.0001)
    big = built("2025-07-01", markets=("GEC",), gec_scale=0.01)
    assert small.days("GEC")[0].listing_volume == 280 and big.days("GEC")[0].listing_volume == 28_000
    assert len([c for c in big.commands if c["type"] == "account.open"]) > len(gec.buyers(0.01))
