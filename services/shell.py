"""The FastStream app shared by the services: its lifespan starts a long-running worker (the gateway, matcher or
projector loop, on aiokafka) and stops it.

Crash-only: a worker that fails ends the process, and `certx serve`'s supervisor (services/supervisor.py) decides
what happens next. A failure a fresh start can mend (any Kafka error but those below) exits with EXIT_RETRY: the
supervisor starts the service again, and it recovers from the log and the stored offsets. One it cannot (a real gap
in the log, fenced by a newer instance, not authorised) or a bug exits with EXIT_FATAL. The process exits at once,
without stopping its Kafka clients cleanly: a client in a broken state can wait forever for work it will never
finish, and nothing a crash leaves behind is lost (the log and the transactions see to that).
"""
from __future__ import annotations

import asyncio
import os
import sys
from typing import Callable, Protocol

import structlog
from aiokafka import errors
from faststream import FastStream
from faststream.kafka import KafkaBroker

from certx.kafka.connection import Connection
from services.supervisor import EXIT_FATAL, EXIT_RETRY

FATAL = (errors.OffsetOutOfRangeError, errors.ProducerFenced, errors.TopicAuthorizationFailedError,
         errors.GroupAuthorizationFailedError, errors.TransactionalIdAuthorizationFailed,
         errors.ClusterAuthorizationFailedError, errors.NoOffsetForPartitionError)


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
        self.worker = make_worker()
        self.log = structlog.get_logger(f"certx.{name}")
        self.loop: asyncio.Task | None = None

    async def _start(self) -> None:
        try:
            await self.worker.start()
        except Exception as exc:  # noqa: BLE001 - sorted by _end
            self._end(exc)
        self.loop = asyncio.create_task(self.worker.run())
        self.loop.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._end(task.exception())

    def _end(self, exc: BaseException) -> None:
        retry = worth_retrying(exc)
        self.log.error("service.failed", error=repr(exc), restart=retry)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_RETRY if retry else EXIT_FATAL)

    async def _stop(self) -> None:
        if self.loop is not None and not self.loop.done():
            self.loop.cancel()
        await self.worker.stop()

    async def run(self) -> int:
        await self.app.run()
        return 0
