"""The warm-up requests the Worker runs at import (http/warm.py): they complete without an
event loop, and answer what they are meant to, a health check and a refused write."""

from __future__ import annotations

import asyncio

import pytest

from agent_sessions.http import warm
from agent_sessions.http.app import create_app
from agent_sessions.service.auth import TokenTable
from agent_sessions.service.services import Services
from agent_sessions.service.sessions import Sessions

TOKEN = "warm-test-token-0123456789"


async def _unreachable(*_: object) -> None:
    raise AssertionError("a warm-up request reached a session")


def test_the_warm_up_completes_without_an_event_loop() -> None:
    services = Services(Sessions(_unreachable), None, TokenTable.parse(f"{TOKEN}=warm"))  # type: ignore[arg-type]
    app = create_app(lambda _request: services)
    assert warm.warm(app, warm.requests(TOKEN)) == [200, 422]


def test_a_request_that_awaits_is_refused() -> None:
    async def waits(scope: object, receive: object, send: object) -> None:
        await asyncio.sleep(0)

    with pytest.raises(warm.NotSynchronous):
        warm.run(waits, "GET", "/")
