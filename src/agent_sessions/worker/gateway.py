"""The gateway Worker (`Default`): HTTP through our ASGI bridge (http_bridge.py), and RPC
methods for other Workers bound to it with a service binding. Both route to the session's DO.

Everything, FastAPI and the app included, is imported and built at module level: the
deploy-time memory snapshot captures the top level, so a cold isolate restores it instead of
importing on its first request, and the SDK's import patches (e.g. `anyio.to_thread` run
inline) only reach modules imported before the first request.

RPC methods take the tenant first (a service binding is trusted: whoever can bind this
Worker chooses the tenant), positional arguments only, and answer {"ok": result} or
{"error": {"code", "message", "details"}}: the same envelope as the Durable Object, so JS
and Python callers get the error's code, which a thrown exception would lose. Where the
answer is the Durable Object's own (every per-session operation), it is forwarded as the
object wrote it, never read in Python (adapters/rpc.py `forward`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from types import SimpleNamespace
from typing import Any

from workers import WorkerEntrypoint

from ..adapters.d1 import D1Mirror
from ..adapters.d1_shards import d1_shards
from ..adapters.do_namespace import (
    durable_object_answers,
    durable_object_texts,
    durable_object_transport,
)
from ..adapters.rpc import envelope, forward, to_python
from ..engine import InvalidInput, SessionError, SessionKey
from ..engine.errors import Misconfigured
from ..engine.limits import DEFAULT_PAGE_SIZE
from ..engine.operations import OPERATIONS, Operation
from ..engine.values import new_id
from ..http import turn_writes, warm
from ..http.app import create_app
from ..mirror.retention import SETTING as RETENTION
from ..mirror.retention import retention_ms, sweep
from ..mirror.shards import Shards
from ..mirror.timing import SETTING as DRAIN_DELAY
from ..mirror.timing import DrainTiming
from ..service.auth import TOKENS_VARIABLE, TokenTable
from ..service.fork import fork_session
from ..service.listing import list_sessions
from ..service.moves import check_tenant, clear_tenant, copy_tenant
from ..service.search import search_entries
from ..service.services import Services
from ..service.sessions import Sessions
from ..service.transfer import export_session, parse_import
from . import http_bridge


@cache
def tokens_of(spec: str | None) -> TokenTable:
    """The Worker's tokens, parsed once per distinct secret. No secret: nobody gets in."""
    return TokenTable.parse(spec) if spec else TokenTable({})


def mirror_of(env: Any) -> Shards:
    """The mirror's databases. Settings that cannot be used (a shard map that does not parse,
    a bad drain delay or retention) refuse every request (503, saying which): a deployment
    that cannot place tenants takes no writes its mirror could not deliver. A database the map
    names but the Worker lacks is refused where it is used (adapters/d1_shards.py)."""
    try:
        DrainTiming.from_setting(getattr(env, DRAIN_DELAY, None))
        retention_ms(getattr(env, RETENTION, None))
    except ValueError as exc:
        raise Misconfigured(str(exc)) from None
    return d1_shards(env, D1Mirror)


def services_of(env: Any) -> Services:
    return Services(
        Sessions(durable_object_transport(env.SESSIONS), durable_object_texts(env.SESSIONS)),
        mirror_of(env),
        tokens_of(getattr(env, TOKENS_VARIABLE, None) or None),
    )


HTTP_APP = create_app(lambda request: services_of(request.scope["env"]))

WARM_UP_TOKEN = "warm-up-token-of-no-tenant-0123456789"


class _StandInObjects:
    """The warm-up's Durable Object namespace: each call answers at once with an empty
    result, so that a turn's requests run their whole path through the gateway (validation,
    the route, the answer sent as the object wrote it) and reach no binding."""

    def getByName(self, name: str) -> _StandInObjects:
        return self

    def __getattr__(self, operation: str) -> Callable[..., Awaitable[str]]:
        async def answer(*_: Any) -> str:
            return envelope({})

        return answer


WARM_UP_ENV = SimpleNamespace(
    **{TOKENS_VARIABLE: f"{WARM_UP_TOKEN}=warm-up", "SESSIONS": _StandInObjects(), "DB": None}
)
"""The env of the warm-up requests (http/warm.py): a token of their own, in no real env, a
stand-in for the sessions, and no binding."""


warm.warm(HTTP_APP, warm.requests(WARM_UP_TOKEN), env=WARM_UP_ENV)
warm.warm_shortcut(
    turn_writes.shortcut(lambda: services_of(WARM_UP_ENV)), warm.requests(WARM_UP_TOKEN)
)


def _options(value: Any, what: str) -> dict[str, Any]:
    value = to_python(value)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be an object")
    return value


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Any:
        """A turn's write goes straight to its operation where it surely may; every other
        request, and every one it declines, through the app (http/turn_writes.py)."""
        writes = turn_writes.shortcut(lambda: services_of(self.env))
        return await http_bridge.fetch(HTTP_APP, request, self.env, self.ctx, writes)

    async def scheduled(self, controller: Any, *_: Any) -> None:
        """The cron (wrangler.toml `[triggers]`): D1's retention sweep over every database
        the mirror writes, when MIRROR_RETENTION_DAYS is set (mirror/retention.py)."""
        keep_ms = retention_ms(getattr(self.env, RETENTION, None))
        if keep_ms is None:
            return
        cutoff = int(controller.scheduledTime) - keep_ms
        for port in mirror_of(self.env).ports.values():
            await sweep(port, cutoff)

    async def _rpc(self, call: Callable[[Services], Awaitable[Any]]) -> Any:
        """A result the gateway made, or an engine error, as the envelope."""
        try:
            return forward(envelope(await call(services_of(self.env))))
        except SessionError as exc:
            return forward(envelope(error=exc))

    async def _forward(
        self, operation: str, make: Callable[[], tuple[SessionKey, tuple[Any, ...]]]
    ) -> Any:
        """The session's Durable Object's own answer to `operation`, forwarded as it is;
        `make` gives the key and the arguments (an InvalidInput there is answered here)."""
        try:
            mirror_of(self.env)  # refuses settings that cannot be used, as every request does
            key, args = make()
        except SessionError as exc:
            return forward(envelope(error=exc))
        return forward(await durable_object_answers(self.env.SESSIONS)(key, operation, args))

    def _key(self, tenant: Any, session_id: Any) -> SessionKey:
        return SessionKey(to_python(tenant), to_python(session_id))

    async def create_session(self, tenant: Any, fields: Any) -> dict[str, Any]:
        """fields: id (optional), user_id, agent_name, title, metadata, data, expires_at."""

        async def call(s: Services) -> Any:
            given = _options(fields, "fields")
            key = self._key(tenant, given.pop("id", None) or new_id())
            return await s.sessions.create_session(key, given)

        return await self._rpc(call)

    async def read_entries(self, tenant: Any, session_id: Any, query: Any = None) -> Any:
        """query: after_seq, before_seq, types, limit, order, large (all optional)."""

        def make() -> tuple[SessionKey, tuple[Any, ...]]:
            q = _options(query, "query")
            values = (
                q.get("after_seq", 0),
                q.get("before_seq"),
                q.get("types"),
                q.get("limit", DEFAULT_PAGE_SIZE),
                q.get("order", "asc"),
                q.get("large"),
            )
            return self._key(tenant, session_id), OPERATIONS["read_entries"].bind(values)

        return await self._forward("read_entries", make)

    async def list_sessions(self, tenant: Any, filters: Any = None) -> dict[str, Any]:
        """filters: user_id, agent_name, status, updated_since, updated_before, limit, cursor,
        bookmark (how fresh: mirror/reads.py); the page answers the bookmark after the read."""

        async def call(s: Services) -> Any:
            f = _options(filters, "filters")
            limit, cursor = f.pop("limit", DEFAULT_PAGE_SIZE), f.pop("cursor", None)
            bookmark = f.pop("bookmark", None)
            principal = self._key(tenant, "list")  # validates the tenant id
            return await list_sessions(
                s.index.reader(principal.tenant_id), principal.tenant_id, f, limit, cursor, bookmark
            )

        return await self._rpc(call)

    async def search_entries(
        self, tenant: Any, query: Any, limit: Any = 20, options: Any = None
    ) -> dict[str, Any]:
        """options: bookmark (how fresh, as for list_sessions)."""

        async def call(s: Services) -> Any:
            principal = self._key(tenant, "search")  # validates the tenant id
            given = _options(options, "options")
            unknown = sorted(set(given) - {"bookmark"})
            if unknown:
                raise InvalidInput("options may have bookmark only", {"fields": unknown})
            bookmark = given.get("bookmark")
            return await search_entries(
                s.index.reader(principal.tenant_id),
                principal.tenant_id,
                to_python(query),
                limit,
                bookmark,
            )

        return await self._rpc(call)

    async def export_session(self, tenant: Any, session_id: Any) -> dict[str, Any]:
        return await self._rpc(lambda s: export_session(s.sessions, self._key(tenant, session_id)))

    async def import_session(
        self, tenant: Any, jsonl: Any, session_id: Any = None
    ) -> dict[str, Any]:
        async def call(s: Services) -> Any:
            text = to_python(jsonl)
            if not isinstance(text, str):
                raise InvalidInput("jsonl must be a string")
            exported_id, fields, entries = parse_import(text.encode())
            key = self._key(tenant, to_python(session_id) or exported_id or new_id())
            return await s.sessions.import_session(key, fields, entries)

        return await self._rpc(call)

    async def fork_session(
        self, tenant: Any, session_id: Any, request: Any = None
    ) -> dict[str, Any]:
        """request: id, at_seq, at_entry_id, title, user_id, agent_name, metadata."""

        async def call(s: Services) -> Any:
            r = _options(request, "request")
            at_seq, at_entry_id = r.pop("at_seq", None), r.pop("at_entry_id", None)
            child = self._key(tenant, r.pop("id", None) or new_id())
            source = self._key(tenant, session_id)
            return await fork_session(s.sessions, source, child, at_seq, at_entry_id, r)

        return await self._rpc(call)

    async def copy_tenant(self, tenant: Any, after: Any = None) -> dict[str, Any]:
        """Moving a tenant to another D1 database (service/moves.py), step 1: a page of its
        sessions resync into the new one; go on from `next` until it is null."""
        return await self._rpc(
            lambda s: copy_tenant(s.sessions, s.index, self._tenant(tenant), self._after(after))
        )

    async def check_tenant(self, tenant: Any, after: Any = None) -> dict[str, Any]:
        """Step 1's end: the sessions of a page not yet equal in the new database."""
        return await self._rpc(
            lambda s: check_tenant(s.sessions, s.index, self._tenant(tenant), self._after(after))
        )

    async def clear_tenant(self, tenant: Any, binding: Any) -> dict[str, Any]:
        """Step 3, after the switch: the tenant's rows leave the database it left."""
        return await self._rpc(
            lambda s: clear_tenant(s.index, self._tenant(tenant), str(to_python(binding)))
        )

    def _tenant(self, tenant: Any) -> str:
        return self._key(tenant, "move").tenant_id  # validates the tenant id

    @staticmethod
    def _after(after: Any) -> str:
        value = to_python(after)
        if value is not None and not isinstance(value, str):
            raise InvalidInput("after must be a cursor (a session id) or null")
        return value or ""


OWN_SHAPES = frozenset({"create_session", "read_entries", "import_session", "export_session"})
"""Operations the gateway offers in a shape of its own (above): an id that may be generated,
a query object, the export's JSON Lines in and out. Every other operation of
engine/operations.py that is not internal is offered as the Durable Object has it, the tenant
first: method(tenant, session_id, *the operation's arguments)."""


def _passthrough(operation: Operation) -> Callable[..., Awaitable[Any]]:
    async def method(self: Default, tenant: Any, session_id: Any, *args: Any) -> Any:
        def make() -> tuple[SessionKey, tuple[Any, ...]]:
            values = operation.bind(tuple(to_python(a) for a in args))
            return self._key(tenant, session_id), values

        return await self._forward(operation.name, make)

    method.__name__ = method.__qualname__ = operation.name
    method.__doc__ = f"RPC: {operation.name}(tenant, session_id, {', '.join(operation.params)})"
    return method


for _operation in OPERATIONS.values():
    if not _operation.internal and _operation.name not in OWN_SHAPES:
        setattr(Default, _operation.name, _passthrough(_operation))
