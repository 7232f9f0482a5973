"""Reading a request body before the app sees it: refused whole if it is too large, too slow
to arrive (where a timeout is set: the local server), or JSON nested deeper than any request
needs, before anything parses it.

Python's JSON parser takes about 1,000 levels and pydantic-core's encoder 49 in WebAssembly, so a
deep body is refused here, in the Worker and locally alike; the engine then holds each stored
value to MAX_JSON_DEPTH exactly (an import's text is checked where it is read, in transfer.py).
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..engine.depth import text_too_deep
from ..engine.limits import BODY_DEPTH, MAX_APPEND_BYTES, MAX_DATA_BYTES, MAX_JSON_DEPTH
from .errors import error_response

MAX_REQUEST_BYTES = max(MAX_APPEND_BYTES, MAX_DATA_BYTES) * 2
"""Room for JSON escaping around the largest accepted payload; the engine checks exact sizes."""


def is_json(content_type: bytes | None) -> bool:
    """What FastAPI parses as JSON: no content type, application/json or any +json type."""
    if content_type is None:
        return True
    kind = content_type.split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or (
        kind.startswith(b"application/") and kind.endswith(b"+json")
    )


def replay(first: Message, receive: Receive) -> Receive:
    """A `receive` that gives `first` (the body, already read) and then goes on to
    `receive` (a disconnect)."""
    delivered = False

    async def again() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return first

    return again


class BodyGuard:
    """Buffer the body (413 over `limit` bytes, before parsing; 408 if it has not all arrived
    `timeout` seconds after the request began), refuse JSON bodies deeper than BODY_DEPTH
    (422), then hand the app the body in one piece.

    The timeout is for the local server: uvicorn times out nothing while a body arrives, so a
    connection sending half a body held its resources forever. The Worker's runtime delivers
    bodies whole, and sets no timeout here."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float | None = None) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while more:
            try:
                message = await self._next(receive, deadline)
            except TimeoutError:
                await self._too_slow(scope, receive, send)
                return
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and is_json(headers.get(b"content-type")) and text_too_deep(body, BODY_DEPTH):
            refused = error_response(
                422,
                "invalid",
                f"the request body nests deeper than {BODY_DEPTH} levels of arrays and objects; "
                f"a JSON value in it may nest at most {MAX_JSON_DEPTH}",
                {"limit": MAX_JSON_DEPTH},
            )
            await refused(scope, receive, send)
            return
        whole: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, replay(whole, receive), send)

    @staticmethod
    async def _next(receive: Receive, deadline: float | None) -> Message:
        if deadline is None:
            return await receive()
        return await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))

    async def _too_slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            408,
            "timeout",
            f"the request body did not arrive within {self.timeout:g} s",
            {"timeout_s": self.timeout},
        )
        response.headers["connection"] = "close"  # the rest of the body is not awaited
        await response(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "too_large", f"the request body is over {self.limit} bytes", {"limit": self.limit}
        )
        await response(scope, receive, send)
