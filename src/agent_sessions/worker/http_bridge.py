"""The gateway's HTTP bridge: one workerd request into the ASGI app, its answer out.

The SDK's bridge (`workers.asgi.fetch`) runs a whole ASGI lifespan cycle for every request
(a startup and a shutdown, with their own task, queue and futures) and feeds the body to the
app chunk by chunk through a queue. Our app has no lifespan (nothing to open or close in a
Worker), and every request pays what it does not need: measured in workerd, a health check
cost 13.5 ms of CPU through it and 9.5 ms through this one, where a Python Worker answering
"ok" with no framework costs 7 ms (bench/runtime).

Here the body arrives in one crossing (`arrayBuffer`, the SDK also reads all of it before the
app runs), the headers in another (one JSON text), the app runs once, and its answer becomes
one `Response`. A streamed answer (an export) goes out through a `TransformStream` while the
app keeps writing: the app runs as a task the request's `waitUntil` keeps alive, since the
stream's backpressure waits for a reader, which exists only once the `Response` is returned.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

from js import JSON, URL, Object, Response, TransformStream
from pyodide.ffi import create_proxy, jsnull

from ..adapters.rpc import wait_until
from ..http.turn_writes import Shortcut

ASGI_VERSION = {"spec_version": "2.0", "version": "3.0"}
NULL_BODY_STATUSES = frozenset({101, 103, 204, 205, 304})
"""Statuses whose response must have no body (the Fetch spec)."""


def _null(value: Any) -> bool:
    """Whether a JavaScript value is null: it arrives as Pyodide's `jsnull`, not None."""
    return value is None or value is jsnull


def _header(headers: Any) -> Callable[[str], str | None]:
    """A request header by its name, None where it is absent (`Headers.get` answers null)."""

    def get(name: str) -> str | None:
        value = headers.get(name)
        return None if _null(value) else value

    return get


def _scope(request: Any, url: Any, path: str, env: Any) -> dict[str, Any]:
    raw_headers = json.loads(JSON.stringify(Object.fromEntries(request.headers.entries())))
    return {
        "type": "http",
        "asgi": ASGI_VERSION,
        "http_version": "1.1",
        "method": request.method,
        "scheme": url.protocol.removesuffix(":"),
        "path": path,
        "raw_path": url.pathname.encode(),
        "query_string": url.search.removeprefix("?").encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in raw_headers.items()],
        "env": env,
    }


@contextmanager
def _view(chunk: bytes) -> Iterator[Any]:
    """`chunk` as a JavaScript Uint8Array over Python's own memory, valid inside the block:
    what takes it must copy it there (`Response` does; a stream's `write` gets a slice)."""
    proxy = create_proxy(chunk)
    buffer = proxy.getBuffer()
    proxy.destroy()
    try:
        yield buffer.data
    finally:
        buffer.release()


def _response(status: int, headers: list[tuple[str, str]], content: bytes) -> Any:
    """A JavaScript `Response` of a whole answer."""
    if status in NULL_BODY_STATUSES:
        return Response.new(None, status=status, headers=headers)
    with _view(content) as view:  # copied once, by the Response
        return Response.new(view, status=status, headers=headers)


class _Exchange:
    """One request's ASGI channel: the body handed over once, the answer built as sent."""

    def __init__(self, body: bytes) -> None:
        self._body: bytes | None = body
        self.answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._finished = asyncio.Event()
        self._start: dict[str, Any] = {}
        self._writer: Any = None

    async def receive(self) -> dict[str, Any]:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self._finished.wait()  # asked again: only a disconnect is left to tell
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self._start = {
                "status": message["status"],
                "headers": [(k.decode(), v.decode()) for k, v in message.get("headers", [])],
            }
            return
        chunk, more = message.get("body", b""), message.get("more_body", False)
        if self._writer is None and not more:
            self.answer.set_result(_response(self._start["status"], self._start["headers"], chunk))
            self._finished.set()
            return
        if self._writer is None:
            stream = TransformStream.new()
            self._writer = stream.writable.getWriter()
            self.answer.set_result(Response.new(stream.readable, **self._start))
        with _view(chunk) as content:
            copy = content.slice()  # the write completes after the block
        await self._writer.write(copy)
        if not more:
            await self._writer.close()
            self._finished.set()

    def fail(self, exc: BaseException) -> bool:
        """The app failed. Before its answer started, the request fails with the error (True);
        during a streamed one, the stream is aborted, so that the client sees it break instead
        of an end that would pass for a complete body (False)."""
        self._finished.set()
        if not self.answer.done():
            self.answer.set_exception(exc)
            return True
        if self._writer is not None:
            self._writer.abort(str(exc))
        return False


async def fetch(
    app: Any, request: Any, env: Any, ctx: Any, shortcut: Shortcut | None = None
) -> Any:
    """`app`'s answer to `request` (the SDK's `Request`), `env` in the scope as the SDK puts
    it (`request.scope["env"]`); `shortcut`'s, where it gives one."""
    js_request = request.js_object
    has_body = not _null(js_request.body)  # a GET's is null: no promise to wait for
    body = (await js_request.arrayBuffer()).to_bytes() if has_body else b""
    url = URL.new(js_request.url)
    path = unquote(url.pathname)
    if shortcut is not None:
        answered = await shortcut(js_request.method, path, _header(js_request.headers), body)
        if answered is not None:
            headers = [(k.decode(), v.decode()) for k, v in answered.raw_headers]
            return _response(answered.status_code, headers, answered.body)
    exchange = _Exchange(body)
    scope = _scope(js_request, url, path, env)

    async def run() -> None:
        try:
            await app(scope, exchange.receive, exchange.send)
            if not exchange.answer.done():
                raise RuntimeError("the application sent no response")
        except Exception as exc:
            if not exchange.fail(exc):
                raise  # the answer was on its way: the task's error is the log's

    task = asyncio.ensure_future(run())
    answer = await exchange.answer
    if not task.done():
        wait_until(ctx, task)
    return answer
