"""The hourly overlay (issue 13, item 1): the invariants of curves, against a plain reference.

The reference reads a project's months as one sequence of (hour, kWh) and gives certificate k of a month the
energy [1000·k, 1000·k + 1000) of its month counted from the carry in, hour by hour: the rule as the issue writes
it, with no cumulative sums and no binary search. Hypothesis draws a project's consecutive months (28 to 31 days),
their production (night hours of nothing, spikes, a month in one hour), the certificates issued for each (one to
three batches, with gaps between their serials) and the remainder each carries to the next.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certx.hours.clock import hour_at, hour_of_day, month_hours, month_of, month_start
from certx.hours.curve import KWH, Curve, from_bytes, to_bytes, typecode
from certx.hours.overlay import Overlay
from certx.registry.issuance import month_index, months

FEBRUARY_2025 = month_index("2025-02")        # 28 days; then March (31), April (30), May (31)


# --- China time ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("year", [1, 4, 100, 1900, 1970, 2000, 2024, 2025, 2100, 9998])
def test_a_month_starts_at_midnight_china_time_and_has_24_hours_a_day(year):
    china = dt.timezone(dt.timedelta(hours=8))
    for m in range(1, 13):
        month = months(year, m)
        start = dt.datetime(year, m, 1, tzinfo=china)
        following = dt.datetime(year + (m == 12), m % 12 + 1, 1, tzinfo=china)
        assert month_start(month) == hour_at(start)
        assert month_hours(month) == (following - start) // dt.timedelta(hours=1)
        assert month_of(month_start(month)) == month_of(month_start(month + 1) - 1) == month
        assert hour_of_day(month_start(month)) == 0


def test_the_months_a_wire_month_can_name_have_hours_too():
    """"0000-01" and "9999-12" are months on the wire: their arithmetic needs no datetime."""
    assert month_hours(month_index("0000-02")) == 29 * 24         # year 0 is a leap year (proleptic Gregorian)
    assert month_hours(month_index("9999-12")) == 31 * 24
    assert month_of(month_start(month_index("0000-01"))) == 0


# --- drawing a project's months --------------------------------------------------------------------------------

@st.composite
def production(draw, hours: int, total: int) -> list[int]:
    """`total` kWh over a month's hours: a few producing hours (or all of them), spikes, long nights of 0."""
    if total == 0:
        return [0] * hours
    shape = draw(st.sampled_from(["spikes", "days", "one hour", "flat"]))
    if shape == "one hour":
        weights = {draw(st.integers(0, hours - 1)): 1}
    elif shape == "flat":
        weights = dict.fromkeys(range(hours), 1)
    elif shape == "days":          # a solar day: 06-18, China time
        weights = {h: 1 + draw(st.integers(0, 3)) for h in range(hours) if 6 <= h % 24 < 18}
    else:
        weights = dict(draw(st.lists(st.tuples(st.integers(0, hours - 1), st.integers(1, 50)), min_size=1,
                                     max_size=40)))
    kwh = [0] * hours
    whole = sum(weights.values())
    given_out = 0
    for hour, weight in sorted(weights.items()):
        kwh[hour] = total * weight // whole
        given_out += kwh[hour]
    kwh[max(weights)] += total - given_out
    return kwh


@st.composite
def project_months(draw) -> tuple[Overlay, list[tuple[Curve, list[int]]]]:
    """One to three consecutive months of a project with their curves attached, and each month's kWh."""
    overlay, out = Overlay(), []
    serial = draw(st.integers(1, 10**6))
    first_month = FEBRUARY_2025 + draw(st.integers(0, 2))
    for month in range(first_month, first_month + draw(st.integers(1, 3))):
        issued = draw(st.integers(1, 40))
        cuts = sorted(draw(st.sets(st.integers(1, issued - 1), max_size=2))) if issued > 1 else []
        ranges, start = [], 0
        for end in [*cuts, issued]:           # the month's batches, with gaps between their serials
            ranges.append((serial, serial + end - start - 1))
            serial += end - start + draw(st.sampled_from([0, 1, 500]))
            start = end
        previous = overlay.curve_of("P", month - 1)
        carry_in = 0 if previous is None else previous.carry_out
        carry_out = draw(st.sampled_from([0, 1, 999]) | st.integers(0, KWH - 1))
        kwh = draw(production(month_hours(month), KWH * issued + carry_out - carry_in))
        curve = overlay.curve("P", month, kwh, ranges)
        assert curve.adds_up()
        overlay.add(curve)
        out.append((curve, kwh))
    return overlay, out


def serials(curve: Curve) -> list[int]:
    """A month's certificates in production order (k = the place in this list)."""
    return [s for first, last in curve.ranges for s in range(first, last + 1)]


def reference(months: list[tuple[Curve, list[int]]]) -> dict[int, list[tuple[int, int]]]:
    """Serial -> its (hour, kWh), by the rule as written: a month's energy is the carry in (the previous month's
    last kWh) and then its own hours, and certificate k is [1000·k, 1000·k + 1000) of it."""
    out: dict[int, list[tuple[int, int]]] = {}
    tail: list[tuple[int, int]] = []          # (hour, kWh) of the kWh carried out of the month before
    for curve, kwh in months:
        energy = tail + [(curve.start + i, v) for i, v in enumerate(kwh) if v]
        edges, at = [], 0
        for hour, v in energy:
            edges.append((at, at + v, hour))
            at += v
        for k, serial in enumerate(serials(curve)):
            a, b = KWH * k, KWH * k + KWH
            out[serial] = [(hour, min(b, e1) - max(a, e0)) for e0, e1, hour in edges if e0 < b and e1 > a]
        used = KWH * curve.issued
        tail = [(hour, e1 - max(e0, used)) for e0, e1, hour in edges if e1 > used]
    return out


# --- the invariants --------------------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(project_months())
def test_each_gec_carries_its_hours_mix_of_exactly_1000_kwh(drawn):
    """A certificate is never split: each GEC's hourly kWh sum to 1,000, and are the hours the rule gives it."""
    _, months_ = drawn
    expected = reference(months_)
    for curve, _ in months_:
        for serial in serials(curve):
            mix = curve.hours(serial, serial)
            assert sum(kwh for _, kwh in mix) == KWH
            assert all(kwh > 0 for _, kwh in mix) and [h for h, _ in mix] == sorted({h for h, _ in mix})
            assert mix == expected[serial], serial


@settings(max_examples=150, deadline=None)
@given(project_months())
def test_a_curves_total_is_the_issued_gecs_plus_the_remainder_it_carries_to_the_next_month(drawn):
    _, months_ = drawn
    carried = 0
    for curve, kwh in months_:
        assert curve.carry_in == carried
        assert curve.total == sum(kwh)
        assert curve.carry_in + curve.total == KWH * curve.issued + curve.carry_out
        assert 0 <= curve.carry_out < KWH
        carried = curve.carry_out


@settings(max_examples=150, deadline=None)
@given(project_months())
def test_no_kwh_is_allocated_twice_the_gecs_tile_the_production(drawn):
    """The certificates of the months, in production order, take each hour's kWh once: all of it but the last
    month's carry out, which waits for the next month. Consecutive certificates' energy is adjacent."""
    _, months_ = drawn
    allocated: Counter = Counter()
    for curve, _ in months_:
        ends = []
        for first, last in curve.ranges:
            for serial in range(first, last + 1):
                ends.append(curve.energy(serial, serial))
                for hour, kwh in curve.hours(serial, serial):
                    allocated[hour] += kwh
        assert [a for a, _ in ends] == [b for _, b in [(0, 0)] + ends[:-1]]
    produced = Counter({curve.start + i: v for curve, kwh in months_ for i, v in enumerate(kwh) if v})
    left = produced - allocated
    assert not allocated - produced, "an hour gave more than it produced"
    last = months_[-1][0]
    assert sum(left.values()) == last.carry_out
    if left:                            # what is left is the last month's tail: no hour after its start gave any
        assert all(not allocated[hour] for hour in produced if hour > min(left))


@settings(max_examples=150, deadline=None)
@given(project_months(), st.data())
def test_splitting_a_serial_range_anywhere_conserves_its_length_and_its_kwh(drawn, data):
    """A range [first, last] split after any serial m gives [first, m] and [m + 1, last]: together as many
    certificates, and the same kWh in every hour (no certificate lost or counted twice at the cut)."""
    _, months_ = drawn
    curve, _ = data.draw(st.sampled_from(months_))
    lo, hi = data.draw(st.sampled_from(curve.ranges))
    first = data.draw(st.integers(lo, hi))
    last = data.draw(st.integers(first, hi))
    whole = curve.hours(first, last)
    assert sum(kwh for _, kwh in whole) == KWH * (last - first + 1)
    for m in range(first, last):
        left, right = curve.hours(first, m), curve.hours(m + 1, last)
        assert (m - first + 1) + (last - m) == last - first + 1
        joined = Counter()
        for hour, kwh in left + right:
            joined[hour] += kwh
        assert joined == Counter(dict(whole))
        assert curve.energy(first, m)[1] == curve.energy(m + 1, last)[0]


def test_a_range_across_two_batches_is_two_runs_and_a_serial_of_another_month_is_none_of_its():
    overlay = Overlay()
    kwh = [0] * month_hours(FEBRUARY_2025)
    kwh[10] = 3_000
    curve = overlay.curve("P", FEBRUARY_2025, kwh, [(1, 2), (10, 10)])
    assert curve.energy(10, 10) == (2_000, 3_000) and curve.index(10) == 2
    with pytest.raises(ValueError):
        curve.energy(2, 10)
    with pytest.raises(ValueError):
        curve.hours(5, 5)


@settings(max_examples=150, deadline=None)
@given(project_months(), st.data())
def test_the_certificates_within_some_hours_are_all_that_have_energy_from_them(drawn, data):
    """`Curve.serials_within` (the 24/7 match reads only these): a certificate left out has all its hours
    before the window or all after, and one kept reaches into it, unless the window starts before the month (or
    ends by its start) and it holds the carry in. The supply classes of a range cut to them are the classes of
    the whole range that reach the hours (no run of certificates in one hour is cut in two)."""
    from certx.hours.classes import classes
    _, months_ = drawn
    curve, _ = data.draw(st.sampled_from(months_))
    since = curve.start + data.draw(st.integers(-40, len(curve.cum) + 40))
    until = since + data.draw(st.integers(1, 800))
    within = curve.serials_within(since, until)
    kept = {s for first, last in within for s in range(first, last + 1)}
    assert [s for s in serials(curve) if s in kept] == sorted(kept)        # in serial order, of the curve's
    for serial in serials(curve):
        mix = curve.hours(serial, serial)
        reaches = mix[-1][0] >= since and mix[0][0] < until
        carried = (since < curve.start or until <= curve.start) and curve.index(serial) * KWH < curve.carry_in
        assert reaches == (serial in kept) or (serial in kept and carried), serial
    for first, last in curve.ranges:
        whole = [c for c in classes(curve, first, last) if c[2][-1][0] >= since and c[2][0][0] < until]
        cut = [c for a, b in within if first <= a <= last for c in classes(curve, a, b)
               if c[2][-1][0] >= since and c[2][0][0] < until]
        assert cut == whole


# --- the compact arrays ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("total, code, width", [(0, "H", 2), (65_535, "H", 2), (65_536, "I", 4),
                                                (2**32 - 1, "I", 4), (2**32, "q", 8)])
def test_a_curve_is_kept_in_the_narrowest_array_that_holds_its_total(total, code, width):
    """A distributed-PV month (some 30 MWh) takes 2 bytes an hour; only a month over 4.29 TWh takes 8."""
    overlay = Overlay()
    kwh = [0] * (month_hours(FEBRUARY_2025) - 1) + [total]
    issued = max(total // KWH, 1)
    curve = overlay.curve("P", FEBRUARY_2025, kwh, [(1, issued)])
    assert curve.cum.typecode == code == typecode(total) and curve.cum.itemsize == width
    data = to_bytes(curve.cum)
    assert len(data) == width * 672 and from_bytes(data, 672) == curve.cum
