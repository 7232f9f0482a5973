"""Sending one request: urllib (blocking), or fetch inside Pyodide, with retries."""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from ..engine.errors import SessionError

RETRYABLE = frozenset({429, 500, 502, 503, 504})
NOT_ACTED_ON = frozenset({429, 503})
"""Statuses after which even a non-idempotent request can be sent again."""
SAFE_METHODS = frozenset({"GET", "PUT", "DELETE", "HEAD"})


class ApiError(SessionError):
    """An error status the API answered without its usual error body (a proxy, a crash)."""

    code = "http_error"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    """Headers of this call's own (a read's x-d1-bookmark)."""

    def url(self, base: str) -> str:
        pairs = [(k, v) for k, v in self.query.items() if v is not None]
        flat = [(k, i) for k, v in pairs for i in (v if isinstance(v, list) else [v])]
        return base.rstrip("/") + self.path + (f"?{urllib.parse.urlencode(flat)}" if flat else "")

    def payload(self) -> bytes | None:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return None
        try:  # UTF-8 as is: a non-ASCII text is 2-3 bytes a character, not 6 ("\u00e9")
            return json.dumps(self.body, ensure_ascii=False).encode()
        except UnicodeEncodeError:  # a lone surrogate: escaped, for the server to refuse
            return json.dumps(self.body).encode()


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    text: str

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


def error_of(reply: Reply) -> SessionError:
    """The typed exception for an error reply, carrying its HTTP status."""
    try:
        error = SessionError.from_dict(reply.json()["error"])
    except (ValueError, KeyError, TypeError):
        error = ApiError(f"HTTP {reply.status}: {reply.text[:200]}")
    error.http_status = reply.status  # type: ignore[attr-defined]
    return error


@dataclass(frozen=True)
class Retry:
    attempts: int = 4
    base_s: float = 0.25
    cap_s: float = 8.0

    def should(self, call: Call, status: int | None, attempt: int) -> bool:
        if attempt + 1 >= self.attempts:
            return False
        if status is None:  # the connection failed: nothing reached the server, or we can't tell
            return call.method in SAFE_METHODS
        return status in NOT_ACTED_ON or (status in RETRYABLE and call.method in SAFE_METHODS)

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.isdigit():
            return min(self.cap_s, float(retry_after))
        return random.uniform(0, min(self.cap_s, self.base_s * 2**attempt))


def _headers(call: Call, token: str | None) -> dict[str, str]:
    headers = {"accept": "application/json", "content-type": call.content_type, **call.headers}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return headers


def send_blocking(base: str, token: str | None, call: Call, timeout: float, retry: Retry) -> Reply:
    attempt = 0
    while True:
        request = urllib.request.Request(
            call.url(base), data=call.payload(), method=call.method, headers=_headers(call, token)
        )
        status: int | None = None
        retry_after = None
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                ctype = response.headers.get("content-type", "")
                return Reply(response.status, ctype, response.read().decode())
        except urllib.error.HTTPError as error:
            status, retry_after = error.code, error.headers.get("retry-after")
            reply = Reply(error.code, error.headers.get("content-type", ""), error.read().decode())
            if not retry.should(call, status, attempt):
                return reply
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            if not retry.should(call, None, attempt):
                raise
        time.sleep(retry.delay(attempt, retry_after))
        attempt += 1


async def send_async(
    base: str, token: str | None, call: Call, timeout: float, retry: Retry, fetcher: Any
) -> Reply:
    """Under CPython, the blocking sender in a thread; in Pyodide, JavaScript's fetch."""
    import sys  # noqa: PLC0415

    if sys.platform != "emscripten" and fetcher is None:
        return await asyncio.to_thread(send_blocking, base, token, call, timeout, retry)
    attempt = 0
    while True:
        try:
            reply, retry_after = await _fetch(base, token, call, fetcher)
        except Exception:
            if not retry.should(call, None, attempt):
                raise
            reply, retry_after = None, None
        if reply is not None and not (
            reply.status >= 400 and retry.should(call, reply.status, attempt)
        ):
            return reply
        await asyncio.sleep(retry.delay(attempt, retry_after))
        attempt += 1


async def _fetch(base: str, token: str | None, call: Call, fetcher: Any) -> tuple[Reply, Any]:
    import js  # type: ignore[import-not-found]  # noqa: PLC0415 - Pyodide only
    from pyodide.ffi import to_js  # type: ignore[import-not-found]  # noqa: PLC0415

    init: dict[str, Any] = {"method": call.method, "headers": _headers(call, token)}
    payload = call.payload()
    if payload is not None:
        init["body"] = payload.decode()
    request = js.Request.new(call.url(base), to_js(init, dict_converter=js.Object.fromEntries))
    response = await (fetcher.fetch(request) if fetcher is not None else js.fetch(request))
    headers = response.headers
    reply = Reply(response.status, headers.get("content-type") or "", await response.text())
    return reply, headers.get("retry-after")
