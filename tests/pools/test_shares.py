"""Issue 13, aggregators: a pooled lot's fill is shared among its owners by the rule fixed at listing."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certx.pools.allocation import shares

pools = st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=30)


def test_fifo_empties_each_owner_in_listing_order_before_the_next():
    assert shares("fifo", [3, 5, 2], 6) == [3, 3, 0]


def test_pro_rata_gives_each_owner_its_proportion_and_the_rounding_to_the_largest_remainders():
    # exact shares 1.5, 2.5, 1.0 of 5: the two halves go up, the earlier owner first at equal remainders
    assert shares("pro_rata", [3, 5, 2], 5) == [2, 2, 1]


@pytest.mark.parametrize("rule", ["fifo", "pro_rata"])
def test_a_fill_larger_than_the_pool_is_refused(rule):
    with pytest.raises(ValueError):
        shares(rule, [1, 2], 4)


@given(pools, st.data(), st.sampled_from(["fifo", "pro_rata"]))
def test_shares_add_up_to_the_fill_and_no_owner_gives_more_than_it_has(remaining, data, rule):
    quantity = data.draw(st.integers(min_value=0, max_value=sum(remaining)))
    out = shares(rule, remaining, quantity)
    assert sum(out) == quantity
    assert all(0 <= give <= have for give, have in zip(out, remaining))


@given(pools, st.data())
def test_pro_rata_shares_are_within_one_certificate_of_the_exact_proportion(remaining, data):
    total = sum(remaining)
    quantity = data.draw(st.integers(min_value=0, max_value=total))
    for give, have in zip(shares("pro_rata", remaining, quantity), remaining):
        assert abs(give * total - quantity * have) < total or total == 0


@given(pools, st.data())
def test_fifo_takes_a_prefix(remaining, data):
    quantity = data.draw(st.integers(min_value=0, max_value=sum(remaining)))
    out = shares("fifo", remaining, quantity)
    full = [give == have for give, have in zip(out, remaining)]
    first_short = full.index(False) if False in full else len(out)
    assert all(give == 0 for give in out[first_short + 1:])
