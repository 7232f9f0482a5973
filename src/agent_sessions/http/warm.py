"""Requests run through the app once, in the process, before it serves anyone.

A fresh isolate pays for everything the first request does for the first time: Starlette
builds its middleware stack on the first call, and the runtime compiles the parts of the
interpreter and of pydantic-core that routing, validation and error rendering use, when they
are first used. Measured in workerd, a Worker's first HTTP request took 0.5 to 1 s against
0.2 s once a health check and a refused write had run at import (`worker/gateway.py`); the
deploy-time snapshot keeps what they leave in memory. A turn's requests that succeed (create,
append, read the context) run too, so that their routes' paths are not first run by a user.

The requests need no I/O: they complete without awaiting anything (no binding is reached, no
timer set; the sessions they reach answer at once), so they run at module level, where a
Worker may not do I/O or set timers, by stepping the app's coroutine once. One that does not
complete is an error, not a silent skip: tests/test_warm.py holds them to their statuses.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping, Sequence
from typing import Any

from starlette.types import ASGIApp, Message

from .turn_writes import Shortcut


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
    _step(app(scope, receive, send), f"{method} {path}")
    return int(sent[0]["status"])


def _step(work: Coroutine[Any, Any, Any], what: str) -> Any:
    """`work` run to its end without an event loop; its result."""
    try:
        work.send(None)
    except StopIteration as done:
        return done.value
    work.close()
    raise NotSynchronous(f"{what} awaited something: it cannot warm the app")


TURN = b'{"entries": [{"type": "message", "role": "user", "content": "warm"}]}'
Request = tuple[str, str, Mapping[str, str], bytes, int]
"""method, path, headers, body, and the status it must answer with."""


def requests(token: str) -> list[Request]:
    """A health check, a write refused by validation after `token` let it in (routing,
    middleware, authentication, body validation and an error's rendering), then a turn's
    requests that succeed: a session made, a turn appended, the context read. Those reach the
    sessions the app resolves for them, which for the warm-up must answer without awaiting
    anything (worker/gateway.py gives it a stand-in of the Durable Object namespace)."""
    writer = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    return [
        ("GET", "/healthz", {}, b"", 200),
        ("POST", "/v1/sessions", writer, b'{"id": 1}', 422),
        ("POST", "/v1/sessions", writer, b'{"id": "warm-up"}', 201),
        ("POST", "/v1/sessions/warm-up/entries", writer, TURN, 201),
        ("GET", "/v1/sessions/warm-up/context", writer, b"", 200),
    ]


class WarmUpFailed(RuntimeError):
    """A warm-up request answered another status than its own: the app is not what the
    warm-up was written for, and a Worker that imports it should not start as if it were."""


def warm(app: ASGIApp, requests: Sequence[Request], **extra: Any) -> None:
    """Each of `requests` once, each checked against its status. `extra` goes into every
    scope (the Worker's requests carry `env`)."""
    for method, path, headers, body, expected in requests:
        status = run(app, method, path, headers, body, extra)
        _check(method, path, status, expected)


def _check(method: str, path: str, status: int, expected: int) -> None:
    if status != expected:
        raise WarmUpFailed(f"warm-up {method} {path} answered {status}, not {expected}")


def warm_shortcut(shortcut: Shortcut, requests: Sequence[Request]) -> None:
    """`requests` through a shortcut a host asks before its app (http/turn_writes.py), which
    must answer at least one of them, each with its status."""
    answered = 0
    for method, path, headers, body, expected in requests:
        response = _step(shortcut(method, path, headers.get, body), f"{method} {path}")
        if response is not None:
            _check(method, path, response.status_code, expected)
            answered += 1
    if not answered:
        raise WarmUpFailed("the shortcut answered none of the warm-up requests")
