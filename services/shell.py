"""The FastStream app shared by the services: its lifespan starts a long-running worker (the gateway, matcher
or projector loop, on aiokafka) and stops it; a worker that dies ends the app with a failure (crash-only: a
restart recovers from the log and the stored offsets)."""
from __future__ import annotations

import asyncio
from typing import Protocol

import structlog
from faststream import FastStream
from faststream.kafka import KafkaBroker

from certx.kafka.connection import Connection


class Worker(Protocol):
    async def start(self) -> None: ...
    async def run(self) -> None: ...
    async def stop(self) -> None: ...


class Service:
    def __init__(self, kafka: Connection, worker: Worker, name: str) -> None:
        broker = KafkaBroker(kafka.bootstrap, allow_auto_create_topics=False, **kafka.faststream())
        self.app = FastStream(broker, after_startup=[self._start], on_shutdown=[self._stop])
        self.worker = worker
        self.log = structlog.get_logger(f"certx.{name}")
        self.loop: asyncio.Task | None = None
        self.failed = False

    async def _start(self) -> None:
        await self.worker.start()
        self.loop = asyncio.create_task(self.worker.run())
        self.loop.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("service.crashed", error=repr(task.exception()))
            self.failed = True
            self.app.exit()

    async def _stop(self) -> None:
        if self.loop is not None and not self.loop.done():
            self.loop.cancel()
        await self.worker.stop()

    async def run(self) -> int:
        await self.app.run()
        return 70 if self.failed else 0
