"""The gateway Worker (`Default`): HTTP through the SDK's ASGI bridge, and RPC methods for
other Workers bound to it with a service binding. Both route to the session's DO.

Everything, FastAPI and the app included, is imported and built at module level: the
deploy-time memory snapshot captures the top level, so a cold isolate restores it instead of
importing on its first request, and the SDK's import patches (e.g. `anyio.to_thread` run
inline) only reach modules imported before the first request.

RPC methods take the tenant first (a service binding is trusted: whoever can bind this
Worker chooses the tenant), positional arguments only, and answer {"ok": result} or
{"error": {"code", "message", "details"}}: the same envelope as the Durable Object, so JS
and Python callers get the error's code, which a thrown exception would lose.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from workers import WorkerEntrypoint, asgi

from ..adapters.d1 import D1Mirror
from ..api.app import create_app
from ..api.auth import TOKENS_VARIABLE, TokenTable
from ..api.fork import fork_session
from ..api.listing import list_sessions
from ..api.search import search_entries
from ..api.services import Services
from ..api.sessions import Sessions
from ..api.transfer import export_session, parse_import
from ..engine import InvalidInput, SessionError, SessionKey
from ..engine.limits import DEFAULT_PAGE_SIZE
from ..engine.values import new_id
from .boundary import to_python, unwrap


def durable_object_transport(env: Any) -> Any:
    """A `Transport` that calls the session's Durable Object, named `{tenant}:{session}`."""

    async def send(key: SessionKey, operation: str, args: tuple[Any, ...]) -> dict[str, Any]:
        stub = env.SESSIONS.getByName(key.object_name)
        return unwrap(await getattr(stub, operation)(key.tenant_id, key.session_id, *args))

    return send


@cache
def tokens_of(spec: str | None) -> TokenTable:
    """The Worker's tokens, parsed once per distinct secret. No secret: nobody gets in."""
    return TokenTable.parse(spec) if spec else TokenTable({})


def services_of(env: Any) -> Services:
    return Services(
        Sessions(durable_object_transport(env)),
        D1Mirror(env.DB),
        tokens_of(getattr(env, TOKENS_VARIABLE, None) or None),
    )


HTTP_APP = create_app(lambda request: services_of(request.scope["env"]))


def _options(value: Any, what: str) -> dict[str, Any]:
    value = to_python(value)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be an object")
    return value


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Any:
        return await asgi.fetch(HTTP_APP, request, self.env, self.ctx)

    async def _rpc(self, call: Callable[[Services], Awaitable[Any]]) -> dict[str, Any]:
        try:
            return {"ok": await call(services_of(self.env))}
        except SessionError as exc:
            return {"error": exc.to_dict()}

    def _key(self, tenant: Any, session_id: Any) -> SessionKey:
        return SessionKey(to_python(tenant), to_python(session_id))

    async def create_session(self, tenant: Any, fields: Any) -> dict[str, Any]:
        """fields: id (optional), user_id, agent_name, title, metadata, data, expires_at."""

        async def call(s: Services) -> Any:
            given = _options(fields, "fields")
            key = self._key(tenant, given.pop("id", None) or new_id())
            return await s.sessions.create_session(key, given)

        return await self._rpc(call)

    async def get_session(self, tenant: Any, session_id: Any) -> dict[str, Any]:
        return await self._rpc(lambda s: s.sessions.get_session(self._key(tenant, session_id)))

    async def update_session(
        self, tenant: Any, session_id: Any, changes: Any, expected_version: Any = None
    ) -> dict[str, Any]:
        return await self._rpc(
            lambda s: s.sessions.update_session(
                self._key(tenant, session_id),
                _options(changes, "changes"),
                to_python(expected_version),
            )
        )

    async def delete_session(self, tenant: Any, session_id: Any) -> dict[str, Any]:
        return await self._rpc(lambda s: s.sessions.delete_session(self._key(tenant, session_id)))

    async def save_data(
        self, tenant: Any, session_id: Any, data: Any, expected_version: Any = None
    ) -> dict[str, Any]:
        return await self._rpc(
            lambda s: s.sessions.save_data(
                self._key(tenant, session_id), to_python(data), to_python(expected_version)
            )
        )

    async def load_data(self, tenant: Any, session_id: Any) -> dict[str, Any]:
        return await self._rpc(lambda s: s.sessions.load_data(self._key(tenant, session_id)))

    async def append(
        self,
        tenant: Any,
        session_id: Any,
        entries: Any,
        expected_version: Any = None,
        writer: Any = None,
    ) -> dict[str, Any]:
        return await self._rpc(
            lambda s: s.sessions.append(
                self._key(tenant, session_id),
                to_python(entries),
                to_python(expected_version),
                to_python(writer),
            )
        )

    async def claim_writer(self, tenant: Any, session_id: Any, writer_id: Any) -> dict[str, Any]:
        return await self._rpc(
            lambda s: s.sessions.claim_writer(self._key(tenant, session_id), to_python(writer_id))
        )

    async def get_writer(self, tenant: Any, session_id: Any) -> dict[str, Any]:
        return await self._rpc(lambda s: s.sessions.get_writer(self._key(tenant, session_id)))

    async def read_entries(self, tenant: Any, session_id: Any, query: Any = None) -> dict[str, Any]:
        """query: after_seq, before_seq, types, limit, order (all optional)."""

        async def call(s: Services) -> Any:
            q = _options(query, "query")
            return await s.sessions.read_entries(
                self._key(tenant, session_id),
                q.get("after_seq", 0),
                q.get("before_seq"),
                q.get("types"),
                q.get("limit", DEFAULT_PAGE_SIZE),
                q.get("order", "asc"),
            )

        return await self._rpc(call)

    async def list_sessions(self, tenant: Any, filters: Any = None) -> dict[str, Any]:
        """filters: user_id, agent_name, status, updated_since, updated_before, limit, cursor."""

        async def call(s: Services) -> Any:
            f = _options(filters, "filters")
            limit, cursor = f.pop("limit", DEFAULT_PAGE_SIZE), f.pop("cursor", None)
            principal = self._key(tenant, "list")  # validates the tenant id
            return await list_sessions(s.index, principal.tenant_id, f, limit, cursor)

        return await self._rpc(call)

    async def search_entries(self, tenant: Any, query: Any, limit: Any = 20) -> dict[str, Any]:
        async def call(s: Services) -> Any:
            principal = self._key(tenant, "search")  # validates the tenant id
            return await search_entries(s.index, principal.tenant_id, to_python(query), limit)

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

    async def set_leaf(
        self, tenant: Any, session_id: Any, entry_id: Any, expected_version: Any = None
    ) -> dict[str, Any]:
        return await self._rpc(
            lambda s: s.sessions.set_leaf(
                self._key(tenant, session_id), to_python(entry_id), to_python(expected_version)
            )
        )

    async def replace_history(
        self,
        tenant: Any,
        session_id: Any,
        from_seq: Any,
        entries: Any,
        expected_version: Any = None,
    ) -> dict[str, Any]:
        return await self._rpc(
            lambda s: s.sessions.replace_history(
                self._key(tenant, session_id),
                to_python(from_seq),
                to_python(entries),
                to_python(expected_version),
            )
        )

    async def read_context(self, tenant: Any, session_id: Any) -> dict[str, Any]:
        return await self._rpc(lambda s: s.sessions.read_context(self._key(tenant, session_id)))

    async def prune(
        self, tenant: Any, session_id: Any, before_seq: Any, expected_version: Any = None
    ) -> dict[str, Any]:
        return await self._rpc(
            lambda s: s.sessions.prune(
                self._key(tenant, session_id), to_python(before_seq), to_python(expected_version)
            )
        )

    async def mirror_status(self, tenant: Any, session_id: Any) -> dict[str, Any]:
        return await self._rpc(lambda s: s.sessions.mirror_status(self._key(tenant, session_id)))
