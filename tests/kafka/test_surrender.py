"""C1 across two markets on the real broker: a surrender is all or nothing, through kill -9 of the gateway and the
matcher at random points between its two phases. No surrender ends with one leg done and the other not, every
one is decided exactly once, and each surrender's events are those of an uninterrupted run."""
from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import subprocess
import sys
import time
from collections import defaultdict

import msgspec
import pytest

from certx.replay import Replay
from certx.wire.codec import decode_event, encode
from tests.kafka.conftest import read_topic, replay

pytestmark = pytest.mark.kafka

CST = dt.timezone(dt.timedelta(hours=8))
DAY = dt.datetime(2025, 6, 3, 9, 0, tzinfo=CST)


def surrender_day(accounts: int, seed: int) -> list[bytes]:
    """Set-up, then one surrender per account: most can be surrendered, some are short in the CEA leg or the
    CCER leg (released), some over the 5% cap (refused by both legs). Each account surrenders once, so the
    surrenders do not depend on one another, however their phases interleave."""
    rng = random.Random(seed)
    at = DAY
    enc = msgspec.json.encode
    lines = []
    for i in range(accounts):
        a = f"E{i}"
        lines += [enc({"type": "account.open", "id": f"open-{a}", "actor": "registry", "account": a, "broker": "B1",
                       "at": at.isoformat()}),
                  enc({"type": "issue.cea", "id": f"cea-{a}", "actor": "registry", "account": a, "product": "CEA24",
                       "quantity": 95_000, "at": at.isoformat()}),
                  enc({"type": "issue.ccer", "id": f"ccer-{a}", "actor": "registry", "account": a, "product": "CCER",
                       "project": f"P{i}", "vintage": 2023, "quantity": 5_000, "at": at.isoformat()})]
    for i in range(accounts):
        at += dt.timedelta(seconds=1)
        cea, ccer = rng.choice([(95_000, 5_000), (90_000, 4_000), (95_001, 5_000), (95_000, 5_001),
                                (50_000, 3_000)])
        lines.append(enc({"type": "surrender", "id": f"S{i}", "actor": "registry", "account": f"E{i}",
                          "compliance_year": 2024, "cea": {"CEA24": cea}, "ccer": ccer, "at": at.isoformat()}))
    return lines


def by_surrender(events) -> dict[str, list[bytes]]:
    """Each surrender's events, in each market's order, without their place in the streams."""
    out: dict[str, list[bytes]] = defaultdict(list)
    for ev in sorted(events, key=lambda ev: (ev.market, ev.seq)):
        if ev.ref.startswith("S"):
            wire = msgspec.json.decode(encode(ev))
            wire.pop("seq"), wire.pop("origin")
            out[ev.ref].append(msgspec.json.encode(wire))
    return dict(out)


def test_C1_kill_9_between_the_phases_never_leaves_half_a_surrender(as_, topics, services, matchers, tmp_path):
    lines = surrender_day(240, seed=10)
    want = by_surrender(Replay().run(lines))
    outcomes = {ref: [x for x in evs if b'"surrendered"' in x or b'"surrender.released"' in x] for ref, evs in
                want.items()}
    assert sum(1 for evs in outcomes.values() if len(evs) == 2) > 60, "many surrender both legs"
    assert any(b'surrender.released' in x for evs in want.values() for x in evs), "some are released"

    operator = as_("operator")
    setup = [x for x in lines if b'"surrender"' not in x]
    replay(operator, topics, setup)                  # the accounts and their units first, at once
    path = tmp_path / "surrenders.jsonl"
    path.write_bytes(b"\n".join(lines[len(setup):]) + b"\n")
    feeder = subprocess.Popen([sys.executable, "-m", "certx.cli", "submit", str(path), "--replay", "--rate", "5",
                               "--quiet", "--bootstrap", operator.bootstrap, "--prefix", topics.prefix],
                              env={**os.environ, "CERTX_KAFKA_USER": operator.username,
                                   "CERTX_KAFKA_PASSWORD": operator.password})
    rng = random.Random(99)
    gateway = services("gateway")
    matcher = matchers(snapshot_every=rng.choice([50, 200]))
    gateway.wait_ready()
    matcher.wait_assigned()
    kills = 0
    try:
        while feeder.poll() is None:            # kill while surrenders arrive and are being decided
            time.sleep(rng.uniform(0.3, 1.0))
            if rng.random() < 0.5:
                gateway.kill9()
                gateway = services("gateway")
                gateway.wait_ready()
            else:
                matcher.kill9()
                matcher = matchers(snapshot_every=rng.choice([50, 200]))
                matcher.wait_assigned()
            kills += 1
    finally:
        assert feeder.wait(300) == 0
    assert kills >= 10, "at least ten kills came while surrenders were arriving and being decided"

    total = sum(map(len, want.values()))
    deadline = time.monotonic() + 180
    while True:
        got = asyncio.run(read_topic(operator, topics.events, [0, 1], None, timeout=5, settle=0))
        events = [decode_event(r.value) for records in got.values() for r in records]
        have = by_surrender(events)
        if sum(map(len, have.values())) >= total or time.monotonic() > deadline:
            break
        time.sleep(1)

    decided = defaultdict(int)
    for ev in events:
        if ev.__struct_config__.tag == "surrender.decided":
            decided[ev.ref] += 1
    assert all(n == 1 for n in decided.values()), "every surrender decided exactly once"
    for ref in want:
        done = {ev.market for ev in events if ev.ref == ref and ev.__struct_config__.tag == "surrendered"}
        assert done in (set(), {"CEA", "CCER"}), f"{ref}: half a surrender, {done}"
    assert have == want, "each surrender's events are those of an uninterrupted run"
