"""The market page's app (issue 14.2) called as uvicorn calls it, without servers: it answers GET only (so no route
can send anything), guards every answer (nothing may load from another origin), streams the whole board first and
then what changed, conflates for a page that does not read, and forgets a page that went away."""
from __future__ import annotations

import asyncio
import json

import msgspec
import pytest

from certx.web.app import STATIC, Hub, page_app
from certx.web.board import POINTS, PRINTS, SETTLEMENTS
from tests.web.test_board import FEED, take

ROUTES = [*STATIC, "/stream", "/state", "/ready"]


class Call:
    """One HTTP request to an ASGI app: what it sent back, and a way to hang up."""

    def __init__(self, app, method: str, path: str) -> None:
        self.sent: asyncio.Queue = asyncio.Queue()
        self.gone = asyncio.Event()
        scope = {"type": "http", "http_version": "1.1", "method": method, "path": path, "raw_path": path.encode(),
                 "query_string": b"", "headers": [], "scheme": "http", "server": ("127.0.0.1", 8080),
                 "client": ("127.0.0.1", 50000), "root_path": ""}
        asked = False

        async def receive():
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self.gone.wait()
            return {"type": "http.disconnect"}

        self.task = asyncio.create_task(app(scope, receive, self.sent.put))

    async def head(self) -> tuple[int, dict[str, str]]:
        start = await asyncio.wait_for(self.sent.get(), 5)
        return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}

    async def body(self) -> bytes:
        out = b""
        while True:
            message = await asyncio.wait_for(self.sent.get(), 5)
            out += message.get("body", b"")
            if not message.get("more_body"):
                return out

    async def chunk(self) -> bytes:
        return (await asyncio.wait_for(self.sent.get(), 5))["body"]


async def answer(app, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    call = Call(app, method, path)
    status, headers = await call.head()
    return status, headers, await call.body()


def view_of(chunk: bytes) -> dict:
    assert chunk.startswith(b"data: ") and chunk.endswith(b"\n\n") and chunk.count(b"\n") == 2
    return json.loads(chunk[6:])


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_no_route_takes_anything_but_get(method):
    """Read-only: every route refuses every method that could carry a command (405), and answers nothing else."""
    app = page_app(Hub(), lambda: True)
    for path in ROUTES:
        status, headers, _ = await answer(app, method, path)
        assert status == 405, (method, path)
        assert set(headers["allow"].split(", ")) == {"GET", "HEAD"}


async def test_the_page_and_its_files_load_only_from_its_own_origin():
    app = page_app(Hub(), lambda: True)
    for path, (_, kind) in STATIC.items():
        status, headers, body = await answer(app, "GET", path)
        assert status == 200 and headers["content-type"] == kind and body, path
        assert headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")
        assert headers["x-content-type-options"] == "nosniff"
    _, _, page = await answer(app, "GET", "/")
    assert b"http" not in page.replace(b'http-equiv', b"")            # no address of another origin in the page
    status, _, _ = await answer(app, "GET", "/../pyproject.toml")
    assert status == 404


async def test_ready_once_the_feed_is_read_to_where_it_stood():
    ready = False
    app = page_app(Hub(), lambda: ready)
    assert (await answer(app, "GET", "/ready"))[0] == 503
    ready = True
    assert (await answer(app, "GET", "/ready"))[0] == 200


async def test_a_page_gets_the_whole_board_then_what_changed():
    hub = Hub()
    half = len(FEED) // 2
    for message in FEED[:half]:
        hub.publish(take(hub.market, message))
    app = page_app(hub, lambda: True)
    call = Call(app, "GET", "/stream")
    status, headers = await call.head()
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    first = view_of(await call.chunk())
    assert first["reset"] and first["limits"]["prints"] == PRINTS
    state = json.loads((await answer(app, "GET", "/state"))[2])
    assert state["pages"] == 1 and state["board"] == first
    for message in FEED[half:]:
        hub.publish(take(hub.market, message))
    update = view_of(await call.chunk())
    assert not update["reset"] and update["quotes"]
    assert {q["product"]: q["seq"] for q in update["quotes"]} == \
        {p: q.seq for p, q in hub.market.board.quotes.items()}           # conflated: the latest of each product
    call.gone.set()
    await asyncio.wait_for(call.task, 5)
    assert hub.outboxes == set()                                         # the page went away: nothing left of it


async def test_a_page_that_does_not_read_costs_a_bounded_outbox():
    """Ten thousand quotes for a page that reads nothing: its outbox holds one quote per product, no queue."""
    hub = Hub()
    app = page_app(hub, lambda: True)
    call = Call(app, "GET", "/stream")
    await call.head()
    await call.chunk()
    quotes = [q for kind, q, _ in FEED if kind == "quote"]
    for n in range(10_000):                                              # the day's quotes again and again
        hub.publish(hub.market.quote(msgspec.structs.replace(quotes[n % len(quotes)], seq=10**6 + n), n))
    (outbox,) = hub.outboxes
    assert len(outbox.board.quotes) == 3
    assert outbox.board.size() <= 3 * (2 + PRINTS + POINTS + SETTLEMENTS)
    call.gone.set()
    await asyncio.wait_for(call.task, 5)
    assert not hub.outboxes


def test_the_page_writes_the_feed_as_text_only():
    """Product names, accounts, beneficiaries are data: page.js sets textContent and attributes through `dataset`,
    and has no way to turn a string into markup."""
    from importlib import resources

    script = resources.files("certx.web").joinpath("page.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "setAttribute(\"style\"", "createContextualFragment"):
        assert sink not in script, sink
    assert "textContent" in script
