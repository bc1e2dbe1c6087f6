"""A range of real days built by `certx days build`, sent through the operator's replay path on the real broker:
the gateway admits every line as it stands (actors from deploy/principals.dev, recorded times), and the matcher's
committed events equal the embedded replay's byte for byte (U3), day summaries and all."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from certx.days import build
from certx.wire import events as e
from certx.wire.codec import decode_event
from tests.kafka.conftest import committed_events, counts, expected_events, replay

pytestmark = pytest.mark.kafka


def test_D5_built_days_replay_through_the_gateway_to_the_embedded_events(as_, topics, gateway, matchers):
    # Two days with auctions, six CEA vintages, CCER and GEC (no compliance deadline: on Kafka a surrender's
    # vote arrives after whatever else reached the market first, README "Compliance").
    lines = list(build.build(dt.date(2025, 7, 15), dt.date(2025, 7, 16)))
    replay(as_("operator"), topics, lines)
    matchers().wait_assigned()
    want = expected_events(lines)
    got = asyncio.run(committed_events(as_("operator"), topics, counts(want), timeout=240))
    for p in want:
        assert got[p] == want[p], f"partition {p}: events differ from certx replay"
    days = [ev for p in got for ev in map(decode_event, got[p]) if isinstance(ev, e.DaySummary)]
    assert {d.product for d in days} >= {"CEA23", "CEA24", "CCER", "GEC"}
    assert not any(isinstance(decode_event(v), (e.OrderRejected, e.CommandRejected)) for p in got for v in got[p])
