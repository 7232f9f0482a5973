"""The Durable Object: one per session, the source of truth for its state.

A thin shell: it opens the engine on `ctx.storage.sql` and exposes each engine operation as a
public RPC method with positional arguments (tenant_id, session_id, ...). It does not import
FastAPI or pydantic, so a request that only reaches the DO does not pay for them.
"""

from __future__ import annotations

from typing import Any

from workers import DurableObject

from ..adapters.durable_object import DurableObjectSql
from ..engine import SessionEngine, SessionKey
from .boundary import reply, to_python


class SessionObject(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.engine = SessionEngine(DurableObjectSql(ctx.storage))

    def _run(self, operation: str, tenant_id: Any, session_id: Any, *args: Any) -> dict[str, Any]:
        def call() -> Any:
            key = SessionKey(to_python(tenant_id), to_python(session_id))
            return getattr(self.engine, operation)(key, *(to_python(a) for a in args))

        return reply(call)

    async def create_session(self, tenant_id: str, session_id: str, fields: Any) -> dict[str, Any]:
        return self._run("create_session", tenant_id, session_id, fields)

    async def get_session(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        return self._run("get_session", tenant_id, session_id)

    async def delete_session(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        return self._run("delete_session", tenant_id, session_id)

    async def save_data(
        self, tenant_id: str, session_id: str, data: Any, expected_version: Any
    ) -> dict[str, Any]:
        return self._run("save_data", tenant_id, session_id, data, expected_version)

    async def load_data(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        return self._run("load_data", tenant_id, session_id)

    async def append(
        self, tenant_id: str, session_id: str, entries: Any, expected_version: Any
    ) -> dict[str, Any]:
        return self._run("append", tenant_id, session_id, entries, expected_version)

    async def read_entries(
        self,
        tenant_id: str,
        session_id: str,
        after_seq: Any,
        before_seq: Any,
        types: Any,
        limit: Any,
        order: Any,
    ) -> dict[str, Any]:
        return self._run(
            "read_entries", tenant_id, session_id, after_seq, before_seq, types, limit, order
        )
