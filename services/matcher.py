"""The matcher service: a FastStream app whose lifespan runs the transactional matcher loop.

FastStream gives the app its lifecycle (signals, start-up and shutdown hooks). The hot loop itself is
`certx.kafka.matcher`, on aiokafka directly: FastStream 0.7 has no Kafka transactions (its issue #1157), and
its batch path costs about 25 µs a message, more than the whole engine step. The AsyncAPI document is
`schemas/asyncapi.json`, generated from the msgspec Structs (FastStream's generator needs pydantic models).

    certx serve matcher        # or: python -m services.matcher
"""
from __future__ import annotations

import asyncio
import sys

from certx.kafka.connection import load
from certx.kafka.matcher import Matcher, Settings
from services.shell import Service


async def main(settings: Settings | None = None) -> int:
    settings = settings or Settings(kafka=load())
    return await Service(settings.kafka, lambda: Matcher(settings), "matcher").run()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
