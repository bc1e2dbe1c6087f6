"""A restored engine must stand where the published events end (DESIGN 2, 3), without a broker.

The matcher rebuilds a market from the latest snapshot and the command log replayed with output suppressed. The
same log gives the same events only under the same code and rules: a new release that answers an old command
otherwise (91b575d refuses a session opened days ahead, which an older release opened), or another rules file,
rebuilds an engine whose next `seq` is not the one after the last event in `certx.events`. Carrying on would trade
on a state the published events (and the ledger settled from them) do not describe, and give the next events seqs
already published (settlements are keyed by their event's seq: readers drop some as duplicates) or leave a hole.
So the restore checks it.
"""
from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from certx.kafka.matcher import Diverged, follows
from certx.replay import Replay
from certx.rules import DEFAULT
from loadtest.flows import trading_day

# Every session all day: orders at 07:00 trade, where DOMAIN's sessions (from 09:30) refuse them.
WHOLE = ((0, 24 * 60),)
ALL_DAY = msgspec.structs.replace(DEFAULT, **{
    m: msgspec.structs.replace(getattr(DEFAULT, m), listing_sessions=WHOLE, block_sessions=WHOLE)
    for m in ("cea", "ccer", "gec")})
EARLY = trading_day(300, seed=5, close=False, start=dt.time(7, 0))


def published(rules, lines):
    """The engines after `lines`, and each market's last event, as a matcher under `rules` published them."""
    replay = Replay(rules)
    last = {}
    for event in replay.run(lines):
        last[event.market] = event
    return replay.engines, last


def test_an_engine_rebuilt_under_the_rules_that_wrote_the_events_follows_them():
    """DESIGN 2: the same log and the same rules give the same events: the restore carries on."""
    engines, last = published(ALL_DAY, EARLY)
    again, _ = published(ALL_DAY, EARLY)
    for market, event in last.items():
        follows(again[market], event)
    assert engines["CEA"].seq == last["CEA"].seq + 1


def test_an_engine_rebuilt_under_other_rules_that_answer_the_log_otherwise_is_refused():
    """DESIGN 2, 3: events published under all-day sessions, the log replayed under DOMAIN's (an upgrade or another
    rules file): the rebuilt engine's next seq is not the one after the last event, and the market does not carry
    on, naming both."""
    _, last = published(ALL_DAY, EARLY)
    rebuilt, _ = published(DEFAULT, EARLY)
    assert rebuilt["CEA"].seq != last["CEA"].seq + 1, "the two rules answer the log otherwise"
    with pytest.raises(Diverged, match=rf"CEA.*{rebuilt['CEA'].seq}.*{last['CEA'].seq + 1}"):
        follows(rebuilt["CEA"], last["CEA"])


def test_a_market_with_no_event_published_follows_only_from_an_empty_engine():
    """DESIGN 2: nothing published, nothing applied: an engine that applied commands has events missing."""
    engines, _ = published(ALL_DAY, [])
    follows(engines["GEC"], None)
    rebuilt, _ = published(ALL_DAY, EARLY)
    with pytest.raises(Diverged):
        follows(rebuilt["GEC"], None)
