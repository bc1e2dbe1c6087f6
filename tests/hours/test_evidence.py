"""The buyer's evidence (issue 13, item 4): per hour the load, matched, unmatched and sources; the scores at hourly,
monthly and annual resolution; the cost, cancellations and beneficiary; and a hash of the inputs that a verifier
can recompute."""
from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certx.hours.allocation import KWH, Supply, allocate
from certx.hours.evidence import (CST, EPOCH, Evidence, EvidenceError, Hour, Inputs, Leg, Source, digest, evidence,
                                  from_csv, from_json, to_csv, to_json, verify)

NEW_YEAR_2026 = int((dt.datetime(2026, 1, 1, tzinfo=CST) - EPOCH).total_seconds()) // 3600
START = NEW_YEAR_2026 - 36                       # the period straddles a month and a year


def leg_of(project: str, first_serial: int, hours: list[tuple[int, int]], price: int = 500,
           month: str = "2025-12") -> Leg:
    """A leg whose certificates produced `hours` (kWh summing to whole certificates), serials from `first_serial`."""
    certificates = sum(kwh for _, kwh in hours) // KWH
    return Leg(project, "Gansu", "wind", month, ((first_serial, first_serial + certificates - 1),), price,
               certificates, tuple(hours))


@st.composite
def legs(draw, start: int, length: int) -> Leg:
    certificates = draw(st.integers(1, 4))
    hours = sorted(draw(st.sets(st.integers(start - 2, start + length + 1), min_size=1, max_size=5)))
    cuts = sorted(draw(st.lists(st.integers(0, certificates * KWH), min_size=len(hours) - 1,
                                max_size=len(hours) - 1)))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, certificates * KWH])]
    pairs = [(h, kwh) for h, kwh in zip(hours, parts) if kwh]
    first = draw(st.integers(1, 10**6))
    return Leg(draw(st.sampled_from(["P1", "P2", "P3"])), draw(st.sampled_from(["Gansu", "Yunnan"])),
               draw(st.sampled_from(["wind", "solar", "hydro"])), "2025-12", ((first, first + certificates - 1),),
               draw(st.integers(1, 3_000)), certificates, tuple(pairs))


@st.composite
def inputs(draw) -> Inputs:
    length = draw(st.integers(1, 72))
    loads = draw(st.lists(st.integers(0, 3_000), min_size=length, max_size=length).filter(any))
    drawn = draw(st.lists(legs(START, length), min_size=1, max_size=6))
    drawn = [msgspec.structs.replace(leg, serials=((1_000 * k + 1, 1_000 * k + leg.certificates),))
             for k, leg in enumerate(drawn)]                      # serials apart, so a source names its leg
    return Inputs(START, tuple(loads), tuple(drawn),
                  tuple(draw(st.lists(st.text("ABC123", min_size=1, max_size=6), unique=True, max_size=4))),
                  "Acme Data Centre")


@settings(max_examples=200, deadline=None)
@given(inputs())
def test_scores_order_hourly_monthly_annual(given_inputs):
    """Σ min(load, supply) over hours ≤ over months ≤ over years, all within [0, 1] of the load."""
    report = evidence(given_inputs)
    s = report.scores
    assert 0.0 <= s.hourly <= s.monthly <= s.annual <= 1.0
    assert s.matched_hourly <= s.matched_monthly <= s.matched_annual <= report.load
    assert s.hourly == s.matched_hourly / report.load
    assert report.supplied + report.supplied_outside == KWH * report.certificates


@settings(max_examples=200, deadline=None)
@given(inputs())
def test_every_hour_adds_up_and_names_its_sources(given_inputs):
    report = evidence(given_inputs)
    assert len(report.hours) == len(given_inputs.loads)
    for row, load in zip(report.hours, given_inputs.loads):
        assert row.load == load and row.supplied == sum(s.kwh for s in row.sources)
        assert row.matched == min(row.load, row.supplied) and row.unmatched == row.load - row.matched
    # kWh by kWh in production order, the j-th of a leg belongs to its certificate j // 1000: the serials a
    # source names in an hour are exactly those with a kWh in that hour
    for leg in given_inputs.legs:
        first = leg.serials[0][0]
        expected: dict[int, set[int]] = {}
        j = 0
        for hour, kwh in leg.hours:
            expected[hour] = {first + (j + k) // KWH for k in range(kwh)}
            j += kwh
        for h, row in enumerate(report.hours):
            named = [s for s in row.sources if s.serials[0][0] // 1_000 == first // 1_000]
            serials = {n for s in named for a, b in s.serials for n in range(a, b + 1)}
            assert serials == expected.get(START + h, set())
            assert sum(s.kwh for s in named) == dict(leg.hours).get(START + h, 0)


def test_scores_by_month_and_year_across_the_new_year():
    """Load on 31 December 23:00, supply on 1 January 00:00 (China time): no hour and no month matches, and no
    year either; supply in the same month but another hour matches monthly and annually, not hourly."""
    eve, day = NEW_YEAR_2026 - 1, NEW_YEAR_2026
    apart = evidence(Inputs(eve, (1_000, 0), (leg_of("P1", 1, [(day, KWH)]),), (), "Acme"))
    assert (apart.scores.hourly, apart.scores.monthly, apart.scores.annual) == (0.0, 0.0, 0.0)
    same_month = evidence(Inputs(eve - 5, (1_000, 0, 0, 0, 0, 0), (leg_of("P1", 1, [(eve - 1, KWH)]),), (), "A"))
    assert (same_month.scores.hourly, same_month.scores.monthly, same_month.scores.annual) == (0.0, 1.0, 1.0)
    assert same_month.hours[0] == Hour("2025-12-31T18:00+08:00", 1_000, 0, 0, 1_000, ())


def test_a_certificate_across_two_hours_is_a_source_of_both():
    """Certificates follow production order: 1,500 kWh in hour 0 then 500 in hour 1 are serials 7 (hour 0) and 8
    (half in each)."""
    report = evidence(Inputs(START, (2_000, 2_000), (leg_of("P1", 7, [(START, 1_500), (START + 1, 500)]),), (),
                             "Acme"))
    assert report.hours[0].sources == (Source("P1", "Gansu", "wind", 1_500, ((7, 8),)),)
    assert report.hours[1].sources == (Source("P1", "Gansu", "wind", 500, ((8, 8),)),)
    gapped = Leg("P1", "Gansu", "wind", "2025-12", ((7, 7), (9, 9)), 500, 2, ((START, 1_500), (START + 1, 500)))
    report = evidence(Inputs(START, (2_000, 2_000), (gapped,), (), "Acme"))
    assert report.hours[0].sources[0].serials == ((7, 7), (9, 9))
    assert report.hours[1].sources[0].serials == ((9, 9),)


EXAMPLE = Inputs(START, (800, 1_200, 0, 3_000), (leg_of("P1", 1, [(START, 1_000), (START + 1, 1_000)]),
                                                 leg_of("P2", 50, [(START + 3, 2_000)], price=900)),
                 ("C-2", "C-1"), "Acme Data Centre")


def test_the_hash_changes_with_any_input_and_not_with_order():
    """Canonical: legs and cancellation ids sorted, so their order does not count; every value does."""
    base = digest(EXAMPLE)
    reordered = msgspec.structs.replace(EXAMPLE, legs=EXAMPLE.legs[::-1], cancellations=EXAMPLE.cancellations[::-1])
    assert digest(reordered) == base and evidence(reordered) == evidence(EXAMPLE)
    leg = EXAMPLE.legs[0]
    changed_legs = [msgspec.structs.replace(leg, **{field: value}) for field, value in (
        ("project", "P9"), ("province", "Qinghai"), ("technology", "solar"), ("production_month", "2025-11"),
        ("serials", ((2, 3),)), ("price", 501), ("hours", ((START, 999), (START + 1, 1_001))))]
    changed_legs.append(msgspec.structs.replace(leg, certificates=3, serials=((1, 3),),
                                                hours=((START, 1_000), (START + 1, 2_000))))
    variants = [msgspec.structs.replace(EXAMPLE, legs=(other, EXAMPLE.legs[1])) for other in changed_legs]
    variants += [msgspec.structs.replace(EXAMPLE, **{field: value}) for field, value in (
        ("start", START + 1), ("loads", (800, 1_201, 0, 3_000)), ("cancellations", ("C-1",)),
        ("beneficiary", "Acme Data Centre 2"), ("legs", EXAMPLE.legs[:1]))]
    digests = {digest(v) for v in variants}
    assert base not in digests and len(digests) == len(variants)


def test_json_round_trip_and_verification():
    report = evidence(EXAMPLE)
    data = to_json(report)
    assert from_json(data) == report and verify(data)
    assert report.cost == 2 * 500 + 2 * 900 and report.cancellations == ("C-1", "C-2")
    assert report.beneficiary == "Acme Data Centre" and report.inputs_sha256 == digest(EXAMPLE)
    forged = msgspec.structs.replace(report, scores=msgspec.structs.replace(report.scores, hourly=1.0))
    assert not verify(to_json(forged))
    tampered = msgspec.structs.replace(report, inputs=msgspec.structs.replace(report.inputs, beneficiary="Other"))
    assert not verify(to_json(tampered))
    assert not verify(b"{not json") and not verify(b'{"version": 1}')


def test_csv_round_trip():
    report = evidence(EXAMPLE)
    text = to_csv(report)
    assert text.splitlines()[0] == "hour,load_kwh,supplied_kwh,matched_kwh,unmatched_kwh,sources"
    assert len(text.splitlines()) == 1 + len(EXAMPLE.loads)
    assert from_csv(text) == list(report.hours)


@settings(max_examples=100, deadline=None)
@given(inputs())
def test_round_trips_hold_for_any_inputs(given_inputs):
    report = evidence(given_inputs)
    assert from_json(to_json(report)) == report and verify(to_json(report))
    assert from_csv(to_csv(report)) == list(report.hours)


def test_names_cannot_break_the_csv():
    """A name with commas, quotes or a formula's '=' stays inside the JSON cell."""
    leg = msgspec.structs.replace(EXAMPLE.legs[0], project='=HYPERLINK("x"),"P1"')
    report = evidence(msgspec.structs.replace(EXAMPLE, legs=(leg,)))
    assert from_csv(to_csv(report)) == list(report.hours)
    assert all(not line.split(",")[-1].startswith("=") for line in to_csv(report).splitlines())


def test_the_evidence_agrees_with_the_allocation():
    """Legs built from an allocation's classes (their certificates times one certificate's mix) give the hourly
    score the allocation found."""
    loads = [1_500, 900, 400, 2_000]
    supply = [Supply("L1:1-4", 4, 300, ((0, 600), (1, 400))), Supply("L2:9-11", 3, 200, ((2, 500), (3, 500))),
              Supply("L3:20-22", 3, 900, ((0, KWH),))]
    answer = allocate(loads, supply, cap=1_000)
    legs_ = []
    for n, s in zip(answer.taken, supply):
        if n:
            first = int(s.key.split(":")[1].split("-")[0])
            hours = [(START + h, n * kwh) for h, kwh in s.mix]
            legs_.append(Leg(s.key, "Gansu", "wind", "2025-12", ((first, first + n - 1),), s.price, n, tuple(hours)))
    report = evidence(Inputs(START, tuple(loads), tuple(legs_), ("C-1",), "Acme"))
    assert report.scores.matched_hourly == answer.matched_total
    assert [row.matched for row in report.hours] == list(answer.matched)
    assert report.cost == answer.cost


GOOD = EXAMPLE.legs[0]


@pytest.mark.parametrize("change, says", [
    ({"loads": ()}, "1 to 8784 hours"),
    ({"loads": (0, 0)}, "zero in every hour"),
    ({"loads": (-1, 5)}, "hour 0"),
    ({"start": -1}, "start"),
    ({"start": 1.5}, "start"),
    ({"start": 2**31 - 1}, "9999-12-31T23:00"),          # red team: OverflowError, past what ISO 8601 writes
    ({"beneficiary": ""}, "beneficiary"),
    ({"beneficiary": "a\nb"}, "beneficiary"),
    ({"cancellations": ("C", "C")}, "distinct"),
    ({"cancellations": (["C"],)}, "cancellation id"),
    ({"cancellations": ["C"]}, "tuple"),
    ({"loads": [5]}, "tuple"),
    ({"legs": [GOOD]}, "legs"),
    ({"legs": (msgspec.structs.replace(GOOD, hours=((START, 1_000, 1), (START + 1, 1_000))),)}, "pairs"),
    ({"legs": (msgspec.structs.replace(GOOD, serials=(5,)),)}, "pairs"),
    ({"cancellations": ("x" * 200,)}, "cancellation id"),
    ({"legs": ()}, "legs"),
    ({"legs": (msgspec.structs.replace(GOOD, project=""),)}, "project"),
    ({"legs": (msgspec.structs.replace(GOOD, production_month="2025-13"),)}, "production month"),
    ({"legs": (msgspec.structs.replace(GOOD, price=0),)}, "price"),
    ({"legs": (msgspec.structs.replace(GOOD, certificates=0),)}, "certificates"),
    ({"legs": (msgspec.structs.replace(GOOD, serials=((1, 1),)),)}, "hold 1 certificates"),
    ({"legs": (msgspec.structs.replace(GOOD, serials=((2, 1), (3, 4))),)}, "serial ranges"),
    ({"legs": (msgspec.structs.replace(GOOD, serials=((1, 1), (1, 1))),)}, "serial ranges"),
    ({"legs": (msgspec.structs.replace(GOOD, hours=((START, 1_000),)),)}, "1000 kWh, not 2"),
    ({"legs": (msgspec.structs.replace(GOOD, hours=((START + 1, 1_000), (START, 1_000))),)}, "increasing"),
    ({"legs": (msgspec.structs.replace(GOOD, hours=((START, 2_001), (START + 1, -1))),)}, "positive"),
])
def test_hostile_inputs_are_refused_as_data(change, says):
    with pytest.raises(EvidenceError, match=says):
        evidence(msgspec.structs.replace(EXAMPLE, **change))


def test_not_inputs_are_refused():
    with pytest.raises(EvidenceError, match="not an Inputs"):
        evidence({"start": START})
    assert isinstance(evidence(EXAMPLE), Evidence)


def test_a_period_ending_in_the_last_hour_iso_writes_is_evidence_and_one_past_it_is_refused_by_verify():
    """Red team: a report whose period ran past 9999-12-31 23:00 China time made `verify` raise OverflowError
    (a verifier's crash, not a False), and `evidence` raise it too, not EvidenceError."""
    last = (dt.datetime(9999, 12, 31, 23, tzinfo=CST) - EPOCH) // dt.timedelta(hours=1)
    leg = Leg("P", "Gansu", "wind", "2025-05", ((1, 1),), 100, 1, ((last, 1_000),))
    report = evidence(Inputs(last - 1, (500, 1_000), (leg,), ("t1",), "A"))
    assert report.last_hour == "9999-12-31T23:00+08:00" and verify(to_json(report))
    forged = msgspec.json.decode(to_json(report))
    forged["inputs"]["start"] = last
    forged["inputs_sha256"] = digest(msgspec.json.decode(msgspec.json.encode(forged["inputs"]), type=Inputs))
    assert verify(msgspec.json.encode(forged)) is False


class _Counted(tuple):
    """A leg's serial ranges that count how often they are read."""
    reads = 0

    def __getitem__(self, i):
        _Counted.reads += 1
        return tuple.__getitem__(self, i)

    def __iter__(self):
        for item in tuple.__iter__(self):
            _Counted.reads += 1
            yield item


def test_the_sources_of_a_legs_hours_read_its_serial_ranges_once():
    """Red team: each hour's serials were found by reading the leg's ranges from the first, hours × ranges in
    all, so a report of one leg of 200,000 ranges and as many hours (within every limit) kept `verify` or
    `certx match-report` for hours. Now one pass; the same sources."""
    from certx.hours.evidence import _hours_of
    n = 2_000
    serials = tuple((2 * k + 1, 2 * k + 1) for k in range(n))          # every other serial: n ranges of one
    hours = tuple((START + h, KWH) for h in range(n))
    _Counted.reads = 0
    got = list(_hours_of(Leg("P", "Gansu", "wind", "2025-05", _Counted(serials), 100, n, hours)))
    assert [(hour, kwh, s) for hour, kwh, s in got] == [(START + k, KWH, ((2 * k + 1, 2 * k + 1),)) for k in range(n)]
    assert _Counted.reads <= 8 * n             # a few an hour; it was n × (n + 1) / 2, 2,001,000
