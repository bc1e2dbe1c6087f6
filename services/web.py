"""The market page's service: uvicorn serving the page's app (certx.web.app), with the reader of the feed
(certx.kafka.web) in a task beside it, in one process.

    certx serve web --port 8080 --kafka-config .cache/kafka/run/clients/web.properties

Crash-only like the other services: a reader that fails ends the process with its exit code (services/shell.py),
and `certx serve web`'s supervisor starts a new one, which reads the feed back from the topics. The page's
browsers reconnect by themselves (EventSource) and get the whole board again.
"""
from __future__ import annotations

import asyncio
import socket

import structlog
import uvicorn

from certx.kafka.web import Reader, WebSettings
from certx.web.app import STATIC, Hub, page_app
from services.shell import end

log = structlog.get_logger("certx.web")
GRACE_S = 1.0           # at a stop, open streams are cut after this long (they never end by themselves)


class WebService:
    def __init__(self, settings: WebSettings) -> None:
        self.s = settings
        self.hub = Hub()
        self.reader = Reader(settings, self.hub)

    async def run(self) -> int:
        try:
            await self.reader.start()
        except Exception as exc:  # noqa: BLE001 - every failure ends the process with its exit code
            end(log, exc)
        # The socket is bound here, so that port 0 (any free port, as the tests ask) is known and logged.
        try:
            sock = socket.create_server((self.s.host, self.s.port))
        except OSError as exc:      # taken since `certx serve` found it free: stop for good, not a restart loop
            end(log, exc)
        host, port = sock.getsockname()[:2]
        log.info("service.http", service="web", host=host, port=port,
                 endpoints=[*STATIC, "/stream", "/state", "/ready"])
        reading = asyncio.create_task(self.reader.run())
        reading.add_done_callback(lambda t: None if t.cancelled() or t.exception() is None
                                  else end(log, t.exception()))
        server = uvicorn.Server(uvicorn.Config(page_app(self.hub, self.reader.ready), log_config=None,
                                               access_log=False, lifespan="off", timeout_graceful_shutdown=GRACE_S))
        try:
            await server.serve(sockets=[sock])
        finally:
            reading.cancel()
            await self.reader.stop()
            log.info("web.stopped", read=self.reader.read)
        return 0


def service(settings: WebSettings) -> WebService:
    return WebService(settings)
