"""A market's engine rebuilt on assignment, and the check that it is the engine whose events were published.

The engine is the latest snapshot that verifies (certx.engine.snapshot: data, never code; one that does not decode or
verify is skipped with a warning, and the log replayed from its start instead), then the commands between it and the
committed position replayed. Their events were published when first processed; the replay encodes them again only to
compare (`Comparison`): the same log gives the same events only under the same code and rules. A release
that answers an old command otherwise than the one that published its events (91b575d refuses a session opened days
ahead, which an older release opened), or another rules file, rebuilds another state than the one those events (and
the ledger settled from them) describe. Carrying on would trade on it, and number the next events with seqs already
published (a settlement's origin is its event's seq: readers drop some as duplicates) or leave a hole. So the market
stops instead (`Diverged`), before publishing anything. Comparing the seqs alone missed an answer that changed but
kept its count: an order refused `price_out_of_band` where it was accepted is one event either way.
"""
from __future__ import annotations

import time
from collections import deque

import msgspec
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from certx import metrics
from certx.engine import Engine, snapshot
from certx.kafka import batch, snapshots
from certx.kafka.backwards import backwards
from certx.wire.routing import MARKET_OF

log = structlog.get_logger("certx.matcher")


class Diverged(RuntimeError):
    """The engine rebuilt from the log is not the one whose events `certx.events` holds: not a failure a restart
    mends. The matcher halts that market (it stays paused, unserved) and serves the others."""


class Comparison:
    """A market's replayed events set against its published ones, one by one in seq order, from seq `since` on.

    What counts is what the event says: its type and every field both encodings have, but `detail`, which is words
    for people. A release may reword a refusal or add a field (`ref` came so), and neither makes another state;
    comparing the bytes stopped such an upgrade for good wherever the replay reached a refusal (this session's red
    team). An order refused where it was accepted, another price, quantity, account or reason: those do."""

    def __init__(self, market: str, since: int) -> None:
        self.market, self.since = market, since
        self.compared = 0

    def pair(self, seq: int, mine: bytes, theirs: tuple[int, dict] | None) -> None:
        """The replayed event numbered `seq` (encoded) and the next published one (its seq, its JSON object), if
        any."""
        if theirs is None:
            raise self._diverged(seq, "the replay answers with events past the last one published")
        their_seq, their_event = theirs
        if their_seq != seq:
            raise self._diverged(seq, f"the published events go on at seq {their_seq}")
        found = differs(msgspec.json.decode(mine), their_event)
        if found is not None:
            raise self._diverged(seq, found)
        self.compared += 1

    def end(self, seq: int, theirs: tuple[int, dict] | None) -> None:
        """The replay numbers its next event `seq`; `theirs` is what is published after the last one compared."""
        if theirs is not None:
            raise self._diverged(seq, f"the published events go on (seq {theirs[0]}) where the replay ends")

    def _diverged(self, seq: int, why: str) -> Diverged:
        log.error("matcher.diverged", market=self.market, seq=seq, compared_from=self.since, why=why)
        return Diverged(
            f"{self.market}: the engine rebuilt from certx.commands answers the log otherwise than the events in "
            f"certx.events: at seq {seq}, {why}. This release or rules file is not the one that published those "
            f"events, so its state is not the one they describe. The market is not served. Run the release and rules "
            f"that published them; see the README on upgrades")


def differs(mine: dict, theirs: dict) -> str | None:
    """What the replayed event `mine` says otherwise than the published `theirs` (JSON objects), if anything."""
    if mine.get("type") != theirs.get("type"):
        return f"{theirs.get('type')} was published, the replay gives {mine.get('type')}"
    for key, value in theirs.items():
        if key != "detail" and key in mine and mine[key] != value:
            return f"its {key} was {_short(value)}, the replay gives {_short(mine[key])}"
    return None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


async def restore(s, partition: int, committed: int) -> Engine:
    """The engine of one partition as of the committed position, checked against the published events. Called after
    the partition's transactional producers were fenced: no transaction of a previous owner is open any more, so the
    events end where the committed position does."""
    market = MARKET_OF[partition]
    engine, start = Engine(market, s.rules), 0
    t0 = time.perf_counter()
    found = await snapshots.latest(s.kafka, s.topics.snapshots, partition, committed)
    blob = found.blob if found is not None else None
    t1 = time.perf_counter()
    if found is not None:
        metrics.snapshot_taken(market, len(found.blob), found.at / 1000)
    if blob is not None:
        try:
            engine, start = snapshot.load(blob, s.rules)
        except snapshot.SnapshotError as exc:
            log.warning("matcher.snapshot_skipped", partition=partition, error=str(exc),
                        action="replaying the command log from its start")
    t2 = time.perf_counter()
    from_snapshot = engine.commands
    async with Published(s, partition) as theirs:
        comparison = Comparison(market, await theirs.begin(engine.seq))
        await catch_up(s, engine, partition, start, committed, theirs, comparison)
        comparison.end(engine.seq, await theirs.next())
    t3 = time.perf_counter()
    # How long a restore took, by phase (seconds): what a restart costs before the partition serves again.
    log.info("matcher.restored", partition=partition, snapshot_position=start, committed=committed,
             commands=engine.commands, snapshot_bytes=len(blob or b""), snapshot_read_s=round(t1 - t0, 3),
             snapshot_decode_s=round(t2 - t1, 3), replayed=engine.commands - from_snapshot,
             compared=comparison.compared, replay_s=round(t3 - t2, 3), seconds=round(t3 - t0, 3))
    metrics.RESTORE.labels(market).observe(t3 - t0)
    return engine


async def catch_up(s, engine: Engine, partition: int, start: int, committed: int, theirs: Published,
                   comparison: Comparison) -> None:
    """Apply the commands between `start` and `committed`, publishing nothing, each event compared as it comes."""
    if start >= committed:
        return
    tp = TopicPartition(s.topics.commands, partition)
    reader = AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="none", isolation_level="read_committed",
                              max_partition_fetch_bytes=8 * 1024 * 1024, **s.kafka.aiokafka())
    await reader.start()
    try:
        reader.assign([tp])
        reader.seek(tp, start)
        while await reader.position(tp) < committed:
            for records in (await reader.getmany(tp, timeout_ms=1000, max_records=10_000)).values():
                first = engine.seq
                out = batch.run(engine, [r for r in records if r.offset < committed], s.topics.commands)
                for seq, mine in enumerate(out.events, first):
                    if seq >= comparison.since:
                        comparison.pair(seq, mine, await theirs.next())
    finally:
        await reader.stop()


class Published:
    """A market's committed events in `certx.events`, read forward from a seq as the replay asks for them. Called
    after the partition's transactional producers were fenced: no transaction of a previous owner is open any more,
    so the events end where the committed position does."""

    def __init__(self, s, partition: int) -> None:
        self.tp = TopicPartition(s.topics.events, partition)
        self.market = MARKET_OF[partition]
        self.reader = AIOKafkaConsumer(enable_auto_commit=False, isolation_level="read_committed", fetch_max_wait_ms=10,
                                       max_partition_fetch_bytes=8 * 1024 * 1024, **s.kafka.aiokafka())
        self.end = 0
        self.ahead: deque[tuple[int, dict]] = deque()

    async def __aenter__(self) -> Published:
        await self.reader.start()
        self.reader.assign([self.tp])
        return self

    async def __aexit__(self, *_) -> None:
        await self.reader.stop()

    async def begin(self, since: int) -> int:
        """Stand at the market's event numbered `since`, found by reading back to the last event before it; returns
        the seq to compare from: `since`, or the first one the log holds if it no longer holds `since` (retention)."""
        reader, tp = self.reader, self.tp
        begin, self.end = (await reader.beginning_offsets([tp]))[tp], (await reader.end_offsets([tp]))[tp]
        start = await _before(reader, tp, since) if since > 0 else begin
        reader.seek(tp, start)
        while (first := await self._peek()) is not None and first[0] < since:
            self.ahead.popleft()        # a window's events before `since` (none when read back to one of them)
        if first is not None and start == begin > 0 and first[0] > since:
            return first[0]         # the log's head was removed: its first event is where comparing can begin
        return since

    async def next(self) -> tuple[int, dict] | None:
        """The next of the market's events (its seq and its JSON object), None past the last."""
        found = await self._peek()
        if found is not None:
            self.ahead.popleft()
        return found

    async def _peek(self) -> tuple[int, dict] | None:
        reader, tp, ahead = self.reader, self.tp, self.ahead
        while not ahead and await reader.position(tp) < self.end:
            for records in (await reader.getmany(tp, timeout_ms=1000, max_records=10_000)).values():
                for r in records:
                    event = _event(r.value) if r.offset < self.end else None
                    if event is not None and event.get("market") == self.market:
                        ahead.append((event["seq"], event))
        return ahead[0] if ahead else None


def _event(raw: bytes | None) -> dict | None:
    """A record of certx.events as a JSON object with its seq, None if it is none: only the matcher writes there
    (certx.kafka.access), and nothing else is compared."""
    try:
        event = msgspec.json.decode(raw or b"")
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return event if type(event) is dict and type(event.get("seq")) is int else None


async def _before(reader: AIOKafkaConsumer, tp: TopicPartition, since: int) -> int:
    """Where the market's events from seq `since` begin in `tp`: just after the last event before `since`, read back
    window by window; the log's start if it holds none."""
    market = MARKET_OF[tp.partition]
    async for window in backwards(reader, tp):
        before = [r.offset for r, event in window if event.market == market and event.seq < since]
        if before:
            return before[-1] + 1
    return (await reader.beginning_offsets([tp]))[tp]
