"""The stress stream (certx.days.stress, `certx days build --copies N`): the busiest real day, 2021-12-16, ten times
over. The market's own commands go once; every participant's command N times, in accounts and ids of each copy's
own; replayed embedded it trades N times the block volume at the official day's prices (B2) and keeps the day's
open, high, low and close, since every copy posts the same prices (B1). GEC issuance is refused, not copied (G1)."""
from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from certx.days import build, stress
from certx.replay import Replay
from certx.wire import events as e

DAY = dt.date(2021, 12, 16)


def replayed(lines: list[bytes]) -> tuple[e.DaySummary, list[e.Event]]:
    events = list(Replay().run(lines))
    days = [ev for ev in events if isinstance(ev, e.DaySummary) and ev.product == "CEA"]
    assert len(days) == 1
    return days[0], events


def test_B1_B2_the_busiest_day_ten_times_over_keeps_its_prices_and_multiplies_its_volume():
    once = list(build.build(DAY, DAY, markets=("CEA",)))
    tenfold = list(stress.copies(once, 10))
    kinds = [msgspec.json.decode(line)["type"] for line in once]
    market_own = sum(k in stress.ONCE for k in kinds)
    assert market_own == 3                     # product.list, session.open and session.close
    assert len(tenfold) == 10 * len(once) - 9 * market_own

    real, _ = replayed(once)
    stressed, events = replayed(tenfold)
    assert (stressed.open, stressed.high, stressed.low, stressed.close) == (real.open, real.high, real.low, real.close)
    assert stressed.block_volume == 10 * real.block_volume
    assert 9 * real.listing_volume < stressed.listing_volume <= 10 * real.listing_volume
    assert not [ev for ev in events if isinstance(ev, e.CommandRejected)]
    accounts = {ev.account for ev in events if isinstance(ev, e.AccountOpened)}
    assert {"gen-01", "gen-01.c1", "gen-01.c9"} <= accounts


def test_G1_GEC_issuance_is_not_copied():
    issue = msgspec.json.encode({"type": "issue.gec", "id": "g1", "actor": "registry", "account": "a"})
    with pytest.raises(ValueError, match="serial"):
        list(stress.copies([issue], 2))
    assert list(stress.copies([issue], 1)) == [issue]
