"""The turn's writes (a session created, entries appended) answered without the framework.

Every turn of an agent makes them, and in workerd the path through the ASGI bridge, Starlette
and FastAPI's routing, dependencies and body handling costs more than the write's own work,
most of all in a fresh isolate. Here a request that is surely one of them, with a body that
surely passes, goes straight to its operation, with the same authentication and the same
answer, the Durable Object's text.

The body is checked once, by the engine's own checks of the operation's arguments (those the
Durable Object runs), not by the models as well: in a fresh isolate, pydantic-core's code
compiled for its first use was a third of what a first create compiled (bench.runtime.profile).
That is sure only where the two agree, which tests/test_turn_writes.py holds over generated
bodies: whatever passes here passes the models too, and reaches the engine as the app's
arguments would in effect. So a body with a field given as null (the engine takes a null
`metadata` as {} and null tokens as 0, where the models refuse them) and an append fenced to a
writer (its retry is known by a digest of the entries as sent, which the app sends as its
models dump them) take the app's path.

Anything less than sure is declined (`answer` gives None) before anything is written, and the
app answers it as it answers every request: a token missing or read-only, a body that is not
JSON, too large or too deep, one the checks refuse, a path or method of any other route. So
every refusal keeps the app's status, body and order (401 before 422). Engine errors, which
the app renders from the same exception with the same function, are answered here.

The Worker asks `answer` before its ASGI bridge (worker/gateway.py); the local server through
`TurnWrites`, inside the body guard, so that the tests of local HTTP run through it as well.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..engine import SessionError, SessionKey
from ..engine.batches import placeholder_ids, prepare_batch, session_columns
from ..engine.depth import text_too_deep
from ..engine.limits import BODY_DEPTH
from ..engine.operations import OPERATIONS
from ..engine.rules import SESSION_FIELDS, only
from ..engine.values import ID_PATTERN, check_optional_int, new_id
from ..service.auth import authenticate
from ..service.services import Services
from .body import MAX_REQUEST_BYTES, replay
from .errors import error_response, internal_error
from .routes import JsonText

CREATE_PATH = "/v1/sessions"
APPEND_PATH = re.compile(r"/v1/sessions/([^/]+)/entries")
_SESSION_ID = re.compile(ID_PATTERN)


def _route(method: str, path: str) -> str | None:
    """The session an append goes to, "" for a create, None for any other request."""
    if method != "POST":
        return None
    if path == CREATE_PATH:
        return ""
    found = APPEND_PATH.fullmatch(path)
    if found is None or not _SESSION_ID.fullmatch(found[1]):
        return None
    return found[1]


def _json_media(content_type: str | None) -> bool:
    """Whether FastAPI surely parses the body as JSON: it needs a content type (it is strict)
    and reads it as `email` does; application/json alone is taken here, other JSON types
    (+json) go to the app."""
    return content_type is not None and (
        content_type.partition(";")[0].strip().lower() == "application/json"
    )


APPEND_FIELDS = frozenset(OPERATIONS["append"].params) - {"writer"}
"""An append's fields taken here (a `writer` goes to the app: the module docstring)."""


def _given(value: Any) -> bool:
    """An object none of whose fields is null."""
    return isinstance(value, dict) and None not in value.values()


def create_args(parsed: Any, tenant: str) -> tuple[SessionKey, dict[str, Any]] | None:
    """A create's key and fields, where they surely pass (else None, or the engine's error)."""
    if not _given(parsed):
        return None
    fields = dict(parsed)
    session_id = fields.pop("id", None)
    only(fields, SESSION_FIELDS, "session")
    session_columns(fields)
    return SessionKey(tenant, new_id() if session_id is None else session_id), fields


def append_args(parsed: Any) -> tuple[Any, ...] | None:
    """An append's arguments, where they surely pass (else None, or the engine's error)."""
    if not _given(parsed):
        return None
    only(parsed, APPEND_FIELDS, "append")
    entries = parsed.get("entries")
    if not isinstance(entries, list) or not all(_given(entry) for entry in entries):
        return None
    prepare_batch(entries, new_ids=placeholder_ids())
    return entries, check_optional_int(parsed.get("expected_version"), "expected_version"), None


Call = tuple[Services, str, SessionKey, tuple[Any, ...]]
"""Where an operation goes (the request's services), its name, its key and its arguments."""


def _call(
    method: str,
    path: str,
    header: Callable[[str], str | None],
    body: bytes,
    services: Callable[[], Services],
) -> Call | None:
    """The operation a create or an append asks for, if it surely passes all the app checks
    before it runs one."""
    session_id = _route(method, path)
    if session_id is None or not body or len(body) > MAX_REQUEST_BYTES:
        return None
    if not _json_media(header("content-type")):
        return None
    try:
        given = services()
        who = authenticate(given.tokens, header("authorization") or "")
        if who.read_only or text_too_deep(body, BODY_DEPTH):
            return None
        parsed = json.loads(body)
        if session_id:
            args = append_args(parsed)
            key = SessionKey(who.tenant, session_id)
            return None if args is None else (given, "append", key, args)
        made = create_args(parsed, who.tenant)
    except (SessionError, ValueError):
        return None  # ValueError: not JSON, or not UTF-8
    return None if made is None else (given, "create_session", made[0], (made[1],))


async def answer(
    method: str,
    path: str,
    header: Callable[[str], str | None],
    body: bytes,
    services: Callable[[], Services],
) -> Response | None:
    """The answer to a create or an append, or None where the app must answer instead.
    `header` gives a request header by its lower-case name; `services` the request's
    (raising a SessionError where the deployment cannot serve: then the app says so)."""
    try:
        call = _call(method, path, header, body, services)
        if call is None:
            return None
        given, operation, key, args = call
        return JsonText(await given.sessions.text(operation, key, *args), 201)
    except SessionError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details)
    except Exception as exc:  # the app's answer to a fault of ours, here too
        return internal_error(exc)


Shortcut = Callable[[str, str, Callable[[str], str | None], bytes], Coroutine[Any, Any, Any]]
"""`answer` bound to a host's services: (method, path, a header by its lower-case name, body)
to a Starlette response, or None where the app must answer."""


def shortcut(services: Callable[[], Services]) -> Shortcut:
    """`answer` for a host whose requests' services `services` gives."""
    return partial(answer, services=services)


class TurnWrites:
    """`answer` in front of an ASGI app (the local server), behind the body guard, which
    hands on the body in one piece; a declined request goes on to the app, body and all."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _route(scope["method"], scope["path"]) is None:
            await self.app(scope, receive, send)
            return
        message = await receive()
        body = message.get("body", b"")
        request = Request(scope)
        answered = await answer(
            scope["method"],
            scope["path"],
            request.headers.get,
            body,
            lambda: request.app.state.resolve(request),
        )
        if answered is not None:
            await answered(scope, receive, send)
            return
        await self.app(scope, replay(message, receive), send)
