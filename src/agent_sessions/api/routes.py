"""The /v1 routes. Each validates its input with pydantic and hands one operation to the
`Sessions` facade that the app was built with (`app.state.resolve`)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from ..engine import SessionKey
from ..engine.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from ..engine.values import new_id
from .models import (
    AppendRequest,
    AppendResult,
    DataSave,
    Deleted,
    EntryPage,
    EntryType,
    MirrorStatus,
    ParityReport,
    Resync,
    Session,
    SessionCreate,
    SessionData,
)
from .sessions import Sessions

DEFAULT_TENANT = "default"

router = APIRouter(prefix="/v1")


def tenant_of(_: Request) -> str:
    """The caller's tenant. Until tokens exist, every caller is the single default tenant."""
    return DEFAULT_TENANT


# Dependencies are `async def` on purpose: FastAPI runs plain `def` dependencies in a thread
# pool, and Pyodide (the Workers runtime) cannot start threads.


async def sessions_of(request: Request) -> Sessions:
    return request.app.state.resolve(request)


async def key_of(session_id: str, request: Request) -> SessionKey:
    return SessionKey(tenant_of(request), session_id)


SessionsDep = Annotated[Sessions, Depends(sessions_of)]
KeyDep = Annotated[SessionKey, Depends(key_of)]


@router.post("/sessions", status_code=201, response_model=Session, tags=["sessions"])
async def create_session(body: SessionCreate, request: Request, store: SessionsDep) -> Any:
    fields = body.model_dump(exclude={"id"}, exclude_none=True)
    key = SessionKey(tenant_of(request), body.id or new_id())
    return await store.create_session(key, fields)


@router.get("/sessions/{session_id}", response_model=Session, tags=["sessions"])
async def get_session(key: KeyDep, store: SessionsDep) -> Any:
    return await store.get_session(key)


@router.delete("/sessions/{session_id}", response_model=Deleted, tags=["sessions"])
async def delete_session(key: KeyDep, store: SessionsDep) -> Any:
    return await store.delete_session(key)


@router.put("/sessions/{session_id}/data", response_model=SessionData, tags=["data"])
async def save_data(body: DataSave, key: KeyDep, store: SessionsDep) -> Any:
    return await store.save_data(key, body.data, body.expected_version)


@router.get("/sessions/{session_id}/data", response_model=SessionData, tags=["data"])
async def load_data(key: KeyDep, store: SessionsDep) -> Any:
    return await store.load_data(key)


@router.post(
    "/sessions/{session_id}/entries",
    status_code=201,
    response_model=AppendResult,
    tags=["entries"],
)
async def append_entries(body: AppendRequest, key: KeyDep, store: SessionsDep) -> Any:
    entries = [e.model_dump(exclude_none=True) for e in body.entries]
    return await store.append(key, entries, body.expected_version)


@router.get("/sessions/{session_id}/entries", response_model=EntryPage, tags=["entries"])
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


@router.get("/sessions/{session_id}/mirror", response_model=MirrorStatus, tags=["mirror"])
async def mirror_status(key: KeyDep, store: SessionsDep) -> Any:
    """The D1 mirror of this session: pending outbox rows, lag, failures."""
    return await store.mirror_status(key)


@router.post("/sessions/{session_id}/mirror/verify", response_model=ParityReport, tags=["mirror"])
async def verify_mirror(key: KeyDep, store: SessionsDep) -> Any:
    """Compare this session's rows in D1 with the Durable Object's, column by column."""
    return await store.verify_mirror(key)


@router.post(
    "/sessions/{session_id}/mirror/resync", status_code=202, response_model=Resync, tags=["mirror"]
)
async def resync_mirror(key: KeyDep, store: SessionsDep) -> Any:
    """Rebuild this session's D1 rows from the Durable Object (queued, then drained)."""
    return await store.resync_mirror(key)
