"""A restored engine must give again the events the market published (DESIGN 2, 3), without a broker.

The matcher rebuilds a market from the latest snapshot and the command log replayed. The same log gives the same
events only under the same code and rules: a new release that answers an old command otherwise (91b575d refuses a
session opened days ahead, which an older release opened), or another rules file, rebuilds another state. Carrying
on would trade on a state the published events (and the ledger settled from them) do not describe, and give the
next events seqs already published (settlements are keyed by their event's seq: readers drop some as duplicates) or
leave a hole. So the restore compares the replayed events with the published ones, one by one
(certx.kafka.restore): what each says, its type and every field both have, but `detail`, words for people.
"""
from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from certx.kafka.restore import Comparison, Diverged
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


def answered(rules, lines):
    """Each market's events after `lines` under `rules`, encoded, and the engines."""
    replay = Replay(rules)
    events = {m: [] for m in replay.engines}
    for event in replay.run(lines):
        events[event.market].append(encode(event))
    return replay.engines, events


def compare(market, engines, mine, theirs, since=0):
    """The restore's comparison of the replayed events `mine` with the published `theirs` (both encoded), from
    `since`, as the matcher makes it."""
    comparison = Comparison(market, since)
    published = iter([(event["seq"], event) for event in map(msgspec.json.decode, theirs) if event["seq"] >= since])
    for raw in mine:
        seq = msgspec.json.decode(raw)["seq"]
        if seq >= since:
            comparison.pair(seq, raw, next(published, None))
    comparison.end(engines[market].seq, next(published, None))
    return comparison.compared


def test_an_engine_rebuilt_under_the_rules_that_wrote_the_events_agrees_with_them():
    """DESIGN 2: the same log and the same rules give the same events: the restore carries on, whether it compares
    from the log's first event or from a snapshot's seq."""
    _, published = answered(ALL_DAY, EARLY)
    engines, rebuilt = answered(ALL_DAY, EARLY)
    for since in (0, 57):
        for market in published:
            compare(market, engines, rebuilt[market], published[market], since)
    assert compare("CEA", engines, rebuilt["CEA"], published["CEA"], 57) == len(published["CEA"]) - 57 > 0


def test_an_engine_rebuilt_under_other_rules_that_answer_the_log_otherwise_is_refused():
    """DESIGN 2, 3: events published under all-day sessions, the log replayed under DOMAIN's (an upgrade or another
    rules file): the rebuilt engine answers otherwise, and the market does not carry on, saying where."""
    _, published = answered(ALL_DAY, EARLY)
    engines, rebuilt = answered(DEFAULT, EARLY)
    assert len(rebuilt["CEA"]) != len(published["CEA"]), "the two rules answer the log otherwise"
    with pytest.raises(Diverged, match=r"CEA: .* at seq \d+, "):
        compare("CEA", engines, rebuilt["CEA"], published["CEA"])


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
    one, not in the other). The events themselves are compared, and the market stops, naming the seq."""
    _, published = answered(DEFAULT, BID)
    engines, rebuilt = answered(NARROW, BID)
    assert len(rebuilt["CEA"]) == len(published["CEA"]), "the same count of events"
    last = len(published["CEA"]) - 1
    with pytest.raises(Diverged, match=rf"CEA: .* at seq {last}, order.accepted was published, the replay gives "
                                       r"order.rejected"):
        compare("CEA", engines, rebuilt["CEA"], published["CEA"])


def reworded(events: list[bytes], change) -> list[bytes]:
    out = []
    for raw in events:
        event = msgspec.json.decode(raw)
        change(event)
        out.append(msgspec.json.encode(event))
    return out


def test_a_release_that_rewords_a_refusal_or_adds_a_field_rebuilds_the_same_market():
    """DESIGN 2: what an event says is its type and its fields, not the words of a refusal's `detail` nor a field an
    older release did not write (`ref` came so): an upgrade that changes only those carries on. Comparing the bytes
    stopped it for good wherever the replay met a refusal."""
    engines, rebuilt = answered(NARROW, BID)
    assert b'"detail":"5450 fen outside' in rebuilt["CEA"][-1], "the bid is refused, saying why"

    def older(event: dict) -> None:
        if "detail" in event:
            event["detail"] = "worded otherwise"
        event.pop("ref", None)

    assert compare("CEA", engines, rebuilt["CEA"], reworded(rebuilt["CEA"], older)) == len(rebuilt["CEA"])


def test_a_trade_published_at_another_price_is_a_divergence():
    """DESIGN 3, A4: a field both have, said otherwise (a trade's price), is another state."""
    engines, rebuilt = answered(ALL_DAY, EARLY)
    trade = next(i for i, raw in enumerate(rebuilt["CEA"]) if b'"type":"trade"' in raw)

    def dearer(event: dict) -> None:
        if event["seq"] == trade:
            event["price"] = "99.99"

    with pytest.raises(Diverged, match=rf"at seq {trade}, its price was '99.99', the replay gives"):
        compare("CEA", engines, rebuilt["CEA"], reworded(rebuilt["CEA"], dearer))


def test_a_seq_missing_from_the_published_events_is_a_divergence():
    """DESIGN 3: each seq once: a hole in the published events never agrees with a replay that numbers each one."""
    engines, rebuilt = answered(ALL_DAY, EARLY)
    holed = rebuilt["CEA"][:4] + rebuilt["CEA"][5:]
    with pytest.raises(Diverged, match="at seq 4, the published events go on at seq 5"):
        compare("CEA", engines, rebuilt["CEA"], holed)
    with pytest.raises(Diverged, match="where the replay ends"):
        compare("CEA", engines, rebuilt["CEA"][:-1], rebuilt["CEA"])


def test_a_market_with_no_event_published_agrees_only_with_an_engine_that_published_none():
    """DESIGN 2: nothing published, nothing applied: an engine that applied commands has events missing."""
    engines, rebuilt = answered(ALL_DAY, [])
    compare("GEC", engines, rebuilt["GEC"], [])
    engines, rebuilt = answered(ALL_DAY, EARLY)
    with pytest.raises(Diverged, match="past the last one published"):
        compare("GEC", engines, rebuilt["GEC"], [])
