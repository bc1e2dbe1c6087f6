"""`certx submit FILE.jsonl`: a sender's producer. Each line goes, as it is, to the sender's own inbound topic
`certx.in.<principal>` (the principal is the Kafka user the client logs in as): the gateway takes the actor from
that topic, stamps the exchange's time, checks the contract and routes it, and answers every command on
`certx.events`. With `replay=True` the lines go to `certx.replay` instead, the operator's path for recorded days:
there they keep their recorded actors and times (`at`); only the operator's principal may write it.

The producer is idempotent with one request in flight, so the gateway receives the lines in file order.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Iterable

from aiokafka import AIOKafkaProducer
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


async def submit(lines: Iterable[bytes], kafka: Connection, topics: Topics = Topics(), replay: bool = False,
                 rate: float | None = None, progress: bool = False, total: int | None = None) -> Submitted:
    topic = destination(kafka, topics, replay)
    producer = AIOKafkaProducer(enable_idempotence=True, acks="all", linger_ms=5, max_batch_size=512 * 1024,
                                **kafka.aiokafka())
    await producer.start()
    done = Submitted(topic=topic)
    bar = tqdm(total=total, unit="cmd", disable=not progress)
    started = time.monotonic()
    pending = []
    try:
        for raw in lines:
            raw = raw.strip()
            if not raw:
                continue
            done.lines += 1
            pending.append(await producer.send(topic, raw, partition=0))
            bar.update(1)
            if rate:
                ahead = done.lines / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        bar.close()
        await producer.stop()
    return done
