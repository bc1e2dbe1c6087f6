"""`certx submit FILE.jsonl`: a sender's producer. Each line goes, as it is, to the sender's own inbound topic
`certx.in.<principal>` (the principal is the Kafka user the client logs in as): the gateway takes the actor from
that topic, stamps the exchange's time, checks the contract and routes it, and answers every command on
`certx.events`. With `replay=True` the lines go to `certx.replay` instead, the operator's path for recorded days:
there they keep their recorded actors and times (`at`); only the operator's principal may write it.

The producer is idempotent with one request in flight, so the gateway receives the lines in file order.

Pacing: as fast as it can, at `rate` lines a second, or, for recorded days, at `speed` times the pace of their
recorded times (`--speed 600`: ten minutes of market in one second); a quiet stretch (a night, a weekend) is cut
to `max_wait` seconds. `sent(line, at_ms, wall_s)` hears of each line as it goes, for a measurement
(certx.kafka.measures).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import msgspec

from aiokafka import AIOKafkaProducer
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from tqdm import tqdm

from certx.kafka.connection import Connection
from certx.kafka.topics import Topics
from certx.mistakes import BadSetting


@dataclass
class Submitted:
    lines: int = 0
    topic: str = ""


def destination(kafka: Connection, topics: Topics, replay: bool) -> str:
    if replay:
        return topics.replay
    if not kafka.principal:
        raise BadSetting("a sender logs in (SASL) as the principal whose inbound topic it writes: "
                         "give --kafka-config or $CERTX_KAFKA_USER/$CERTX_KAFKA_PASSWORD")
    return topics.inbound(kafka.principal)


class _Recorded(msgspec.Struct):
    at: dt.datetime | None = None


_recorded = msgspec.json.Decoder(_Recorded)


def recorded_ms(raw: bytes) -> int | None:
    """A line's recorded time `at` (epoch ms), if it has one that reads."""
    try:
        at = _recorded.decode(raw).at
    except msgspec.DecodeError:
        return None
    return None if at is None or at.tzinfo is None else int(at.timestamp() * 1000)


class _Pace:
    """When each line is due (monotonic seconds), by rate or by recorded time."""

    def __init__(self, rate: float | None, speed: float | None, max_wait: float) -> None:
        self.rate, self.speed, self.max_wait = rate, speed, max_wait
        self.start = time.monotonic()
        self.due = self.start
        self.last_at: int | None = None

    def next(self, n: int, at: int | None) -> float:
        if self.rate:
            return self.start + n / self.rate
        if self.speed and at is not None:
            if self.last_at is not None and at > self.last_at:
                self.due += min((at - self.last_at) / 1000 / self.speed, self.max_wait)
            self.last_at = at if self.last_at is None else max(self.last_at, at)
        return self.due


MAX_REQUEST_SIZE = 1024 * 1024      # aiokafka's default, which submit's producer is given


def too_large(lines: Iterable[bytes]) -> tuple[int, int] | None:
    """The first line no record of submit's producer can carry, as (line number, bytes): aiokafka refuses it at
    its send, after the lines before it went. None if every line fits."""
    for n, raw in enumerate(lines, 1):
        raw = raw.strip()
        if raw and DefaultRecordBatchBuilder.estimate_size_in_bytes(None, raw, []) > MAX_REQUEST_SIZE:
            return n, len(raw)
    return None


async def submit(lines: Iterable[bytes], kafka: Connection, topics: Topics = Topics(), replay: bool = False,
                 rate: float | None = None, progress: bool = False, total: int | None = None,
                 speed: float | None = None, max_wait: float = 5.0,
                 sent: Callable[[bytes, int | None, float], None] | None = None,
                 describe: Callable[[], str] | None = None) -> Submitted:
    """`describe()`, if given, is shown beside the progress bar (the replayed day and the lag)."""
    topic = destination(kafka, topics, replay)
    producer = AIOKafkaProducer(enable_idempotence=True, acks="all", linger_ms=5, max_batch_size=512 * 1024,
                                max_request_size=MAX_REQUEST_SIZE, **kafka.aiokafka())
    await producer.start()
    done = Submitted(topic=topic)
    bar = tqdm(total=total, unit="cmd", disable=None if progress else True)   # None: on a terminal only
    pace = _Pace(rate, speed, max_wait)
    pending = []
    try:
        for raw in lines:
            raw = raw.strip()
            if not raw:
                continue
            at = recorded_ms(raw) if speed or sent else None
            wait = pace.next(done.lines, at) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            done.lines += 1
            pending.append(await producer.send(topic, raw, partition=0))
            if sent is not None:
                sent(raw, at, time.time())
            bar.update(1)
            if describe is not None and done.lines % 500 == 0:
                bar.set_postfix_str(describe(), refresh=False)
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        bar.close()
        await producer.stop()
    return done
