"""Price-time priority (M1 (a), M4) as `certx.books.priority.PriceTime` keeps it: whatever orders come and go, in
whatever order, it yields the resting ones best price first, then oldest, exactly as sorting them would."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certx.books.priority import PriceTime


@dataclass(eq=False)
class Order:
    price: int
    seq: int


def sorted_as_rule(orders: list[Order], highest: bool) -> list[Order]:
    return sorted(orders, key=lambda o: (-o.price if highest else o.price, o.seq))


def test_m4_bids_highest_first_then_oldest():
    bids = PriceTime(highest=True)
    a, b, c, d = Order(500, 1), Order(700, 2), Order(500, 3), Order(700, 4)
    for o in (a, b, c, d):
        bids.add(o)
    assert list(bids) == [b, d, a, c] and len(bids) == 4


def test_m4_lots_cheapest_first_then_oldest():
    lots = PriceTime(highest=False)
    a, b, c = Order(500, 1), Order(300, 2), Order(500, 3)
    for o in (c, a, b):          # out of seq order: an older order put back (a restore) takes its place by age
        lots.add(o)
    assert list(lots) == [b, a, c]


def test_removing_from_the_middle_keeps_the_rest_in_order():
    bids = PriceTime(highest=True)
    orders = [Order(100, s) for s in range(10)]
    for o in orders:
        bids.add(o)
    bids.remove(orders[4])
    bids.remove(orders[0])
    bids.remove(orders[9])
    assert list(bids) == orders[1:4] + orders[5:9] and len(bids) == 7


def test_an_order_that_does_not_rest_is_not_removed_in_its_place():
    """Same price and seq, another order: never mistaken for the one resting."""
    bids = PriceTime(highest=True)
    resting = Order(100, 1)
    bids.add(resting)
    with pytest.raises(ValueError):
        bids.remove(Order(100, 1))
    with pytest.raises(KeyError):
        bids.remove(Order(200, 2))
    assert list(bids) == [resting]


def test_emptied_levels_go():
    lots = PriceTime(highest=False)
    a = Order(100, 1)
    lots.add(a)
    lots.remove(a)
    assert not lots and not lots.levels and list(lots) == []


@given(st.booleans(), st.lists(st.tuples(st.integers(1, 8), st.integers(0, 1_000)), max_size=60),
       st.lists(st.integers(0, 10**6), max_size=40), st.randoms(use_true_random=False))
def test_property_yields_what_rests_in_priority(highest, placed, removals, rng):
    queue, resting = PriceTime(highest=highest), []
    seqs = rng.sample(range(10_000), len(placed))          # unique ages, added in any order
    for (price, _), seq in zip(placed, seqs):
        order = Order(price, seq)
        queue.add(order)
        resting.append(order)
    for k in removals:
        if resting:
            queue.remove(resting.pop(k % len(resting)))
    assert list(queue) == sorted_as_rule(resting, highest) and len(queue) == len(resting)
    queue.check()


def test_an_order_newer_than_its_level_that_does_not_rest_is_refused():
    bids = PriceTime(highest=True)
    bids.add(Order(100, 1))
    with pytest.raises(ValueError):
        bids.remove(Order(100, 5))
