"""Nothing lost, nothing stops (DESIGN 7, PROTOCOL's strict contract) on the real broker: 100,000 hostile records
interleaved with a known good day through the gateway and the matcher. Every one is answered, by a refusal on
`certx.events` or, for bytes that are not a JSON object, by a dead letter that arrives; none changes state: the good
commands' events are those of `certx replay` of the good commands alone; and no service stops."""
from __future__ import annotations

import asyncio
import hashlib
from collections import Counter

import msgspec
import pytest

from certx.wire.codec import decode_event, encode
from certx.wire.dead_letter import DeadLetter
from loadtest.flows import trading_day
from loadtest.hostile import mix
from tests.kafka.conftest import expected_events, produce_values, read_topic

pytestmark = pytest.mark.kafka

HOSTILE = 100_000


def without_position(raw: bytes) -> bytes:
    """An event without its place in the stream (seq, origin), which hostile commands before it shift."""
    wire = msgspec.json.decode(raw)
    for key in ("seq", "origin"):
        wire.pop(key, None)
    return msgspec.json.encode(wire)


def test_100_000_hostile_records_are_all_answered_lose_nothing_and_change_nothing(as_, topics, gateway, matchers):
    good = trading_day(3_000, seed=17)
    sent = mix(good, HOSTILE, seed=3)
    operator = as_("operator")
    asyncio.run(produce_values(operator, topics.replay, sent.lines))     # the operator's replay path
    m = matchers(snapshot_every=20_000)
    m.wait_assigned()
    answered_hostile = len(sent.refs)
    want_good = expected_events(good)
    want = sum(map(len, want_good.values())) + answered_hostile
    got = asyncio.run(read_topic(operator, topics.events, [0, 1, 2], want, timeout=600, settle=3))
    events = [decode_event(r.value) for records in got.values() for r in records]

    # Every hostile JSON object answered, once, by a refusal with its ref (or none, when the ref is what broke).
    refusals = Counter(ev.ref for ev in events if ev.__struct_config__.tag.endswith("rejected")
                       and (ev.ref.startswith("h") or ev.ref == "" or ev.reason == "duplicate_command"))
    assert refusals == Counter(sent.refs), "every hostile object is answered exactly once"
    assert {ev.reason for ev in events if ev.ref.startswith("h")} == {"malformed"}

    # Every dead letter arrives, and says what it was: the original's length and SHA-256, a bounded prefix.
    dlq = asyncio.run(read_topic(operator, topics.dlq, [0], len(sent.not_objects), timeout=120, settle=1))[0]
    dead = [msgspec.json.decode(r.value, type=DeadLetter) for r in dlq]
    assert [(d.length, d.sha256) for d in dead] == \
        [(len(x), hashlib.sha256(x).hexdigest()) for x in sent.not_objects]
    assert all(d.original == x[:4096] and d.service == "gateway" for d, x in zip(dead, sent.not_objects))
    assert max(len(r.value) for r in dlq) < 8_000, "a dead letter always fits"

    # Nothing changed state: the good commands' events are the good day's, in order, in every market.
    hostile_refs = set(sent.refs)
    for p, records in got.items():
        good_events = [encode(ev) for ev in (decode_event(r.value) for r in records)
                       if not (ev.__struct_config__.tag.endswith("rejected")
                               and (ev.ref in hostile_refs or ev.ref == "")
                               and (ev.ref.startswith("h") or ev.ref == "" or ev.reason == "duplicate_command"))]
        assert [without_position(x) for x in good_events] == [without_position(x) for x in want_good[p]], \
            f"partition {p}: the good day's events changed"

    assert m.proc.poll() is None and gateway.proc.poll() is None, "no service stopped"
