"""The /v1 routes. Each authenticates the caller, validates its input with pydantic, and hands
one operation to the `Services` the app resolves for the request (`app.state.resolve`).

Dependencies are `async def` on purpose: FastAPI runs plain `def` dependencies in a thread
pool, and Pyodide (the Workers runtime) cannot start threads.
"""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from ..engine import SessionKey
from ..engine.errors import Forbidden
from ..engine.large import READ_MODES
from ..engine.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from ..engine.rules import ENTRY_TYPES, ORDERS
from ..engine.snapshot import compress
from ..engine.values import ID_PATTERN, MAX_SAFE_INT, new_id
from ..mirror.reads import BOOKMARK_PATTERN, CONSTRAINTS, HEADER
from ..service.auth import Principal, authenticate
from ..service.fork import fork_session
from ..service.listing import MAX_CURSOR_LENGTH, list_sessions
from ..service.search import MAX_HITS, search_entries
from ..service.services import Services
from ..service.transfer import export_parts, export_session, parse_import
from ..wire import (
    DIGITS,
    AppendRequest,
    AppendResult,
    Context,
    DataSave,
    Deleted,
    EntryPage,
    EntryType,
    ForkRequest,
    LeafMove,
    MirrorStatus,
    ParityReport,
    Pruned,
    PruneRequest,
    Replaced,
    ReplaceRequest,
    Resync,
    SearchPage,
    Session,
    SessionCreate,
    SessionData,
    SessionPage,
    SessionUpdate,
    Status,
    Writer,
    WriterClaim,
)


class JsonText(Response):
    """A result that is JSON already (a Durable Object's answer, which the gateway never
    parses): sent as it is, not validated again against the route's model, which documents
    it (tests/test_wire.py holds the models equal to what the engine answers). The turn's
    requests (create, read the session, append, read entries or the context) answer so."""

    media_type = "application/json"


def create_call(body: SessionCreate, tenant: str) -> tuple[SessionKey, dict[str, Any]]:
    """The create's key and fields: the id given, or a new one."""
    return SessionKey(tenant, body.id or new_id()), body.model_dump(
        exclude={"id"}, exclude_unset=True
    )


def append_args(body: AppendRequest) -> tuple[Any, ...]:
    """The append's arguments: the entries as given, the expected version, the writer."""
    entries = [e.model_dump(exclude_none=True) for e in body.entries]
    writer = body.writer.model_dump() if body.writer else None
    return entries, body.expected_version, writer


router = APIRouter(prefix="/v1")


def _one_of(words: tuple[str, ...]) -> str:
    """A query pattern admitting exactly the engine's words (it checks them again)."""
    return f"^({'|'.join(words)})$"


LargeMode = Annotated[
    str,
    Query(
        pattern=_one_of(READ_MODES),
        description="whole: large entries as they were written; prefix: as their rows keep "
        "them, the first characters of the content and `blob` saying what is left out.",
    ),
]
NDJSON = "application/x-ndjson"
GZIP = "application/gzip"
IMPORT_ROUTE = "/sessions/import"
IMPORT_PATH = router.prefix + IMPORT_ROUTE
IMPORT_TYPES = frozenset({NDJSON, "application/jsonl", GZIP})
"""What an import's body may be: JSON Lines (either name) or a gzipped snapshot."""


async def services_of(request: Request) -> Services:
    return request.app.state.resolve(request)


ServicesDep = Annotated[Services, Depends(services_of)]


async def principal_of(request: Request, services: ServicesDep) -> Principal:
    return authenticate(services.tokens, request.headers.get("authorization", ""))


async def writer_of(principal: Annotated[Principal, Depends(principal_of)]) -> Principal:
    if principal.read_only:
        raise Forbidden("this token is read-only")
    return principal


ReaderDep = Annotated[Principal, Depends(principal_of)]
WriterDep = Annotated[Principal, Depends(writer_of)]


SessionId = Annotated[str, Path(pattern=ID_PATTERN, description="Unique within the tenant.")]


async def reader_key(session_id: SessionId, principal: ReaderDep) -> SessionKey:
    return SessionKey(principal.tenant, session_id)


async def writer_key(session_id: SessionId, principal: WriterDep) -> SessionKey:
    return SessionKey(principal.tenant, session_id)


ReadKey = Annotated[SessionKey, Depends(reader_key)]
WriteKey = Annotated[SessionKey, Depends(writer_key)]
Timestamp = Annotated[int | None, Query(ge=0, le=MAX_SAFE_INT), DIGITS]
Bookmark = Annotated[
    str | None,
    Header(
        alias=HEADER,
        pattern=BOOKMARK_PATTERN,
        description="How fresh the read must be: a bookmark a read or the session's mirror "
        f"status answered (at least that fresh), or one of {', '.join(CONSTRAINTS)}. "
        "Absent or empty: first-unconstrained (any copy of the database).",
    ),
]


def _answer_bookmark(response: Response, page: dict[str, Any]) -> dict[str, Any]:
    """The read's bookmark in the x-d1-bookmark header too, for Workers and proxies that
    pass it along without reading the body (Cloudflare's convention)."""
    if page["bookmark"] is not None:
        response.headers[HEADER] = page["bookmark"]
    return page


@router.post("/sessions", status_code=201, response_model=Session, tags=["sessions"])
async def create_session(body: SessionCreate, who: WriterDep, services: ServicesDep) -> Any:
    key, fields = create_call(body, who.tenant)
    return JsonText(await services.sessions.text("create_session", key, fields), 201)


@router.get("/sessions", response_model=SessionPage, tags=["sessions"])
async def list_all_sessions(
    who: ReaderDep,
    services: ServicesDep,
    response: Response,
    bookmark: Bookmark = None,
    user_id: str | None = None,
    agent_name: str | None = None,
    status: Status | None = None,
    updated_since: Timestamp = None,
    updated_before: Timestamp = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE), DIGITS] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page"),
    ] = None,
) -> Any:
    """Sessions of the caller's tenant, newest first, from D1 (locally, the mirror file),
    through D1's Sessions API: a read replica may answer, as fresh as x-d1-bookmark asks."""
    filters = {
        "user_id": user_id,
        "agent_name": agent_name,
        "status": status,
        "updated_since": updated_since,
        "updated_before": updated_before,
    }
    page = await list_sessions(
        services.index.reader(who.tenant), who.tenant, filters, limit, cursor, bookmark
    )
    return _answer_bookmark(response, page)


@router.get("/search", response_model=SearchPage, tags=["sessions"])
async def search(
    who: ReaderDep,
    services: ServicesDep,
    response: Response,
    q: Annotated[str, Query(min_length=1, max_length=1024)],
    limit: Annotated[int, Query(ge=1, le=MAX_HITS), DIGITS] = 20,
    bookmark: Bookmark = None,
) -> Any:
    """Entries of the caller's tenant whose content has every word of `q`, best first, from
    D1 (locally, the mirror file): like listings, search follows the mirror, and reads as
    fresh as x-d1-bookmark asks."""
    page = await search_entries(services.index.reader(who.tenant), who.tenant, q, limit, bookmark)
    return _answer_bookmark(response, page)


@router.post(
    IMPORT_ROUTE,
    status_code=201,
    response_model=Session,
    tags=["sessions"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                NDJSON: {"schema": {"type": "string"}},
                GZIP: {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "A session as exported by GET /v1/sessions/{session_id}/export "
            "(either form), or a snapshot from the cold tier's archive.",
        }
    },
)
async def import_session(
    request: Request,
    who: WriterDep,
    services: ServicesDep,
    session_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> Any:
    """Create a session from an export, under this id (default: the exported one)."""
    exported_id, fields, entries = parse_import(await request.body())
    key = SessionKey(who.tenant, session_id or exported_id or new_id())
    return await services.sessions.import_session(key, fields, entries)


@router.get("/sessions/{session_id}", response_model=Session, tags=["sessions"])
async def get_session(key: ReadKey, services: ServicesDep) -> Any:
    return JsonText(await services.sessions.text("get_session", key))


@router.patch("/sessions/{session_id}", response_model=Session, tags=["sessions"])
async def update_session(body: SessionUpdate, key: WriteKey, services: ServicesDep) -> Any:
    """Change title, user, agent, metadata (replaced whole), expiry or status."""
    changes = body.model_dump(exclude={"expected_version"}, exclude_unset=True)
    return await services.sessions.update_session(key, changes, body.expected_version)


@router.delete("/sessions/{session_id}", response_model=Deleted, tags=["sessions"])
async def delete_session(key: WriteKey, services: ServicesDep) -> Any:
    return await services.sessions.delete_session(key)


@router.get(
    "/sessions/{session_id}/export",
    response_class=Response,
    tags=["sessions"],
    responses={
        200: {
            "content": {
                NDJSON: {"schema": {"type": "string"}},
                GZIP: {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
async def export(key: ReadKey, services: ServicesDep, snapshot: bool = False) -> Response:
    """The session and all its entries, whole, as JSON Lines (the import format); with
    `snapshot=true`, gzipped: for a session without large entries, byte for byte what the
    cold tier keeps in R2 (whose snapshot keeps large entries as their rows hold them)."""
    if snapshot:
        return Response(compress(await export_session(services.sessions, key)), media_type=GZIP)
    first, rest = await export_parts(services.sessions, key)

    async def body() -> AsyncIterator[bytes]:
        yield first.encode()
        async for part in rest:
            yield part.encode()

    return StreamingResponse(body(), media_type=NDJSON)


@router.put("/sessions/{session_id}/data", response_model=SessionData, tags=["data"])
async def save_data(body: DataSave, key: WriteKey, services: ServicesDep) -> Any:
    return await services.sessions.save_data(key, body.data, body.expected_version)


@router.get("/sessions/{session_id}/data", response_model=SessionData, tags=["data"])
async def load_data(key: ReadKey, services: ServicesDep) -> Any:
    return await services.sessions.load_data(key)


@router.post(
    "/sessions/{session_id}/entries",
    status_code=201,
    response_model=AppendResult,
    tags=["entries"],
)
async def append_entries(body: AppendRequest, key: WriteKey, services: ServicesDep) -> Any:
    return JsonText(await services.sessions.text("append", key, *append_args(body)), 201)


@router.post("/sessions/{session_id}/writer", response_model=Writer, tags=["entries"])
async def claim_writer(body: WriterClaim, key: WriteKey, services: ServicesDep) -> Any:
    """Become the session's only writer: earlier writers are fenced (their appends get 409)."""
    return await services.sessions.claim_writer(key, body.writer_id)


@router.get("/sessions/{session_id}/writer", response_model=Writer, tags=["entries"])
async def get_writer(key: ReadKey, services: ServicesDep) -> Any:
    """The writer fence: who holds the claim, its epoch, and the next writer sequence."""
    return await services.sessions.get_writer(key)


@router.get("/sessions/{session_id}/entries", response_model=EntryPage, tags=["entries"])
async def read_entries(
    key: ReadKey,
    services: ServicesDep,
    after_seq: Annotated[int, Query(ge=0, le=MAX_SAFE_INT), DIGITS] = 0,
    before_seq: Annotated[int | None, Query(ge=1, le=MAX_SAFE_INT), DIGITS] = None,
    types: Annotated[list[EntryType] | None, Query(max_length=len(ENTRY_TYPES))] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE), DIGITS] = DEFAULT_PAGE_SIZE,
    order: Annotated[str, Query(pattern=_one_of(ORDERS))] = "asc",
    large: LargeMode = "whole",
) -> Any:
    """Entries in seq order; a page of whole entries ends early rather than carry more than
    MAX_READ_BYTES (has_more then says so)."""
    args = (after_seq, before_seq, types, limit, order, large)
    return JsonText(await services.sessions.text("read_entries", key, *args))


@router.post(
    "/sessions/{session_id}/fork", status_code=201, response_model=Session, tags=["branches"]
)
async def fork(body: ForkRequest, key: WriteKey, services: ServicesDep) -> Any:
    """A new session holding this one's entries up to a seq or entry (ids and seqs kept),
    with parent_id and forked_from_seq set. Re-send the same fork to finish a failed one."""
    fields = body.model_dump(
        include={"title", "user_id", "agent_name", "metadata"}, exclude_unset=True
    )
    child = SessionKey(key.tenant_id, body.id or new_id())
    return await fork_session(services.sessions, key, child, body.at_seq, body.at_entry_id, fields)


@router.put("/sessions/{session_id}/leaf", response_model=Session, tags=["branches"])
async def set_leaf(body: LeafMove, key: WriteKey, services: ServicesDep) -> Any:
    """Rewind or switch branch: later appends hang off this entry."""
    return await services.sessions.set_leaf(key, body.entry_id, body.expected_version)


@router.get("/sessions/{session_id}/context", response_model=Context, tags=["branches"])
async def read_context(key: ReadKey, services: ServicesDep, large: LargeMode = "whole") -> Any:
    """What an agent loads to continue: the current branch, cut at the latest compaction."""
    return JsonText(await services.sessions.text("read_context", key, large))


@router.post("/sessions/{session_id}/prune", response_model=Pruned, tags=["entries"])
async def prune(body: PruneRequest, key: WriteKey, services: ServicesDep) -> Any:
    """Delete entries before a seq for good (D1 follows); the leaf must survive."""
    return await services.sessions.prune(key, body.before_seq, body.expected_version)


@router.post("/sessions/{session_id}/replace", response_model=Replaced, tags=["entries"])
async def replace_history(body: ReplaceRequest, key: WriteKey, services: ServicesDep) -> Any:
    """Atomically replace the log from from_seq on (overflow recovery). The new entries get
    fresh seqs after the old ones; D1 follows."""
    entries = [e.model_dump(exclude_none=True) for e in body.entries]
    return await services.sessions.replace_history(
        key, body.from_seq, entries, body.expected_version
    )


@router.get("/sessions/{session_id}/mirror", response_model=MirrorStatus, tags=["mirror"])
async def mirror_status(key: ReadKey, services: ServicesDep) -> Any:
    """The D1 mirror of this session: pending outbox rows, lag, failures."""
    return await services.sessions.mirror_status(key)


@router.post("/sessions/{session_id}/mirror/verify", response_model=ParityReport, tags=["mirror"])
async def verify_mirror(key: ReadKey, services: ServicesDep) -> Any:
    """Compare this session's rows in D1 with the Durable Object's, column by column."""
    return await services.sessions.verify_mirror(key)


@router.post(
    "/sessions/{session_id}/mirror/resync", status_code=202, response_model=Resync, tags=["mirror"]
)
async def resync_mirror(key: WriteKey, services: ServicesDep) -> Any:
    """Rebuild this session's D1 rows from the Durable Object (queued, then drained)."""
    return await services.sessions.resync_mirror(key)
