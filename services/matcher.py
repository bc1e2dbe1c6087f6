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

import structlog
from faststream import FastStream
from faststream.kafka import KafkaBroker

from certx.kafka.matcher import Matcher, Settings
from certx.kafka.topics import bootstrap

log = structlog.get_logger("certx.matcher")


class Service:
    """The app, the matcher it runs, and whether the matcher loop died."""

    def __init__(self, settings: Settings) -> None:
        self.app = FastStream(KafkaBroker(settings.bootstrap), after_startup=[self._start], on_shutdown=[self._stop])
        self.matcher = Matcher(settings)
        self.loop: asyncio.Task | None = None
        self.failed = False

    async def _start(self) -> None:
        await self.matcher.start()
        self.loop = asyncio.create_task(self.matcher.run())
        self.loop.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            # Crash-only: the engine may be ahead of the committed offsets; a restart recovers from the log.
            log.error("matcher.crashed", error=repr(task.exception()))
            self.failed = True
            self.app.exit()

    async def _stop(self) -> None:
        if self.loop is not None and not self.loop.done():
            self.loop.cancel()
        await self.matcher.stop()


async def main(settings: Settings | None = None) -> int:
    service = Service(settings or Settings(bootstrap=bootstrap()))
    await service.app.run()
    return 70 if service.failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
