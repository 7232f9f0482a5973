"""The HTTP API: one FastAPI app for the Worker (through the SDK's ASGI bridge) and the local
server (uvicorn). Where sessions live is decided by the `resolve` function it is built with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request

from .. import __version__
from ..engine import SessionKey
from ..engine.limits import DEFAULT_PAGE_SIZE, MAX_APPEND_BYTES, MAX_DATA_BYTES, MAX_PAGE_SIZE
from ..engine.values import new_id
from .errors import BodyLimit, install_error_handlers
from .models import (
    AppendRequest,
    AppendResult,
    DataSave,
    Deleted,
    EntryPage,
    EntryType,
    ErrorBody,
    Session,
    SessionCreate,
    SessionData,
)
from .sessions import Sessions

MAX_REQUEST_BYTES = max(MAX_APPEND_BYTES, MAX_DATA_BYTES) * 2
"""Room for JSON escaping around the largest accepted payload; the engine checks exact sizes."""

DEFAULT_TENANT = "default"

Resolver = Callable[[Request], Sessions]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Malformed request"),
        (404, "Session not found"),
        (409, "Conflict"),
        (413, "Too large"),
        (422, "Invalid request"),
    )
}


def tenant_of(_: Request) -> str:
    """The caller's tenant. Until tokens exist, every caller is the single default tenant."""
    return DEFAULT_TENANT


def create_app(resolve: Resolver) -> FastAPI:
    app = FastAPI(
        title="agent-sessions",
        version=__version__,
        description="Persistent AI-agent sessions: one Durable Object per session, mirrored to D1.",
        responses=_ERRORS,
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=MAX_REQUEST_BYTES)

    def sessions(request: Request) -> Sessions:
        return resolve(request)

    def key_of(session_id: str, request: Request) -> SessionKey:
        return SessionKey(tenant_of(request), session_id)

    SessionsDep = Annotated[Sessions, Depends(sessions)]
    KeyDep = Annotated[SessionKey, Depends(key_of)]

    @app.post("/v1/sessions", status_code=201, response_model=Session, tags=["sessions"])
    async def create_session(body: SessionCreate, request: Request, store: SessionsDep) -> Any:
        fields = body.model_dump(exclude={"id"}, exclude_none=True)
        key = SessionKey(tenant_of(request), body.id or new_id())
        return await store.create_session(key, fields)

    @app.get("/v1/sessions/{session_id}", response_model=Session, tags=["sessions"])
    async def get_session(key: KeyDep, store: SessionsDep) -> Any:
        return await store.get_session(key)

    @app.delete("/v1/sessions/{session_id}", response_model=Deleted, tags=["sessions"])
    async def delete_session(key: KeyDep, store: SessionsDep) -> Any:
        return await store.delete_session(key)

    @app.put("/v1/sessions/{session_id}/data", response_model=SessionData, tags=["data"])
    async def save_data(body: DataSave, key: KeyDep, store: SessionsDep) -> Any:
        return await store.save_data(key, body.data, body.expected_version)

    @app.get("/v1/sessions/{session_id}/data", response_model=SessionData, tags=["data"])
    async def load_data(key: KeyDep, store: SessionsDep) -> Any:
        return await store.load_data(key)

    @app.post(
        "/v1/sessions/{session_id}/entries",
        status_code=201,
        response_model=AppendResult,
        tags=["entries"],
    )
    async def append_entries(body: AppendRequest, key: KeyDep, store: SessionsDep) -> Any:
        entries = [e.model_dump(exclude_none=True) for e in body.entries]
        return await store.append(key, entries, body.expected_version)

    @app.get("/v1/sessions/{session_id}/entries", response_model=EntryPage, tags=["entries"])
    async def read_entries(
        key: KeyDep,
        store: SessionsDep,
        after_seq: Annotated[int, Query(ge=0)] = 0,
        before_seq: Annotated[int | None, Query(ge=1)] = None,
        types: Annotated[list[EntryType] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
        order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
    ) -> Any:
        page = await store.read_entries(key, after_seq, before_seq, types, limit, order)
        entries = page["entries"]
        page["next_cursor"] = entries[-1]["seq"] if page["has_more"] else None
        return page

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "version": __version__}

    return app
