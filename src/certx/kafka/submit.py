"""`certx submit FILE.jsonl`: the broker side. Each line goes to `certx.commands`, keyed by market, on the
market's partition, with the record timestamp taken from its `at` (DOMAIN U3). A command for several markets
(see certx.wire.routing) goes to each. Lines that cannot be decoded or routed are reported and not sent.

The producer is idempotent with one request in flight, so each partition receives the records in file order
with consecutive offsets: exactly the positions `certx replay` gives them.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Iterable

from aiokafka import AIOKafkaProducer
from tqdm import tqdm

from certx.kafka.topics import Topics
from certx.wire.codec import Malformed, decode_command, millis
from certx.wire.routing import PARTITION, route


@dataclass
class Submitted:
    lines: int = 0
    records: int = 0
    refused: int = 0


async def submit(lines: Iterable[bytes], bootstrap: str, topics: Topics = Topics(), rate: float | None = None,
                 progress: bool = False, total: int | None = None) -> Submitted:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                                linger_ms=5, max_batch_size=512 * 1024)
    await producer.start()
    done = Submitted()
    bar = tqdm(total=total, unit="cmd", disable=not progress)
    started = time.monotonic()
    pending = []
    try:
        for raw in lines:
            raw = raw.strip()
            if not raw:
                continue
            done.lines += 1
            cmd = decode_command(raw)
            markets = () if isinstance(cmd, Malformed) or cmd.at is None else route(cmd)
            if not markets:
                done.refused += 1
                bar.write(f"line {done.lines}: not sent: {getattr(cmd, 'detail', 'no `at` or no market to route to')}")
                continue
            at = millis(cmd.at)
            for market in markets:
                pending.append(await producer.send(topics.commands, raw, key=market.encode(),
                                                   partition=PARTITION[market], timestamp_ms=at))
                done.records += 1
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
