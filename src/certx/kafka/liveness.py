"""A consumer that has heard nothing for a while asks the broker something (DESIGN 8, operable).

A quiet topic and a dead connection look alike from `getmany`: both return nothing. After a broker restart an
aiokafka client has been seen to stay in the second state for good, retrying a connection it never gets back,
while the service looked idle. So every few quiet seconds the consumer asks for the end offsets of what it reads:
a client that gets no answer fails with a retriable error, and the service is started afresh (services/shell.py).
"""
from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaTimeoutError


class Liveness:
    def __init__(self, consumer: AIOKafkaConsumer, quiet_s: float = 5.0, answer_within_s: float = 15.0) -> None:
        self.consumer = consumer
        self.quiet_s = quiet_s
        self.answer_within_s = answer_within_s
        self.heard_at = time.monotonic()

    async def check(self, fetched: dict) -> None:
        """After each fetch: records are a sign of life; a long quiet is answered by a question to the broker."""
        now = time.monotonic()
        if any(fetched.values()):
            self.heard_at = now
            return
        if now - self.heard_at < self.quiet_s:
            return
        tps = list(self.consumer.assignment())
        if tps:
            try:
                await asyncio.wait_for(self.consumer.end_offsets(tps), self.answer_within_s)
            except asyncio.TimeoutError:
                raise KafkaTimeoutError(f"no answer from the broker in {self.answer_within_s:.0f} s") from None
        self.heard_at = time.monotonic()
