"""`certx status`: each market as the operator sees it from the broker, without asking any service (DESIGN 8).

For each market (one partition of every market topic):
- the session: open or closed, and the trading day, from the latest `session.opened`/`session.closed` event;
- the input: the matcher group's committed position in `certx.commands`, the log's end, and the lag: the commands
  between them (counted; a lag over ten thousand offsets is shown in offsets, as `kafka-consumer-groups` does);
- the last event: its time (the time of the command that gave it) and its `seq`;
- the snapshot: the position the newest one covers and its age.

It runs as the operator's principal, which may read the command log and the events, describe the services'
consumer groups and read the snapshots' headers (certx.kafka.access). Whatever this principal may not see is
shown as unknown rather than failing the whole table.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from certx.kafka import snapshots
from certx.kafka.backwards import backwards
from certx.kafka.connection import Connection
from certx.kafka.reach import visible_topics
from certx.kafka.topics import Topics
from certx.wire import events as e
from certx.wire.routing import MARKET_OF

LOOK_BACK = 100_000      # events read back, at most, to find a market's session state
COUNT_UP_TO = 10_000     # a lag up to this many offsets is counted in commands; a larger one is shown in offsets


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="seconds")


async def _committed(kafka: Connection, group: str, tps: list[TopicPartition]) -> dict[TopicPartition, int | None]:
    reader = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **kafka.aiokafka())
    await reader.start()
    try:
        return {tp: await reader.committed(tp) for tp in tps}
    except KafkaError:
        return {tp: None for tp in tps}           # the principal may not describe the group
    finally:
        await reader.stop()


async def _latest_events(reader: AIOKafkaConsumer, tp: TopicPartition) -> tuple[e.Event | None, e.Event | None, int | None]:
    """The newest event of the partition, its record time, and the newest session event, read back from the end
    (at most LOOK_BACK events)."""
    newest: e.Event | None = None
    newest_at: int | None = None
    async for window in backwards(reader, tp, LOOK_BACK):
        if newest is None and window:
            record, newest = window[-1]
            newest_at = record.timestamp
        sessions = [event for _, event in window if isinstance(event, (e.SessionOpened, e.SessionClosed))]
        if sessions:
            return newest, sessions[-1], newest_at
    return newest, None, newest_at


async def _unapplied(kafka: Connection, tp: TopicPartition, committed: int, end: int) -> int:
    """Commands between the matcher's position and the log's end. The gateway's commit markers take offsets too,
    and the matcher commits its position only with a batch, so the last marker shows as a lag of one offset while
    nothing waits: a small lag is counted in records (read_committed skips the markers)."""
    if end - committed > COUNT_UP_TO or end <= committed:
        return max(end - committed, 0)
    reader = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False, fetch_max_wait_ms=10,
                              **kafka.aiokafka())
    await reader.start()
    found = 0
    try:
        reader.assign([tp])
        reader.seek(tp, committed)
        while await reader.position(tp) < end:
            for records in (await reader.getmany(tp, timeout_ms=1000)).values():
                found += sum(r.offset < end for r in records)
    finally:
        await reader.stop()
    return found


async def status(kafka: Connection, topics: Topics = Topics()) -> list[dict[str, Any]]:
    """One row per market."""
    # A topic the principal may not read is never asked for: aiokafka retries such a request without end.
    readable_snapshots = topics.snapshots in await visible_topics(kafka)
    commands = [TopicPartition(topics.commands, p) for p in sorted(MARKET_OF)]
    committed = await _committed(kafka, topics.group("matcher"), commands)
    reader = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False, fetch_max_wait_ms=10,
                              **kafka.aiokafka())
    await reader.start()
    rows = []
    try:
        ends = await reader.end_offsets(commands)
        reader.assign([TopicPartition(topics.events, p) for p in sorted(MARKET_OF)])
        for tp in commands:
            p = tp.partition
            newest, session, newest_at = await _latest_events(reader, TopicPartition(topics.events, p))
            snap = await snapshots.newest(kafka, topics.snapshots, p) if readable_snapshots else None
            position = committed[tp]
            rows.append({
                "market": MARKET_OF[p],
                "session": None if session is None else
                f"{'open' if isinstance(session, e.SessionOpened) else 'closed'} {session.date.isoformat()}",
                "input_offset": position,
                "input_end": ends[tp],
                "lag": None if position is None else await _unapplied(kafka, tp, position, ends[tp]),
                "last_event_at": _iso(newest_at),
                "last_event_seq": None if newest is None else newest.seq,
                "snapshot_position": None if snap is None else snap[0],
                "snapshot_age_s": None if snap is None else round(time.time() - snap[1] / 1000, 1),
            })
    finally:
        await reader.stop()
    return rows
