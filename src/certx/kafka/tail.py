"""`certx tail events`: print the committed events (read_committed) as readable lines."""
from __future__ import annotations

from aiokafka import AIOKafkaConsumer

from certx import money
from certx.kafka.connection import Connection
from certx.kafka.topics import Topics
from certx.wire import events as e
from certx.wire.codec import decode_event


def describe(ev: e.Event) -> str:
    """One event as a line a person reads."""
    head = f"{ev.market:<4} #{ev.seq:<7} {ev.__struct_config__.tag:<17}"
    match ev:
        case e.Trade():
            serials = f" serials {ev.serials}" if ev.serials else ""
            return (f"{head} {ev.product} {ev.mode} {ev.quantity:,} @ {money.text(ev.price)} "
                    f"{ev.seller} -> {ev.buyer}{serials}")
        case e.OrderAccepted():
            return f"{head} {ev.order_id} {ev.account} {ev.side} {ev.quantity:,} {ev.product} @ {money.text(ev.price)}"
        case e.OrderRejected() | e.CommandRejected():
            return f"{head} {ev.ref} {ev.reason} {ev.detail}".rstrip()
        case e.DaySummary():
            f = lambda v: "-" if v is None else money.text(v)  # noqa: E731
            return (f"{head} {ev.product} {ev.date} O {f(ev.open)} H {f(ev.high)} L {f(ev.low)} C {f(ev.close)} "
                    f"listing {ev.listing_volume:,} block {ev.block_volume:,}")
    fields = {k: v for k, v in ((f, getattr(ev, f)) for f in ev.__struct_fields__)
              if k not in ("seq", "origin", "market") and v not in (None, "", [])}
    return f"{head} " + " ".join(f"{k}={money.text(v) if isinstance(v, money.Fen) else v}" for k, v in fields.items())


async def tail(kafka: Connection, topics: Topics = Topics(), follow: bool = False, limit: int | None = None) -> int:
    consumer = AIOKafkaConsumer(topics.events, enable_auto_commit=False, isolation_level="read_committed",
                                auto_offset_reset="earliest", **kafka.aiokafka())
    await consumer.start()
    shown = 0
    try:
        while limit is None or shown < limit:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch and not follow:
                break
            for records in batch.values():
                for r in records:
                    print(describe(decode_event(r.value)), flush=True)
                    shown += 1
    finally:
        await consumer.stop()
    return shown
