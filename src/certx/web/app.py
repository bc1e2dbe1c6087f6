"""The market page over HTTP: a Starlette app that only answers GET (Starlette adds HEAD), so no route can send
anything anywhere; every other method is 405. It serves

    /                        the page (page.html), and its own script and style (page.js, page.css)
    /vendor/uPlot.*          the charting library, from the package's one vendored copy (certx.vendor)
    /stream                  server-sent events: the whole board first, then what changed, as `View`s
    /state                   the board now, as JSON (for tests and scripts), with the number of pages connected
    /ready                   200 once the feed is read up to where it stood at the start, 503 before

Every answer forbids loading anything from another origin (Content-Security-Policy), so a page that tried would
fail in the browser instead of leaking.

A page's stream is fed from its outbox (a `Board` of what it has not been sent): the hub puts every fact in
every outbox at once, and each page's sender takes its outbox whole, at most once a frame. A slow page (its socket
full: uvicorn's send waits) finds its outbox conflated, the latest quote per product and the last prints, never a
queue that grows. A page that goes away takes its outbox with it (the stream's `finally`).
"""
from __future__ import annotations

import asyncio
from importlib import resources
from typing import AsyncIterator, Callable

import msgspec
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from certx import vendor
from certx.web.board import Board, Fact, Market, View
from certx.wire.codec import encode

FRAME_S = 0.05          # a page gets at most one message a frame: what came meanwhile is conflated in its outbox
KEEPALIVE_S = 15.0      # a comment on a quiet stream, so that a page that went away is noticed
STATIC = {              # name -> (file in this package or certx.vendor, content type)
    "/": ("page.html", "text/html; charset=utf-8"),
    "/page.js": ("page.js", "text/javascript; charset=utf-8"),
    "/page.css": ("page.css", "text/css; charset=utf-8"),
    f"/vendor/{vendor.UPLOT_JS}": (vendor.UPLOT_JS, "text/javascript; charset=utf-8"),
    f"/vendor/{vendor.UPLOT_CSS}": (vendor.UPLOT_CSS, "text/css; charset=utf-8"),
}
GUARDS = [(b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; "
           b"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
           b"frame-ancestors 'none'"),
          (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]

log = structlog.get_logger("certx.web")


class State(msgspec.Struct, kw_only=True):
    pages: int              # pages connected to /stream now
    board: View


class Outbox:
    """What one page has not been sent yet, and the signal that there is some."""

    __slots__ = ("board", "waiting")

    def __init__(self) -> None:
        self.board = Board()
        self.waiting = asyncio.Event()


class Hub:
    """The server's market, and the outbox of every page connected."""

    def __init__(self) -> None:
        self.market = Market()
        self.outboxes: set[Outbox] = set()

    def publish(self, facts: list[Fact]) -> None:
        if not facts:
            return
        for outbox in self.outboxes:
            for fact in facts:
                outbox.board.put(fact)
            outbox.waiting.set()

    def connect(self) -> tuple[View, Outbox]:
        """The whole board and an outbox for what comes after it: taken together, nothing in between."""
        outbox = Outbox()
        self.outboxes.add(outbox)
        return self.market.board.view(reset=True), outbox

    def disconnect(self, outbox: Outbox) -> None:
        self.outboxes.discard(outbox)


def _event(view: View) -> bytes:
    return b"data: " + encode(view) + b"\n\n"         # compact JSON: one line, as SSE needs


async def _stream(hub: Hub) -> AsyncIterator[bytes]:
    first, outbox = hub.connect()
    log.info("web.page_connected", pages=len(hub.outboxes))
    try:
        yield _event(first)
        while True:
            try:
                await asyncio.wait_for(outbox.waiting.wait(), KEEPALIVE_S)
            except asyncio.TimeoutError:
                yield b": still here\n\n"
                continue
            outbox.waiting.clear()
            yield _event(outbox.board.take())
            await asyncio.sleep(FRAME_S)
    finally:
        hub.disconnect(outbox)
        log.info("web.page_gone", pages=len(hub.outboxes))


def _guarded(app: ASGIApp) -> ASGIApp:
    """Every answer carries the guards (CSP and friends)."""
    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        async def with_guards(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *GUARDS]
            await send(message)
        await app(scope, receive, with_guards)
    return guarded


def page_app(hub: Hub, ready: Callable[[], bool]) -> ASGIApp:
    files: dict[str, tuple[bytes, str]] = {}
    for path, (name, kind) in STATIC.items():
        source = resources.files(vendor.__name__ if path.startswith("/vendor/") else __package__)
        files[path] = (source.joinpath(name).read_bytes(), kind)

    def static(path: str) -> Callable[[Request], Response]:
        body, kind = files[path]

        async def answer(_request: Request) -> Response:
            return Response(body, media_type=kind, headers={"cache-control": "no-cache"})
        return answer

    async def stream(_request: Request) -> Response:
        return StreamingResponse(_stream(hub), media_type="text/event-stream",
                                 headers={"cache-control": "no-store"})

    async def state(_request: Request) -> Response:
        body = encode(State(pages=len(hub.outboxes), board=hub.market.board.view(reset=True)))
        return Response(body, media_type="application/json", headers={"cache-control": "no-store"})

    async def is_ready(_request: Request) -> Response:
        ok = ready()
        return Response(b"ready\n" if ok else b"not ready\n", 200 if ok else 503, media_type="text/plain")

    routes = [Route(path, static(path), methods=["GET"]) for path in files]
    routes += [Route("/stream", stream, methods=["GET"]), Route("/state", state, methods=["GET"]),
               Route("/ready", is_ready, methods=["GET"])]
    return _guarded(Starlette(routes=routes))
