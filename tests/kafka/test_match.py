"""A data centre's year matched and settled through Kafka (issue 13, items 3 and 4): certx.sample.hourly's year
(six projects' hourly curves, their monthly lots, one `gec.match` of 8,760 hourly loads) through the gateway, the
matcher and the projector. The committed events equal the embedded replay's byte for byte, so the same log gives
the same allocation (U3); PostgreSQL cancels every allocated serial in the beneficiary's name, once (G1); and the
buyer's evidence made from the events read back from Kafka is the one made from the embedded replay's."""
from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from certx import money
from certx.hours import evidence
from certx.hours.matches import Matches, period
from certx.kafka.connection import Connection
from certx.kafka.topics import Topics
from certx.sample.hourly import BUYER, year
from certx.store import open_store
from certx.wire import events as e
from certx.wire.codec import decode_event
from tests.kafka.conftest import committed_events, counts, expected_events, replay
from tests.kafka.test_projector import engine_events, expected_ledger, wait_settled

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def report(events) -> bytes:
    matches = Matches()
    for ev in events:
        matches.add(ev)
    first, end = period("2025")
    [allocation] = matches.of(BUYER, first, end)
    return evidence.to_json(evidence.evidence(matches.inputs(allocation, first, end)))


def test_G1_U3_a_data_centres_year_matched_and_settled_through_kafka(as_, topics, gateway, matchers, pg_dsn,
                                                                     projectors):
    lines = year()
    want = expected_events(lines)
    matchers().wait_assigned()
    projector = projectors(pg_dsn)
    projector.wait_started()
    replay(as_("operator"), topics, lines)
    got = asyncio.run(committed_events(as_("operator"), topics, counts(want)))
    for p in want:
        assert got[p] == want[p], f"partition {p}: events differ from certx replay"

    embedded = engine_events(lines)
    [allocation] = [ev for ev in embedded if isinstance(ev, e.Allocated)]
    assert allocation.matched_kwh > 0.9 * allocation.load_kwh and len(allocation.trades) > 10
    serials = sorted(tuple(r) for t in allocation.trades for r in t.serials)

    wait_settled(pg_dsn, {p: len(v) for p, v in want.items()})
    store = open_store(pg_dsn)
    try:
        cancelled = store.retirements(allocation.beneficiary)
        holdings = store.holdings(BUYER)
    finally:
        store.close()
    assert sorted(tuple(r["serials"]) for r in cancelled) == serials
    assert {r["owner"] for r in cancelled} == {BUYER}
    assert holdings["cash"]["GEC"] == money.text(100_000_000 * 100 - int(allocation.cost))   # paid, once

    from_kafka = report(decode_event(raw) for raw in got[2])
    assert from_kafka == report(embedded)
    assert evidence.verify(from_kafka)


def test_a_match_longer_than_the_session_timeout_keeps_the_matcher_in_its_group(as_, topics, gateway, matchers):
    """A 24/7 match may take the solver seconds (certx.hours.allocation): longer than the matcher's session timeout
    (2 s here). The matcher applies a batch off its event loop, so it keeps heart-beating: it is never evicted, its
    partitions never move, and the events are the embedded replay's."""
    lines = year(projects=12, load_kw=400)              # 5,659 classes over several hours each: the LP path
    want = expected_events(lines)
    matcher = matchers()
    matcher.wait_assigned()
    replay(as_("operator"), topics, lines)
    got = asyncio.run(committed_events(as_("operator"), topics, counts(want)))
    for p in want:
        assert got[p] == want[p], f"partition {p}: events differ from certx replay"
    assigned = [line for line in matcher.text().splitlines() if '"matcher.assigned"' in line]
    assert len(assigned) == 1, f"the matcher's partitions moved: {assigned}"


async def in_the_command_log(operator: Connection, topics: Topics) -> None:
    """Returns once the `gec.match` is in the command log: the matcher fetches it at once and solves it for
    seconds."""
    reader = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False,
                              auto_offset_reset="earliest", **operator.aiokafka())
    await reader.start()
    try:
        reader.assign([TopicPartition(topics.commands, 2)])
        deadline = time.monotonic() + 60
        seen = False
        while not seen and time.monotonic() < deadline:
            for records in (await reader.getmany(timeout_ms=100)).values():
                seen = seen or any(b'"gec.match"' in (r.value or b"") for r in records)
        assert seen, "the gec.match never reached the command log"
    finally:
        await reader.stop()


async def a_member_joins_and_leaves_while_it_is_solved(operator: Connection, matcher: Connection,
                                                       topics: Topics) -> None:
    """Once the `gec.match` is in the command log, a second member joins the matchers' group and leaves: two
    rebalances while the match is being solved, as when a second matcher instance starts or its supervisor restarts
    it. The member never commits a position."""
    await in_the_command_log(operator, topics)
    member = AIOKafkaConsumer(group_id=topics.group("matcher"), client_id="zz-member", enable_auto_commit=False,
                              isolation_level="read_committed", **matcher.aiokafka())
    await member.start()
    try:
        member.subscribe([topics.commands])
        deadline = time.monotonic() + 60
        while not member.assignment() and time.monotonic() < deadline:
            await member.getmany(timeout_ms=100, max_records=1)
    finally:
        await member.stop()          # leaves the group: another rebalance


def test_U3_a_rebalance_while_a_match_is_solved_applies_it_once(as_, topics, gateway, matchers):
    """The matcher solves a batch holding a 24/7 match off its event loop, so its group may rebalance meanwhile.
    What it lets go of must be the engine as it stands after the batch it is applying, with that batch's position
    (and its transaction committed), never the engine half-way, or done, with the position before it: kept so and
    assigned back, the engine applied the batch twice, and the market published the second answer (the match
    refused as a duplicate order id), while its lots and the buyer's cash had gone to the first (U3: the same
    log gives the same events)."""
    lines = year(projects=12, load_kw=400)              # the LP path: seconds of solving
    want = expected_events(lines)
    matcher = matchers()
    matcher.wait_assigned()
    operator = as_("operator")
    replay(operator, topics, lines[:-1])
    asyncio.run(committed_events(operator, topics, counts(expected_events(lines[:-1]))))
    assert b'"gec.match"' in lines[-1]
    replay(operator, topics, lines[-1:])
    asyncio.run(a_member_joins_and_leaves_while_it_is_solved(operator, as_("matcher"), topics))
    got = asyncio.run(committed_events(operator, topics, counts(want)))
    assigned = [line for line in matcher.text().splitlines() if '"matcher.assigned"' in line]
    assert len(assigned) >= 2, "no rebalance happened"
    for p in want:
        assert got[p] == want[p], f"partition {p}: events differ from certx replay"


def test_G1_A4_a_matcher_killed_while_it_solves_a_match_and_the_projector_while_it_settles_it(
        as_, topics, gateway, matchers, pg_dsn, projectors):
    """kill -9 of the matcher while the year's match is being solved, then of the projector once the allocation is
    committed (before, while or after it settles its trades): the new matcher answers the match as the embedded
    replay does, once, and the read model is the ledger of those events: every serial cancelled once in the
    beneficiary's name (G1), the buyer's cash paid once and every seller's received (A4), nothing else moved."""
    lines = year(projects=12, load_kw=400)
    want = expected_events(lines)
    first = matchers()
    first.wait_assigned()
    projector = projectors(pg_dsn)
    projector.wait_started()
    operator = as_("operator")
    replay(operator, topics, lines)
    asyncio.run(in_the_command_log(operator, topics))
    first.kill9()
    matchers().wait_assigned()
    got = asyncio.run(committed_events(operator, topics, counts(want)))
    for p in want:
        assert got[p] == want[p], f"partition {p}: events differ from certx replay"
    projector.kill9()
    projectors(pg_dsn).wait_started()

    embedded = engine_events(lines)
    [allocation] = [ev for ev in embedded if isinstance(ev, e.Allocated)]
    wait_settled(pg_dsn, counts(want))
    store = open_store(pg_dsn)
    try:
        ledger = store.load_ledger()
        cancelled = store.retirements(allocation.beneficiary)
    finally:
        store.close()
    expected = expected_ledger(embedded)
    assert ledger.cash == expected.cash and ledger.units == expected.units
    assert list(ledger.cancelled) == list(expected.cancelled)
    assert sorted(tuple(r["serials"]) for r in cancelled) == sorted(tuple(r) for t in allocation.trades
                                                                     for r in t.serials)
