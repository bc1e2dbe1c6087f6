"""A bid's hour filter (issue 13, item 2, with G4): which certificates of a range meet it, against the rule applied
certificate by certificate to the reference's hours (tests/hours/test_curve.py)."""
from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from certx.hours.clock import EPOCH, HOUR
from certx.hours.curve import KWH
from certx.hours.mask import HourFilter, eligible, runs
from certx.wire.commands import GecFilter, hours_fault

from hours.test_curve import project_months, reference, serials
from rules.test_hours import ranges

CHINA = dt.timezone(dt.timedelta(hours=8))


@st.composite
def hour_filters(draw, first_hour: int, last_hour: int) -> GecFilter:
    """A filter that asks for hours: a mask, a window inside (or around) the drawn months, or both."""
    fields: dict = {}
    if draw(st.booleans()):
        edges = sorted(draw(st.sets(st.integers(0, 24), min_size=2, max_size=6)))
        fields["hours"] = [[a, b] for a, b in zip(edges[::2], edges[1::2])]
    if not fields or draw(st.booleans()):
        start = draw(st.integers(first_hour - 48, last_hour))
        if draw(st.booleans()):
            fields["hours_from"] = (EPOCH + start * HOUR).astimezone(CHINA)
        if draw(st.booleans()) or "hours_from" not in fields:
            fields["hours_to"] = (EPOCH + (start + draw(st.integers(1, 24 * 40))) * HOUR).astimezone(CHINA)
    if not fields.get("hours") and "hours_from" not in fields and "hours_to" not in fields:
        fields["hours"] = [[0, 6]]
    if draw(st.booleans()):
        fields["strict"] = True
    else:
        fields["min_share"] = draw(st.sampled_from([1, 50, 99, 100]) | st.integers(1, 100))
    f = GecFilter(**fields)
    assert hours_fault(f) is None, hours_fault(f)
    return f


def matching(mix: list[tuple[int, int]], hours: HourFilter) -> bool:
    """The rule for one certificate: its kWh in hours inside the mask and the window reach the share asked."""
    return sum(kwh for hour, kwh in mix if hours.admits(hour)) >= hours.need


@settings(max_examples=200, deadline=None)
@given(project_months(), st.data())
def test_G4_the_certificates_an_hour_filter_admits_are_those_with_their_share_inside(drawn, data):
    """A run of certificates: those whose kWh inside the mask and window reach min_share percent (all of them,
    strict) are the ones `runs` gives, as ranges in order, and `eligible` gives the lowest of them."""
    _, months_ = drawn
    expected = reference(months_)
    first_hour = months_[0][0].start
    last_hour = months_[-1][0].start + len(months_[-1][0].cum)
    hours = HourFilter.of(data.draw(hour_filters(first_hour, last_hour)))
    curve, _ = data.draw(st.sampled_from(months_))
    lo, hi = data.draw(st.sampled_from(curve.ranges))
    first = data.draw(st.integers(lo, hi))
    last = data.draw(st.integers(first, hi))
    want = ranges([s for s in range(first, last + 1) if matching(expected[s], hours)])
    assert list(runs(curve, first, last, hours)) == want
    limit = data.draw(st.integers(1, 50))
    flat = [s for a, b in want for s in range(a, b + 1)]
    assert eligible(curve, [(first, last)], hours, limit) == ranges(flat[:limit])
    every = [s for s in serials(curve) if matching(expected[s], hours)]
    assert [s for a, b in eligible(curve, curve.ranges, hours, limit) for s in range(a, b + 1)] == every[:limit]


def test_G4_strict_takes_certificates_wholly_inside_and_min_share_those_inside_enough():
    """2025-06-01, China time: the hours 05, 06 and 07 produce 500, 2,000 and 500 kWh, so of the three
    certificates the first is 500 kWh of 05 and 500 of 06, the second 1,000 of 06, the third 500 of 06 and 500 of
    07. The hours 06-07: strict takes the second only; min_share 50 all three; min_share 51 the second only."""
    from certx.hours.clock import month_hours
    from certx.hours.overlay import Overlay
    from certx.registry.issuance import month_index

    month = month_index("2025-06")
    kwh = [0] * month_hours(month)
    kwh[5], kwh[6], kwh[7] = 500, 2_000, 500                # the month starts at 00:00 China time
    curve = Overlay().curve("P", month, kwh, [(101, 103)])
    six = curve.start + 6
    assert curve.adds_up() and curve.hours(101, 101) == [(six - 1, 500), (six, 500)]
    for asked, taken in (({"strict": True}, [(102, 102)]), ({"min_share": 50}, [(101, 103)]),
                         ({"min_share": 51}, [(102, 102)])):
        assert list(runs(curve, 101, 103, HourFilter.of(GecFilter(hours=[[6, 7]], **asked)))) == taken, asked
    # the same hour as a window, 06:00 to 07:00 on that day: the same certificates
    window = {"hours_from": dt.datetime(2025, 6, 1, 6, tzinfo=CHINA), "hours_to": dt.datetime(2025, 6, 1, 7, tzinfo=CHINA)}
    assert list(runs(curve, 101, 103, HourFilter.of(GecFilter(**window, strict=True)))) == [(102, 102)]
    # and a day later, nothing
    later = {k: v + dt.timedelta(days=1) for k, v in window.items()}
    assert list(runs(curve, 101, 103, HourFilter.of(GecFilter(**later, min_share=1)))) == []
