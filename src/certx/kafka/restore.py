"""A market's engine rebuilt on assignment, and the check that it is the engine whose events were published.

The engine is the latest snapshot that verifies (certx.engine.snapshot: data, never code; one that does not decode or
verify is skipped with a warning, and the log replayed from its start instead), then the commands between it and the
committed position replayed. Their events were published when first processed; the replay encodes them again only to
compare (`Tally`): the same log gives the same events, byte for byte, only under the same code and rules. A release
that answers an old command otherwise than the one that published its events (91b575d refuses a session opened days
ahead, which an older release opened), or another rules file, rebuilds another state than the one those events (and
the ledger settled from them) describe. Carrying on would trade on it, and number the next events with seqs already
published (a settlement's origin is its event's seq: readers drop some as duplicates) or leave a hole. So the market
stops instead (`Diverged`), before publishing anything. Comparing the seqs alone missed an answer that changed but
kept its count: an order refused `price_out_of_band` where it was accepted is one event either way.
"""
from __future__ import annotations

import hashlib
import time

import msgspec
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from certx import metrics
from certx.engine import Engine, snapshot
from certx.kafka import batch, snapshots
from certx.kafka.backwards import backwards
from certx.wire.codec import decode_event
from certx.wire.routing import MARKET_OF

log = structlog.get_logger("certx.matcher")


class Diverged(RuntimeError):
    """The engine rebuilt from the log is not the one whose events `certx.events` holds: not a failure a restart
    mends (exit 70)."""


class Tally:
    """A market's events from seq `since` on, as encoded: how many, the seq after them, and a digest of every BLOCK
    of them, so that two tallies that differ say from where (a digest of each event would cost memory in
    proportion to a whole log replayed without a snapshot)."""

    BLOCK = 4096

    def __init__(self, since: int) -> None:
        self.since = self.next = since
        self.blocks: list[bytes] = []
        self._open = hashlib.sha256()

    def add(self, seq: int, raw: bytes) -> None:
        """The event numbered `seq`, encoded; those before `since` are not counted."""
        if seq < self.since:
            return
        if seq != self.next:
            # a seq missing or repeated in the stream: the digests would still differ, this says where
            self._open.update(b"seq %d" % seq)
        self._open.update(len(raw).to_bytes(4, "big"))
        self._open.update(raw)
        self.next = seq + 1
        if (self.next - self.since) % self.BLOCK == 0:
            self.blocks.append(self._open.digest())
            self._open = hashlib.sha256()

    def add_run(self, first: int, raws: list[bytes]) -> None:
        """Events numbered from `first` on, in order (a batch's: the engine numbers them one after another)."""
        for seq, raw in enumerate(raws, first):
            self.add(seq, raw)

    def digests(self) -> list[bytes]:
        return [*self.blocks, self._open.digest()]


def agrees(market: str, rebuilt: Tally, published: Tally, commands: int) -> None:
    """DESIGN 2, 3: the rebuilt engine's events since `published.since` are the published ones, byte for byte, and
    it numbers its next event where they end; else `Diverged`, naming the first block of seqs that differs."""
    if rebuilt.since != published.since:
        raise ValueError("tallies from different seqs cannot be compared")
    if rebuilt.next == published.next and rebuilt.digests() == published.digests():
        return
    mine, theirs = rebuilt.digests(), published.digests()
    block = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), min(len(mine), len(theirs)) - 1)
    first = published.since + block * Tally.BLOCK
    differs = f"seqs {first} to {first + Tally.BLOCK - 1}"
    log.error("matcher.diverged", market=market, commands=commands, compared_from=published.since,
              next_seq=rebuilt.next, published_next_seq=published.next, first_difference=differs)
    raise Diverged(
        f"{market}: the engine rebuilt from certx.commands answers the log otherwise than the events in certx.events "
        f"(compared from seq {published.since}: the first difference is within {differs}; it would number its next "
        f"event {rebuilt.next}, the published events go on at {published.next}). This release or rules file is not "
        f"the one that published those events, so its state is not the one they describe. The market is not served. "
        f"Run the release and rules that published them; see the README on upgrades")


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
    theirs = await published(s, partition, engine.seq)
    mine = Tally(theirs.since)
    await catch_up(s, engine, partition, start, committed, mine)
    agrees(market, mine, theirs, engine.commands)
    t3 = time.perf_counter()
    # How long a restore took, by phase (seconds): what a restart costs before the partition serves again.
    log.info("matcher.restored", partition=partition, snapshot_position=start, committed=committed,
             commands=engine.commands, snapshot_bytes=len(blob or b""), snapshot_read_s=round(t1 - t0, 3),
             snapshot_decode_s=round(t2 - t1, 3), replayed=engine.commands - from_snapshot,
             compared_from_seq=theirs.since, replay_s=round(t3 - t2, 3), seconds=round(t3 - t0, 3))
    metrics.RESTORE.labels(market).observe(t3 - t0)
    return engine


async def catch_up(s, engine: Engine, partition: int, start: int, committed: int, tally: Tally) -> None:
    """Apply the commands between `start` and `committed`, publishing nothing, their events counted in `tally`."""
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
                tally.add_run(first, out.events)
    finally:
        await reader.stop()


async def published(s, partition: int, since: int) -> Tally:
    """The market's committed events in `certx.events` from seq `since` on (or from its first kept one, if the log
    no longer holds `since`): found by reading back window by window to an event before `since`, then read forward."""
    tp = TopicPartition(s.topics.events, partition)
    market = MARKET_OF[partition]
    reader = AIOKafkaConsumer(enable_auto_commit=False, isolation_level="read_committed", fetch_max_wait_ms=10,
                              max_partition_fetch_bytes=8 * 1024 * 1024, **s.kafka.aiokafka())
    await reader.start()
    try:
        reader.assign([tp])
        begin, end = (await reader.beginning_offsets([tp]))[tp], (await reader.end_offsets([tp]))[tp]
        start = await _before(reader, tp, since) if since > 0 else begin
        tally = None
        reader.seek(tp, start)
        while await reader.position(tp) < end:
            for records in (await reader.getmany(tp, timeout_ms=1000, max_records=10_000)).values():
                for r in records:
                    if r.offset >= end:
                        continue
                    try:
                        event = decode_event(r.value or b"")
                    except (msgspec.DecodeError, UnicodeDecodeError):
                        continue        # only the matcher writes there (certx.kafka.access); nothing to compare
                    if event.market != market:
                        continue
                    if tally is None:
                        # read from the log's start: it may no longer hold `since` (retention), compare what it holds
                        tally = Tally(max(since, event.seq) if start == begin else since)
                    tally.add(event.seq, r.value or b"")
        return tally if tally is not None else Tally(since)
    finally:
        await reader.stop()


async def _before(reader: AIOKafkaConsumer, tp: TopicPartition, since: int) -> int:
    """Where the market's events from seq `since` begin in `tp`: just after the last event before `since`, read back
    window by window; the log's start if it holds none."""
    market = MARKET_OF[tp.partition]
    async for window in backwards(reader, tp):
        before = [r.offset for r, event in window if event.market == market and event.seq < since]
        if before:
            return before[-1] + 1
    return (await reader.beginning_offsets([tp]))[tp]
