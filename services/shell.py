"""The FastStream app shared by the services: its lifespan runs a long-running worker (the gateway, matcher or
projector loop, on aiokafka) under a small supervisor, and stops it.

Crash-only, at two levels. A worker that fails is thrown away whole and a new one starts from the log and the
stored offsets, exactly as after a process restart: that is how a service rides out a broker restart, a lost
connection, or a send that failed inside a transaction (which aborted it), with a back-off between attempts. A
failure that another attempt cannot mend ends the process instead (exit 70), for an operator to see: the log
lost the commands the service stands at (a real gap), another instance took over (fenced), the principal is not
allowed, or a bug.
"""
from __future__ import annotations

import asyncio
from typing import Callable, Protocol

import structlog
from aiokafka import errors
from faststream import FastStream
from faststream.kafka import KafkaBroker

from certx.kafka.connection import Connection

FATAL = (errors.OffsetOutOfRangeError, errors.ProducerFenced, errors.TopicAuthorizationFailedError,
         errors.GroupAuthorizationFailedError, errors.TransactionalIdAuthorizationFailed,
         errors.ClusterAuthorizationFailedError, errors.NoOffsetForPartitionError)
FIRST_RETRY, LAST_RETRY = 0.5, 10.0


def worth_retrying(exc: BaseException) -> bool:
    return isinstance(exc, errors.KafkaError) and not isinstance(exc, FATAL)


class Worker(Protocol):
    async def start(self) -> None: ...
    async def run(self) -> None: ...
    async def stop(self) -> None: ...


class Service:
    def __init__(self, kafka: Connection, make_worker: Callable[[], Worker], name: str) -> None:
        broker = KafkaBroker(kafka.bootstrap, allow_auto_create_topics=False, **kafka.faststream())
        self.app = FastStream(broker, after_startup=[self._start], on_shutdown=[self._stop])
        self.make_worker = make_worker
        self.worker: Worker | None = None
        self.log = structlog.get_logger(f"certx.{name}")
        self.loop: asyncio.Task | None = None
        self.failed = False

    async def _start(self) -> None:
        self.loop = asyncio.create_task(self._supervise())
        self.loop.add_done_callback(self._ended)

    async def _supervise(self) -> None:
        delay = FIRST_RETRY
        while True:
            self.worker = self.make_worker()
            try:
                await self.worker.start()
                delay = FIRST_RETRY
                await self.worker.run()
                return
            except Exception as exc:  # noqa: BLE001 - sorted below: retried, or it ends the process
                if not worth_retrying(exc):
                    raise
                self.log.warning("service.restarting", error=repr(exc), retry_in=delay)
            finally:
                await self._stop_worker()
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RETRY)

    async def _stop_worker(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            try:
                await worker.stop()
            except Exception as exc:  # noqa: BLE001 - a half-started worker may not stop cleanly; it is dropped
                self.log.warning("service.stop_failed", error=repr(exc))

    def _ended(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("service.crashed", error=repr(task.exception()))
            self.failed = True
            self.app.exit()

    async def _stop(self) -> None:
        if self.loop is not None and not self.loop.done():
            self.loop.cancel()
            await asyncio.gather(self.loop, return_exceptions=True)
        await self._stop_worker()

    async def run(self) -> int:
        await self.app.run()
        return 70 if self.failed else 0
