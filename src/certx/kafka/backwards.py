"""A partition's events read from its end back, window by window: where a market's events end, and its latest
session, without reading the whole log (a matcher's restore, `certx status`)."""
from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from certx.wire.codec import decode_event
from certx.wire.events import Event


async def backwards(reader: AIOKafkaConsumer, tp: TopicPartition, most: int | None = None, kind: bytes | None = None,
                    ) -> AsyncIterator[list[tuple[ConsumerRecord, Event]]]:
    """The committed events of `tp` (assigned to `reader`), newest window first, each window in log order: 64
    records, then eight times as many before them, and so on, to the partition's start or `most` records back.
    A record that is not an event is passed over: only the matcher may write there (certx.kafka.access), and the
    services dead-letter what they cannot read. With `kind` (a type's name, quoted), only the records that hold it
    are decoded: a look for one kind of event among a day's million is not a million decodings."""
    begin, end = (await reader.beginning_offsets([tp]))[tp], (await reader.end_offsets([tp]))[tp]
    stop, window = end, 64
    while stop > begin and (most is None or end - stop < most):
        start = max(begin, stop - window, end - most if most is not None else begin)
        reader.seek(tp, start)
        found = []
        while await reader.position(tp) < stop:
            for records in (await reader.getmany(tp, timeout_ms=1000)).values():
                for r in records:
                    if r.offset < stop and (kind is None or kind in (r.value or b"")):
                        try:
                            found.append((r, decode_event(r.value or b"")))
                        except (msgspec.DecodeError, UnicodeDecodeError):
                            pass
        yield found
        stop, window = start, window * 8
