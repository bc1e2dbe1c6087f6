"""certx.days.exact: trades that add up exactly to a day's volume and value, for any consistent figures (D3-D5),
within the sizes (S1) and the block band (B2)."""
from __future__ import annotations

import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from certx.days import exact
from certx.days.official import cea_days
from certx.engine.band import limits


def check_listing(trades, volume, value, open_, high, low):
    assert sum(q for _, q in trades) == volume and sum(p * q for p, q in trades) == value
    assert trades[0][0] == open_ and max(p for p, _ in trades) == high and min(p for p, _ in trades) == low
    assert all(1 <= q <= exact.LISTING_MAX for _, q in trades)


@pytest.mark.parametrize("volume,value", [(1, 4_422), (7, 30_001), (1_000_003, 44_220_000_07), (2, 3)])
def test_neighbours_are_two_fen_prices_worth_exactly_the_value(volume, value):
    fills = exact.neighbours(volume, value)
    assert sum(q for _, q in fills) == volume and sum(p * q for p, q in fills) == value
    assert max(p for p, _ in fills) - min(p for p, _ in fills) <= 1


@st.composite
def listing_days(draw):
    """A real day's figures: trades priced within [low, high], with the open first and both extremes reached."""
    low = draw(st.integers(100, 20_000))
    high = low + draw(st.integers(0, 2_000))
    open_ = draw(st.integers(low, high))
    rest = draw(st.lists(st.tuples(st.integers(low, high), st.integers(1, 99_999)), max_size=30))
    real = [(open_, draw(st.integers(1, 99_999))), (high, draw(st.integers(1, 99_999))),
            (low, draw(st.integers(1, 99_999)))] + rest
    return sum(q for _, q in real), sum(p * q for p, q in real), open_, high, low


@settings(max_examples=200, deadline=None)
@given(listing_days(), st.integers(0, 2**32))
def test_D3_D4_listing_trades_reproduce_any_real_day_exactly(day, seed):
    volume, value, open_, high, low = day
    trades = exact.listing_trades(random.Random(seed), volume, value, open_=open_, high=high, low=low,
                                  close=value // volume)
    check_listing(trades, volume, value, open_, high, low)


@settings(max_examples=200, deadline=None)
@given(st.integers(1_000, 20_000), st.lists(st.tuples(st.integers(-2_500, 2_500), st.integers(100_000, 3_000_000)),
                                            min_size=1, max_size=40), st.integers(0, 2**32))
def test_S1_B2_block_offers_reproduce_any_real_block_day_exactly(reference, real, seed):
    lo, hi = limits(reference, 3000)
    real = [(reference + d * reference // 10_000, q) for d, q in real]
    assume(all(lo <= p <= hi for p, _ in real))
    volume, value = sum(q for _, q in real), sum(p * q for p, q in real)
    offers = exact.block_offers(random.Random(seed), volume, value, low=lo, high=hi)
    assert sum(sum(o.accepts) for o in offers) == volume
    assert sum(o.price * sum(o.accepts) for o in offers) == value
    assert all(lo <= o.price <= hi and min(o.accepts) >= exact.BLOCK_MIN for o in offers)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 200_000), st.integers(100, 20_000), st.integers(0, 99), st.integers(0, 2**32))
def test_M3_winning_bids_add_up_to_the_auction_exactly(volume, mean, frac, seed):
    value = volume * mean + frac * volume // 100
    bids = exact.auction_bids(random.Random(seed), volume, value)
    assert sum(q for _, q in bids) == volume and sum(p * q for p, q in bids) == value
    assert all(1 <= q <= volume and p > 0 for p, q in bids)


def test_every_official_product_day_solves():
    """All 3,542 rows of the files: the listing trades, the block offers in the band of the previous close, and
    the auctions (0.2 s)."""
    rng = random.Random(1)
    for days in cea_days().values():
        for d in days:
            if d.listing_volume:
                trades = exact.listing_trades(rng, d.listing_volume, d.listing_value, open_=d.open, high=d.high,
                                              low=d.low, close=d.close)
                check_listing(trades, d.listing_volume, d.listing_value, d.open, d.high, d.low)
            lo, hi = limits(d.reference, 3000)
            offers = exact.block_offers(rng, d.block_volume, d.block_value, low=lo, high=hi)
            assert sum(o.price * sum(o.accepts) for o in offers) == d.block_value
            bids = exact.auction_bids(rng, d.auction_volume, d.auction_value)
            assert sum(p * q for p, q in bids) == d.auction_value


def test_a_block_day_below_two_minimum_offers_must_be_one_price():
    with pytest.raises(ValueError):
        exact.block_offers(random.Random(1), 150_000, 150_000 * 4_000 + 1, low=3_000, high=5_000)
    assert [(o.price, o.accepts) for o in exact.block_offers(random.Random(1), 150_000, 150_000 * 4_000,
                                                             low=3_000, high=5_000)] == [(4_000, [150_000])]
