"""The FastStream app shared by the services: it starts a long-running worker (the gateway, matcher or projector loop,
on aiokafka) and stops it, and, given a port, serves the service's health and metrics over HTTP as FastStream's
ASGI app (AsgiFastStream, run by uvicorn):

    /metrics      Prometheus text format (certx.metrics, and the process's own)
    /live         200 while the worker's loop turns (or it is restoring); 503 when it has been stuck a minute
    /ready        200 once the worker is restored and caught up; 503 before

Crash-only: a worker that fails ends the process, and `certx serve`'s supervisor (services/supervisor.py) decides
what happens next. A failure a fresh start can mend (any Kafka error but those below) exits with EXIT_RETRY: the
supervisor starts the service again, and it recovers from the log and the stored offsets. One it cannot (a real gap
in the log, fenced by a newer instance, not authorised) or a bug exits with EXIT_FATAL; missing topics (a wrong
prefix) exit with their own code (certx.mistakes). The process exits at once, without stopping its Kafka clients
cleanly: a client in a broken state can wait forever for work it will never finish, and nothing a crash leaves
behind is lost (the log and the transactions see to that).
"""
from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import sys
from dataclasses import dataclass
from typing import Any, Callable, NoReturn, Protocol

import structlog
from aiokafka import errors
from faststream import FastStream
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from prometheus_client import make_asgi_app

from certx import metrics
from certx import logs
from certx.kafka.connection import Connection, load
from certx.kafka.progress import Progress
from certx.kafka.topics import Topics
from certx.logs import faststream_logger
from certx.mistakes import Mistake
from services.supervisor import EXIT_FATAL, EXIT_RETRY, supervised

FATAL = (errors.OffsetOutOfRangeError, errors.ProducerFenced, errors.TopicAuthorizationFailedError,
         errors.GroupAuthorizationFailedError, errors.TransactionalIdAuthorizationFailed,
         errors.ClusterAuthorizationFailedError, errors.NoOffsetForPartitionError)
STUCK_S = 60.0      # a loop that has not turned for this long is not alive (Liveness asks the broker after 5 s)


def worth_retrying(exc: BaseException) -> bool:
    return isinstance(exc, errors.KafkaError) and not isinstance(exc, FATAL)


def exit_code(exc: BaseException) -> int:
    if isinstance(exc, Mistake):
        # Under `certx serve` the supervisor checked the broker, the login and the topics before the first start:
        # met again by a restarted child, they are a broker coming back (a restart), worth another try.
        return EXIT_RETRY if supervised() else exc.code
    return EXIT_RETRY if worth_retrying(exc) else EXIT_FATAL


def end(log: Any, exc: BaseException) -> NoReturn:
    """A service's failure ends its process at once, with its exit code, for the supervisor to act on."""
    code = exit_code(exc)
    if isinstance(exc, Mistake) and code != EXIT_RETRY:
        log.error("service.mistake", error=str(exc), exit=code)
    else:
        log.error("service.failed", error=repr(exc), restart=code == EXIT_RETRY)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class Worker(Protocol):
    progress: Progress

    async def start(self) -> None: ...
    async def run(self) -> None: ...
    async def stop(self) -> None: ...
    def ready(self) -> bool: ...


class HttpApp(AsgiFastStream):
    """The ASGI app, which `faststream run services.<name>:app` serves on $CERTX_METRICS_PORT (its `--port` wins)."""

    def __init__(self, *args, host: str, port: int, failed: Callable[[BaseException], NoReturn], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.host, self.port, self.failed = host, port, failed

    async def _start_broker(self) -> None:
        # Under ASGI, FastStream reports the start-up complete before it connects its broker, and a broker that
        # fails to connect then leaves uvicorn serving /live and /ready with no service behind them: end it here.
        try:
            await super()._start_broker()
        except Exception as exc:  # noqa: BLE001 - every failure ends the process with its exit code
            self.failed(exc)

    async def run(self, log_level: int = logging.INFO, run_extra_options: dict | None = None) -> None:
        options = {"host": self.host, "port": self.port, "access_log": "false", "log_config": None}
        await super().run(log_level, {**options, **(run_extra_options or {})})


def routes(worker: Worker, name: str) -> list[tuple[str, object]]:
    @get(include_in_schema=False)
    async def live(_scope) -> AsgiResponse:
        ok = worker.progress.turned_within(STUCK_S)
        return AsgiResponse(b"alive\n" if ok else b"stuck\n", 200 if ok else 503)

    @get(include_in_schema=False)
    async def ready(_scope) -> AsgiResponse:
        ok = worker.ready()
        metrics.READY.labels(name).set(int(ok))
        return AsgiResponse(b"ready\n" if ok else b"not ready\n", 200 if ok else 503)

    return [("/metrics", make_asgi_app()), ("/live", live), ("/ready", ready)]


class Service:
    def __init__(self, kafka: Connection, make_worker: Callable[[], Worker], name: str,
                 http_port: int | None = None, http_host: str = "127.0.0.1") -> None:
        broker = KafkaBroker(kafka.bootstrap, allow_auto_create_topics=False, logger=faststream_logger(),
                             **kafka.faststream())
        self.worker = make_worker()
        self.name = name
        self.http = (http_host, http_port) if http_port is not None else None
        hooks = {"after_startup": [self._start], "on_shutdown": [self._stop], "logger": faststream_logger()}
        if self.http is None:
            self.app: FastStream | HttpApp = FastStream(broker, **hooks)
        else:
            self.app = HttpApp(broker, asgi_routes=routes(self.worker, name), host=http_host, port=http_port,
                               failed=self._end, **hooks)
        self.log = structlog.get_logger(f"certx.{name}")
        self.loop: asyncio.Task | None = None

    async def _start(self) -> None:
        # In a task of its own, so that the app (and its health endpoints) is up while the worker starts.
        self.loop = asyncio.create_task(self._work())
        self.loop.add_done_callback(self._ended)

    async def _work(self) -> None:
        await self.worker.start()
        # Everything built so far (the modules, the clients, the gateway's targets) lives as long as the process:
        # out of the cyclic collector's way, whose full passes over it paused a matcher 50 ms (certx.kafka.matcher
        # does the same after each restore).
        gc.freeze()
        await self.worker.run()

    def _ended(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._end(task.exception())

    def _end(self, exc: BaseException) -> NoReturn:
        end(self.log, exc)

    async def _stop(self) -> None:
        if self.loop is not None and not self.loop.done():
            self.loop.cancel()
        await self.worker.stop()

    async def run(self) -> int:
        # FastStream connects its broker before the worker starts: a broker down then (a restart) fails here, and
        # goes by the same rule as a failure of the loop (exit_code), not as a mistake the supervisor gives up on.
        try:
            return await self._serve()
        except Exception as exc:  # noqa: BLE001 - every failure ends the process with its exit code
            self._end(exc)

    async def _serve(self) -> int:
        if self.http is None:
            await self.app.run()
            return 0
        import uvicorn

        # The socket is bound here, so that port 0 (any free port, as the tests ask) is known and logged.
        sock = socket.create_server(self.http, reuse_port=False)
        host, port = sock.getsockname()[:2]
        self.log.info("service.http", service=self.name, host=host, port=port,
                      endpoints=["/metrics", "/live", "/ready"])
        server = uvicorn.Server(uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="on"))
        await server.serve(sockets=[sock])
        return 0


@dataclass(frozen=True)
class Environment:
    """A service's settings as `faststream run` gives them: from the environment alone."""

    kafka: Connection
    topics: Topics
    http_port: int | None
    http_host: str


def from_environment() -> Environment:
    """$CERTX_KAFKA… (certx.kafka.connection), $CERTX_PREFIX, $CERTX_METRICS_PORT and $CERTX_METRICS_HOST; the
    logs as $CERTX_LOG_LEVEL and $CERTX_LOG_FORMAT say (certx.logs)."""
    logs.configure()
    port = os.environ.get("CERTX_METRICS_PORT")
    return Environment(load(), Topics(os.environ.get("CERTX_PREFIX", "")), int(port) if port else None,
                       os.environ.get("CERTX_METRICS_HOST", "127.0.0.1"))


def module_app(build: Callable[[Environment], Service]) -> Callable[[str], Any]:
    """A service module's `__getattr__`: its `app` (for `faststream run services.<name>:app`), built from the
    environment when first asked for, once. Importing the module connects to nothing and reads no settings."""
    built: dict[str, Any] = {}

    def __getattr__(name: str) -> Any:
        if name != "app":
            raise AttributeError(name)
        if "app" not in built:
            built["app"] = build(from_environment()).app
        return built["app"]
    return __getattr__
