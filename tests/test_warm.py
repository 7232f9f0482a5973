"""The warm-up requests the Worker runs at import (http/warm.py): they complete without an
event loop, and answer what they are meant to, a health check and a refused write."""

from __future__ import annotations

import asyncio

import pytest

from agent_sessions.engine.errors import NotFound
from agent_sessions.http import turn_writes, warm
from agent_sessions.http.app import create_app
from agent_sessions.service.auth import TokenTable
from agent_sessions.service.services import Services
from agent_sessions.service.sessions import Sessions

TOKEN = "warm-test-token-0123456789"


def test_the_warm_up_completes_without_an_event_loop() -> None:
    """Against sessions that answer at once, as the gateway's stand-in does: every request
    runs to its answer with no event loop; the refused write reaches no session."""
    reached: list[str] = []

    async def answers_at_once(_key: object, operation: str, _args: object) -> dict[str, object]:
        reached.append(operation)
        return {}

    tokens = TokenTable.parse(f"{TOKEN}=warm")
    services = Services(Sessions(answers_at_once), None, tokens)  # type: ignore[arg-type]
    app = create_app(lambda _request: services)
    warm.warm(app, warm.requests(TOKEN))  # raises unless each answers its status
    assert reached == ["create_session", "append", "read_context"]


def test_the_shortcut_warms_the_turn_s_writes() -> None:
    """The Worker asks http/turn_writes.py before its app: the warm-up runs it too, and it
    answers the create and the append (and declines the rest, which are the app's)."""
    reached: list[str] = []

    async def texts(_key: object, operation: str, _args: object) -> str:
        reached.append(operation)
        return "{}"

    tokens = TokenTable.parse(f"{TOKEN}=warm")
    services = Services(Sessions(None, texts), None, tokens)  # type: ignore[arg-type]

    shortcut = turn_writes.shortcut(lambda: services)
    warm.warm_shortcut(shortcut, warm.requests(TOKEN))
    assert reached == ["create_session", "append"]
    with pytest.raises(warm.WarmUpFailed, match="answered none"):
        warm.warm_shortcut(shortcut, warm.requests("another-token-0123456789"))


def test_a_request_that_answers_another_status_stops_the_warm_up() -> None:
    """Sessions that are not found (not the stand-in): the Worker must not start quietly."""

    async def not_found(_key: object, _operation: str, _args: object) -> None:
        raise NotFound("no such session")

    services = Services(Sessions(not_found), None, TokenTable.parse(f"{TOKEN}=warm"))  # type: ignore[arg-type]
    with pytest.raises(warm.WarmUpFailed, match="answered 404, not 201"):
        warm.warm(create_app(lambda _request: services), warm.requests(TOKEN))


def test_a_request_that_awaits_is_refused() -> None:
    async def waits(scope: object, receive: object, send: object) -> None:
        await asyncio.sleep(0)

    with pytest.raises(warm.NotSynchronous):
        warm.run(waits, "GET", "/")
