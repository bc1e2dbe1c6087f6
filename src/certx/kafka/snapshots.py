"""Engine snapshots on `certx.snapshots`: written in chunks, read back as the latest complete one.

A snapshot (certx.engine.snapshot: versioned data with a state hash) can outgrow a Kafka record, so it is cut
into chunks, each a record keyed `<partition>.<index>` (the topic is compacted, so the latest chunk of each
index is kept) with a small header: the input position the snapshot covers, the chunk's index and the count.
The chunks of one snapshot are written in one transaction, together with the consumed offsets, so a committed
snapshot never runs ahead of the committed position, and they sit next to each other in the partition.
"""
from __future__ import annotations

import struct
from typing import NamedTuple

from aiokafka import AIOKafkaConsumer, TopicPartition

from certx.kafka.connection import Connection

CHUNK = 4 * 1024 * 1024
_HEADER = struct.Struct(">8sQII")
_MAGIC = b"CERTXSNP"


class Found(NamedTuple):
    """A snapshot read back: its bytes, the input position it covers, and when it was written (epoch ms)."""

    blob: bytes
    position: int
    at: int


def chunks(blob: bytes, partition: int, position: int) -> list[tuple[bytes, bytes]]:
    """(key, value) records for one snapshot."""
    parts = [blob[i:i + CHUNK] for i in range(0, len(blob), CHUNK)] or [b""]
    return [(f"{partition}.{i}".encode(), _HEADER.pack(_MAGIC, position, i, len(parts)) + part)
            for i, part in enumerate(parts)]


def _header(value: bytes | None) -> tuple[int, int, int] | None:
    if not value or len(value) < _HEADER.size:
        return None
    magic, position, index, count = _HEADER.unpack_from(value)
    return (position, index, count) if magic == _MAGIC and index < count else None


async def latest(kafka: Connection, topic: str, partition: int, at_most: int) -> Found | None:
    """The latest complete snapshot of `partition` covering a position no later than `at_most`. Reads back
    from the end of the partition, further each time, so it seldom reads more than the last snapshot."""
    tp = TopicPartition(topic, partition)
    # The window ends with the snapshot's commit marker, which no fetch returns as a record: a fetch waiting
    # for more (aiokafka's default 500 ms) would stall every restore by that much before the loop sees its end.
    reader = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False, fetch_max_wait_ms=10,
                              max_partition_fetch_bytes=2 * CHUNK + 1024, **kafka.aiokafka())
    await reader.start()
    try:
        reader.assign([tp])
        begin = (await reader.beginning_offsets([tp]))[tp]
        end = (await reader.end_offsets([tp]))[tp]
        window = 16
        while True:
            start = max(begin, end - window)
            found = await _read_back(reader, tp, start, end, at_most)
            if found is not None or start == begin:
                return found
            window *= 8
    finally:
        await reader.stop()


async def _read_back(reader: AIOKafkaConsumer, tp: TopicPartition, start: int, end: int,
                     at_most: int) -> Found | None:
    reader.seek(tp, start)
    pieces: dict[int, dict[int, bytes]] = {}      # position -> index -> data
    counts: dict[int, int] = {}
    written: dict[int, int] = {}
    while await reader.position(tp) < end:
        for records in (await reader.getmany(tp, timeout_ms=1000)).values():
            for r in records:
                head = _header(r.value)
                if head is None:
                    continue
                position, index, count = head
                if position <= at_most:
                    pieces.setdefault(position, {})[index] = r.value[_HEADER.size:]
                    counts[position] = count
                    written[position] = r.timestamp
    for position in sorted(pieces, reverse=True):
        got = pieces[position]
        if len(got) == counts[position]:
            return Found(b"".join(got[i] for i in range(counts[position])), position, written[position])
    return None


async def newest(kafka: Connection, topic: str, partition: int) -> tuple[int, int] | None:
    """The position and time (epoch ms) of the newest snapshot chunk in `partition`, reading one record back from
    the end at a time (`certx status`: a snapshot's age without reading the snapshot)."""
    tp = TopicPartition(topic, partition)
    reader = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False, fetch_max_wait_ms=10,
                              max_partition_fetch_bytes=CHUNK + 1024, **kafka.aiokafka())
    await reader.start()
    try:
        reader.assign([tp])
        begin = (await reader.beginning_offsets([tp]))[tp]
        end = (await reader.end_offsets([tp]))[tp]
        for start in range(end - 1, max(begin, end - 64) - 1, -1):     # past commit markers and aborted records
            reader.seek(tp, start)
            for records in (await reader.getmany(tp, timeout_ms=1000, max_records=1)).values():
                head = _header(records[0].value) if records else None
                if head is not None:
                    return head[0], records[0].timestamp
        return None
    finally:
        await reader.stop()
