"""The HTTP API: one FastAPI app for the Worker (through worker/http_bridge.py) and the local
server (uvicorn). Where sessions live is decided by the `resolve` function it is built with.
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.telemetry import TelemetryConfig

from .. import __version__
from ..console import PAGE
from ..service.services import Services
from ..wire import ErrorBody
from .body import MAX_REQUEST_BYTES, BodyGuard
from .errors import install_error_handlers
from .routes import router
from .turn_writes import TurnWrites

Resolver = Callable[[Request], Services]

NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's OpenTelemetry instrumentation off: nothing here configures a provider, and with
it on FastAPI asks OpenTelemetry on every request whether one was configured since."""

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Malformed request"),
        (401, "Missing or unknown bearer token"),
        (403, "The token's scope does not allow this"),
        (404, "Session not found"),
        (408, "The request body did not arrive in time (the local server)"),
        (409, "Conflict"),
        (413, "Too large"),
        (415, "Not JSON (the local server without tokens)"),
        (422, "Invalid request"),
        (503, "The store was upgraded by a newer release"),
        (507, "The store cannot be written (a full or read-only disk)"),
    )
}


def create_app(
    resolve: Resolver,
    health: Callable[[], dict[str, Any]] | None = None,
    lifespan: Any = None,
    body_timeout: float | None = None,
    turn_writes: bool = False,
) -> FastAPI:
    """`resolve` gives each request its `Services`. `health` reports, where the host can see
    every session (local mode), whether all is well (`ok`: no alarm failing), the mirror
    across sessions and the failing alarms; in the Worker each session's DO reports its own
    (`GET /v1/sessions/{id}/mirror`). `body_timeout` bounds how long a request body may take
    to arrive (http/body.py). `turn_writes`: creates and appends answered before FastAPI's
    routing (http/turn_writes.py), for a host that does not ask it first itself (the Worker
    does, before its bridge)."""
    app = FastAPI(
        title="agent-sessions",
        version=__version__,
        description="Persistent AI-agent sessions: one Durable Object per session, mirrored to D1.",
        responses=_ERRORS,
        lifespan=lifespan,
        telemetry=NO_TELEMETRY,
    )
    app.state.resolve = resolve
    install_error_handlers(app)
    if turn_writes:
        app.add_middleware(TurnWrites)  # inside the body guard, added after it
    app.add_middleware(BodyGuard, limit=MAX_REQUEST_BYTES, timeout=body_timeout)
    app.include_router(router)

    @app.get("/console", response_class=HTMLResponse, include_in_schema=False)
    async def console() -> str:
        """The sessions console (agent_sessions/console): browse, search, inspect."""
        return PAGE

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, Any]:
        status = health() if health else {}
        return {
            "ok": status.get("ok", True),
            "version": __version__,
            "mirror": status.get("mirror"),
            "alarms": status.get("alarms"),
        }

    return app
