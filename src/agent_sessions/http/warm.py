"""Requests run through the app once, in the process, before it serves anyone.

A fresh isolate pays for everything the first request does for the first time: Starlette
builds its middleware stack on the first call, and the runtime compiles the parts of the
interpreter and of pydantic-core that routing, validation and error rendering use, when they
are first used. Measured in workerd, a Worker's first HTTP request took 0.5 to 1 s against
0.2 s once a health check and a refused write had run at import (`worker/gateway.py`); the
deploy-time snapshot keeps what they leave in memory.

The requests need no I/O: they complete without awaiting anything (no binding is reached, no
timer set), so they run at module level, where a Worker may not do I/O or set timers, by
stepping the app's coroutine once. One that does not complete is an error, not a silent skip:
tests/test_warm.py holds both to their expected statuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.types import ASGIApp, Message


class NotSynchronous(RuntimeError):
    """A warm-up request awaited something: it would need an event loop (and I/O)."""


def _scope(app: ASGIApp, method: str, path: str, headers: Mapping[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "server": ("warm-up", 80),
        "client": ("warm-up", 0),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"warm-up"), *((k.encode(), v.encode()) for k, v in headers.items())],
        "app": app,
    }


def run(
    app: ASGIApp,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    extra: Mapping[str, Any] | None = None,
) -> int:
    """One request through `app`, stepped to its end without an event loop; its status."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = _scope(app, method, path, headers or {}) | dict(extra or {})
    step = app(scope, receive, send)
    try:
        step.send(None)
    except StopIteration:
        return int(sent[0]["status"])
    step.close()
    raise NotSynchronous(f"{method} {path} awaited something: it cannot warm the app")


def requests(token: str) -> list[tuple[str, str, dict[str, str], bytes]]:
    """A health check, and a write refused by validation after `token` let it in (routing,
    middleware, authentication, body validation and an error's rendering, no binding)."""
    writer = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    return [("GET", "/healthz", {}, b""), ("POST", "/v1/sessions", writer, b'{"id": 1}')]


def warm(
    app: ASGIApp, requests: Sequence[tuple[str, str, Mapping[str, str], bytes]], **extra: Any
) -> list[int]:
    """Each of `requests` (method, path, headers, body) once; their statuses. `extra` goes
    into every scope (the Worker's requests carry `env`)."""
    return [
        run(app, method, path, headers, body, extra) for method, path, headers, body in requests
    ]
