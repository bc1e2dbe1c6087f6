"""The sweep over a covering set's hours (certx.hours.sweep; issue 13, item 3's 0.1% gap): exact where the front
stays within FRONT, a lower bound and a covering answer where it is cut, and a set it does not take left to the
caller.

The reference is brute force: every choice of whole certificates that covers each hour's need, the cheapest."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from certx.hours import allocation, covering, sweep
from certx.hours.allocation import KWH, Supply

HOURS = 5


@st.composite
def sets(draw) -> tuple[list[int], list[Supply]]:
    """Needs over HOURS hours and a supply that can cover them: single-hour runs (up to 3 certificates) and
    certificates over 2-4 hours (one each, as the book's classes are), with hours of no need among them."""
    need = draw(st.lists(st.one_of(st.just(0), st.integers(1, 2_600)), min_size=HOURS, max_size=HOURS).filter(any))
    supply = []
    for _ in range(draw(st.integers(0, 3))):
        supply.append(Supply("run", draw(st.integers(1, 3)), draw(st.integers(1, 40)),
                             ((draw(st.integers(0, HOURS - 1)), KWH),)))
    for _ in range(draw(st.integers(1, 7))):
        hours = sorted(draw(st.sets(st.integers(0, HOURS - 1), min_size=2, max_size=4)))
        cuts = sorted(draw(st.sets(st.integers(1, KWH - 1), min_size=len(hours) - 1, max_size=len(hours) - 1)))
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, KWH])]
        supply.append(Supply("span", 1, draw(st.integers(1, 40)), tuple(zip(hours, parts))))
    for h, n in enumerate(need):                      # enough single-hour certificates to cover every need
        if n:
            supply.append(Supply("spare", -(-n // KWH), draw(st.integers(30, 60)), ((h, KWH),)))
    return need, supply


def covers(need, supply, counts) -> bool:
    brought = [0] * len(need)
    for s, n in zip(supply, counts):
        for h, kwh in s.mix:
            brought[h] += n * kwh
    return all(b >= d for b, d in zip(brought, need))


def brute(need, supply) -> int:
    """The least cost of whole certificates covering every hour's need."""
    return min(sum(n * s.price for n, s in zip(counts, supply))
               for counts in itertools.product(*(range(s.available + 1) for s in supply))
               if covers(need, supply, counts))


def run(need, supply) -> sweep.Found | None:
    return sweep.least(supply, list(range(len(supply))), [s.available for s in supply], need, 10**9, sweep.Budget())


@settings(max_examples=300, deadline=None)
@given(sets())
def test_the_sweep_finds_the_least_cost_exactly(drawn):
    need, supply = drawn
    found = run(need, supply)
    least = brute(need, supply)
    note(f"{found}, brute force {least}")
    assert found is not None and abs(found.bound - least) < 1e-6
    assert found.cost == least == sum(n * s.price for n, s in zip(found.counts, supply))
    assert covers(need, supply, found.counts)


@settings(max_examples=300, deadline=None)
@given(sets(), st.integers(0, 2))
def test_cut_pieces_bound_the_least_cost_from_below_and_the_answer_still_covers(drawn, front):
    """With the front held to 0-2 certificates, some are cut into pieces (as many as it takes): the relaxation's
    bound is at most the least cost, and the answer, never below it, covers every need with whole certificates."""
    need, supply = drawn
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sweep, "FRONT", front)
        patch.setattr(sweep, "PIECES", 10)
        found = run(need, supply)
    least = brute(need, supply)
    note(f"{found}, brute force {least}")
    assert found is not None and found.bound <= least + 1e-6
    assert found.counts and covers(need, supply, found.counts)
    assert all(0 <= n <= s.available for n, s in zip(found.counts, supply))
    assert found.cost == sum(n * s.price for n, s in zip(found.counts, supply)) >= least


def test_a_cut_certificate_is_priced_hour_by_hour_until_its_pieces_agree(monkeypatch):
    """Hour 0 needs 1,500 kWh, hour 1 300: the certificate (700 + 300 kWh, 20 fen) with one single-hour
    certificate at 12 covers both for 32 fen, against two at hour 0 (24) and one at hour 1 (12). Cut (FRONT 0), its
    pieces first share the 20 fen by kWh, 14 and 6: hour 0 leaves its piece (14 + 12 > 24), hour 1 takes its (6 <
    12), and the bound is 30. The answer from there (the certificate left, then taken one at a time: 32) and a
    step of 2 fen from hour 0's share to hour 1's raise the bound to 32, which proves that answer the least."""
    monkeypatch.setattr(sweep, "FRONT", 0)
    need = [1_500, 300]
    supply = [Supply("span", 1, 20, ((0, 700), (1, 300))), Supply("a", 2, 12, ((0, KWH),)),
              Supply("b", 1, 12, ((1, KWH),))]
    found = run(need, supply)
    assert found is not None and found.counts == [1, 1, 0] and found.cost == 32 == brute(need, supply)
    assert abs(found.bound - 32) < 1e-6


def test_the_same_set_gives_the_same_answer_and_bound(monkeypatch):
    monkeypatch.setattr(sweep, "FRONT", 1)
    need = [1_800, 2_300, 900, 0, 1_200]
    supply = [Supply("a", 1, 9, ((0, 400), (1, 600))), Supply("b", 1, 7, ((1, 300), (2, 500), (4, 200))),
              Supply("c", 1, 11, ((0, 900), (2, 100))), Supply("d", 3, 12, ((1, KWH),)),
              Supply("e", 2, 13, ((0, KWH),)), Supply("f", 2, 10, ((4, KWH),)), Supply("g", 1, 14, ((2, KWH),))]
    assert run(need, supply) == run(need, supply)


def test_a_set_the_sweep_does_not_take_is_left_to_the_caller(monkeypatch):
    """A spanning class of two certificates (the book never makes one), a budget short of one sweep, a sweep that
    would keep more than KEPT bytes, or a set that would be cut into more than PIECES pieces a certificate (here one
    over 4 hours with no room on the front)."""
    need = [1_000, 1_000]
    two = [Supply("a", 2, 10, ((0, 500), (1, 500))), Supply("b", 2, 12, ((0, KWH),))]
    assert run(need, two) is None
    one = [Supply("a", 1, 10, ((0, 500), (1, 500))), Supply("b", 2, 12, ((0, KWH),)), Supply("c", 1, 12, ((1, KWH),))]
    assert sweep.least(one, [0, 1, 2], [1, 2, 1], need, 10**9, sweep.Budget(0)) is None
    assert run(need, one).cost == 24 == brute(need, one)
    need = [0, 1, 1, 1, 0]
    long = [Supply("a", 1, 1, ((0, 1), (1, 1), (2, 1), (3, 997))),
            *(Supply("b", 1, 30, ((h, KWH),)) for h in (1, 2, 3))]
    assert run(need, long).cost == 1
    monkeypatch.setattr(sweep, "KEPT", 0)              # a sweep that would keep too much to go back
    assert run(need, long) is None
    monkeypatch.setattr(sweep, "KEPT", 2**20)
    monkeypatch.setattr(sweep, "FRONT", 0)
    assert run(need, long) is None


def test_the_cover_falls_back_to_the_mip_for_a_set_the_sweep_does_not_take(monkeypatch):
    """With no work left for the sweep, the set is solved as before (HiGHS's root node): the same bound here."""
    loads = [1_500, 700]
    supply = [Supply("a", 1, 10, ((0, 700), (1, 300))), Supply("b", 1, 8, ((0, 200), (1, 800))),
              Supply("c", 3, 12, ((0, KWH),))]
    members, upper = allocation._eligible(loads, supply, 100)
    answer = allocation._lp(loads, supply, 100, None, full_mip=0)
    swept = covering.cover(loads, supply, members, upper, list(answer.taken))
    monkeypatch.setattr(sweep, "WORK", 0)
    assert abs(covering.cover(loads, supply, members, upper, list(answer.taken)) - swept) < 1e-6
    assert swept == 30
