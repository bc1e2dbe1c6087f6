"""`certx tail events|settlements|dlq|marketdata`: print the committed records (read_committed) of one of those topics as
readable lines, or as they are on the wire (`--json`: one JSON object a line, for jq and scripts).

The records are read from the start of the topic, partition by partition as the broker hands them out; `--limit N`
prints N records and stops, `--follow` keeps waiting for new ones.
"""
from __future__ import annotations

import sys
from typing import Callable

import msgspec
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from certx import money
from certx.kafka.connection import Connection
from certx.kafka.topics import Topics
from certx.wire import events as e
from certx.wire.codec import decode_event, decode_quote, decode_settlement, say
from certx.wire.dead_letter import DeadLetter

STREAMS = ("events", "settlements", "dlq", "marketdata")


def _fields(x: msgspec.Struct, skip: tuple[str, ...] = ("seq", "origin", "market")) -> str:
    fields = {k: v for k, v in ((f, getattr(x, f)) for f in x.__struct_fields__)
              if k not in skip and v not in (None, "", [])}
    return " ".join(f"{k}={money.text(v) if isinstance(v, money.Fen) else v}" for k, v in fields.items())


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
    return f"{head} {_fields(ev)}"


_DEAD_LETTER = msgspec.json.Decoder(DeadLetter)


def describe_settlement(raw: bytes) -> str:
    x = decode_settlement(raw)         # money as PROTOCOL's decimal strings, read into fen
    return f"{x.market:<4} #{x.seq:<7} {x.__struct_config__.tag:<19} {_fields(x)}"


def describe_dead_letter(raw: bytes) -> str:
    d = _DEAD_LETTER.decode(raw)
    return (f"{d.service:<9} {d.source}[{d.partition}]@{d.offset} {d.reason}: {d.detail} "
            f"({d.length:,} bytes, sha256 {d.sha256[:12]}…)")


def describe_quote(raw: bytes) -> str:
    """A quote as one line: the product, its best bid and ask, the last trade and the day's volume."""
    q = decode_quote(raw)
    f = lambda v: "-" if v is None else money.text(v)  # noqa: E731
    bid = f"{q.bids[0][1]:,} @ {money.text(q.bids[0][0])}" if q.bids else "-"
    ask = f"{q.asks[0][1]:,} @ {money.text(q.asks[0][0])}" if q.asks else "-"
    lots = f" lots {len(q.lots)}" if q.lots else ""
    return (f"{q.market:<4} #{q.seq:<7} {q.product:<8} {q.session:<6} bid {bid} ask {ask} last {f(q.last)} "
            f"O {f(q.open)} H {f(q.high)} L {f(q.low)} listing {q.listing_volume:,} block {q.block_volume:,}{lots}")


READABLE: dict[str, Callable[[bytes], str]] = {
    "events": lambda raw: describe(decode_event(raw)),
    "settlements": describe_settlement,
    "dlq": describe_dead_letter,
    "marketdata": describe_quote,
}


def topic_of(stream: str, topics: Topics) -> str:
    return {"events": topics.events, "settlements": topics.settlements, "dlq": topics.dlq,
            "marketdata": topics.marketdata}[stream]


def _line(show: Callable[[bytes], str], r: ConsumerRecord) -> str | None:
    """The record's line; None for one this certx cannot read (a later version's event, bytes that are not UTF-8,
    no value), which is said on stderr, where it is, so that the tail goes on past it."""
    try:
        if r.value is None:
            raise ValueError("no value")
        return show(r.value)
    except ValueError as exc:       # msgspec's DecodeError and UnicodeDecodeError are ValueErrors
        print(f"certx tail: {r.topic}[{r.partition}]@{r.offset}: cannot read this record "
              f"({type(exc).__name__}: {say(str(exc))})", file=sys.stderr, flush=True)   # a record's text: bounded
        return None


async def tail(kafka: Connection, topics: Topics = Topics(), stream: str = "events", follow: bool = False,
               limit: int | None = None, as_json: bool = False) -> int:
    """Print the stream's records; returns how many were printed."""
    show = (lambda raw: raw.decode()) if as_json else READABLE[stream]
    consumer = AIOKafkaConsumer(topic_of(stream, topics), enable_auto_commit=False, isolation_level="read_committed",
                                auto_offset_reset="earliest", **kafka.aiokafka())
    await consumer.start()
    shown = 0
    try:
        while limit is None or shown < limit:
            want = None if limit is None else limit - shown
            batch = await consumer.getmany(timeout_ms=1000, max_records=want)
            if not batch and not follow:
                break
            for records in batch.values():
                for r in records[:want]:
                    line = _line(show, r)
                    if line is not None:
                        print(line, flush=True)
                        shown += 1
                if want is not None:
                    want = limit - shown
                    if want <= 0:
                        break
    finally:
        await consumer.stop()
    return shown
