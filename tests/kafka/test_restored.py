"""A restored engine must give again the events the market published (DESIGN 2, 3), without a broker.

The matcher rebuilds a market from the latest snapshot and the command log replayed. The same log gives the same
events only under the same code and rules: a new release that answers an old command otherwise (91b575d refuses a
session opened days ahead, which an older release opened), or another rules file, rebuilds another state. Carrying
on would trade on a state the published events (and the ledger settled from them) do not describe, and give the
next events seqs already published (settlements are keyed by their event's seq: readers drop some as duplicates) or
leave a hole. So the restore compares the replayed events with the published ones (certx.kafka.restore).
"""
from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from certx.kafka.restore import Diverged, Tally, agrees
from certx.replay import Replay
from certx.rules import DEFAULT
from certx.wire.codec import encode
from loadtest.flows import trading_day

# Every session all day: orders at 07:00 trade, where DOMAIN's sessions (from 09:30) refuse them.
WHOLE = ((0, 24 * 60),)
ALL_DAY = msgspec.structs.replace(DEFAULT, **{
    m: msgspec.structs.replace(getattr(DEFAULT, m), listing_sessions=WHOLE, block_sessions=WHOLE)
    for m in ("cea", "ccer", "gec")})
EARLY = trading_day(300, seed=5, close=False, start=dt.time(7, 0))


def tallies(rules, lines, since=0):
    """Each market's events after `lines` under `rules`, from seq `since` on, and the engines."""
    replay = Replay(rules)
    tally = {m: Tally(since) for m in replay.engines}
    for event in replay.run(lines):
        tally[event.market].add(event.seq, encode(event))
    return replay.engines, tally


def test_an_engine_rebuilt_under_the_rules_that_wrote_the_events_agrees_with_them():
    """DESIGN 2: the same log and the same rules give the same events, byte for byte: the restore carries on,
    whether it compares from the log's first event or from a snapshot's seq."""
    for since in (0, 57):
        engines, published = tallies(ALL_DAY, EARLY, since)
        again, rebuilt = tallies(ALL_DAY, EARLY, since)
        for market in published:
            agrees(market, rebuilt[market], published[market], again[market].commands)
        assert published["CEA"].next == engines["CEA"].seq > since


def test_an_engine_rebuilt_under_other_rules_that_answer_the_log_otherwise_is_refused():
    """DESIGN 2, 3: events published under all-day sessions, the log replayed under DOMAIN's (an upgrade or another
    rules file): the rebuilt engine would number its next event otherwise, and the market does not carry on,
    naming both."""
    _, published = tallies(ALL_DAY, EARLY)
    rebuilt_engines, rebuilt = tallies(DEFAULT, EARLY)
    assert rebuilt["CEA"].next != published["CEA"].next, "the two rules answer the log otherwise"
    with pytest.raises(Diverged, match=rf"CEA.*next event {rebuilt['CEA'].next}.*go on at {published['CEA'].next}"):
        agrees("CEA", rebuilt["CEA"], published["CEA"], rebuilt_engines["CEA"].commands)


def line(cmd: dict) -> bytes:
    return msgspec.json.encode({**cmd, "at": "2024-03-12T10:00:00+08:00"})


# B1: one bid at 54.50 against a previous close of 50.00: inside a 10% band, outside a 5% one
BID = [line(c) for c in (
    {"type": "account.open", "id": "o", "actor": "registry", "account": "A1", "broker": "B1"},
    {"type": "funds.deposit", "id": "d", "actor": "bank", "account": "A1", "market": "CEA", "amount": "100000"},
    {"type": "product.list", "id": "l", "actor": "operator", "market": "CEA", "product": "CEA24",
     "reference_price": "50.00"},
    {"type": "session.open", "id": "s", "actor": "operator", "market": "CEA", "date": "2024-03-12"},
    {"type": "order.new", "order_id": "b1", "actor": "B1", "account": "A1", "product": "CEA24", "side": "buy",
     "quantity": 100, "price": "54.50"},
)]
NARROW = msgspec.structs.replace(DEFAULT, cea=msgspec.structs.replace(DEFAULT.cea, listing_band_bps=500))


def test_an_answer_that_changed_but_kept_its_count_is_refused_too():
    """DESIGN 2, 3, B1: the bid was accepted under a 10% band and published; a restore under a 5% band refuses it
    `price_out_of_band`: one event either way, so the next seq agrees, but the state does not (the bid rests in
    one, not in the other). The comparison of the events themselves stops the market, naming where they differ."""
    _, published = tallies(DEFAULT, BID)
    engines, rebuilt = tallies(NARROW, BID)
    assert rebuilt["CEA"].next == published["CEA"].next, "the same count of events"
    with pytest.raises(Diverged, match=r"CEA.*the first difference is within seqs 0 to 4095"):
        agrees("CEA", rebuilt["CEA"], published["CEA"], engines["CEA"].commands)


def test_a_tally_says_which_block_of_seqs_differs():
    """DESIGN 3: two streams equal up to seq 5000 and different after it differ in the second block of 4096."""
    ours, theirs = Tally(10), Tally(10)
    for seq in range(10, 6000):
        ours.add(seq, b"e%d" % seq)
        theirs.add(seq, b"e%d" % seq if seq < 5000 else b"other")
    with pytest.raises(Diverged, match="within seqs 4106 to 8201"):
        agrees("GEC", ours, theirs, 0)
    assert ours.next == theirs.next == 6000


def test_a_seq_missing_from_the_published_stream_is_a_difference():
    """DESIGN 3: each seq once: a hole in the published events (a stream that skips a seq) never agrees with a
    replay that numbers every one, even where the bytes around it are the same."""
    ours, theirs = Tally(0), Tally(0)
    for seq in range(10):
        ours.add(seq, b"x")
        if seq != 4:
            theirs.add(seq, b"x")
    theirs.add(10, b"x")
    ours.add(10, b"x")
    with pytest.raises(Diverged):
        agrees("CCER", ours, theirs, 0)


def test_a_market_with_no_event_published_agrees_only_with_an_engine_that_published_none():
    """DESIGN 2: nothing published, nothing applied: an engine that applied commands has events missing."""
    engines, rebuilt = tallies(ALL_DAY, [])
    agrees("GEC", rebuilt["GEC"], Tally(0), engines["GEC"].commands)
    engines, rebuilt = tallies(ALL_DAY, EARLY)
    with pytest.raises(Diverged):
        agrees("GEC", rebuilt["GEC"], Tally(0), engines["GEC"].commands)
