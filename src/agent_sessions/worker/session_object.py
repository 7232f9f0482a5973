"""The Durable Object: one per session, the source of truth for its state.

A thin shell: it runs a `SessionHost` on `ctx.storage.sql` with the D1 mirror, and exposes
each operation as a public RPC method with positional arguments (tenant_id, session_id, ...).
After a write it sets the alarm before answering (so the retry is as durable as the write)
and drains at once in the background (`waitUntil`). The alarm applies the lifecycle policy
(SESSION_TTL_SECONDS, IDLE_TIMEOUT_SECONDS), archives idle sessions to R2 when an ARCHIVE
bucket is bound (ARCHIVE_AFTER_SECONDS, ARCHIVE_PREFIX) and drains, then sets itself for the
earliest time any of them is due again. It does not import FastAPI or pydantic, so RPC-only
traffic skips their start-up.
"""

from __future__ import annotations

from typing import Any

from workers import DurableObject

from ..adapters.d1 import D1Mirror
from ..adapters.durable_object import DurableObjectSql
from ..adapters.r2 import R2Archive
from ..engine import SessionError, SessionKey
from ..engine.keys import now_ms
from ..engine.lifecycle import Lifecycle
from ..host import DEFAULT_ARCHIVE_PREFIX, SessionHost
from ..mirror.limits import FAST_PATH_DELAY_MS
from .boundary import to_python, wait_until


class SessionObject(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        lifecycle = Lifecycle.from_settings(
            getattr(env, "SESSION_TTL_SECONDS", None),
            getattr(env, "IDLE_TIMEOUT_SECONDS", None),
            getattr(env, "ARCHIVE_AFTER_SECONDS", None),
        )
        bucket = getattr(env, "ARCHIVE", None)
        self.host = SessionHost(
            DurableObjectSql(ctx.storage),
            D1Mirror(env.DB),
            self._after_write,
            now_ms,
            lifecycle,
            None if bucket is None else R2Archive(bucket),
            str(getattr(env, "ARCHIVE_PREFIX", None) or DEFAULT_ARCHIVE_PREFIX),
        )
        self._alarm_at: int | None = None
        """The alarm this instance knows it set; None: unknown, ask the storage."""

    async def _after_write(self) -> None:
        await self._alarm_no_later_than(now_ms() + FAST_PATH_DELAY_MS)
        wait_until(self.ctx, self._drain())

    async def _alarm_no_later_than(self, at: int) -> None:
        if self._alarm_at is None:
            current = await self.ctx.storage.getAlarm()
            self._alarm_at = None if current is None else int(current)
        if self._alarm_at is None or self._alarm_at > at:
            await self.ctx.storage.setAlarm(at)
            self._alarm_at = at

    async def _drain(self) -> None:
        status = await self.host.drain.drain()
        if status["next_attempt_at"] is not None:
            await self._alarm_no_later_than(status["next_attempt_at"])

    async def alarm(self, *_: Any) -> None:
        """Alarms are at-least-once; a sweep or drain with nothing due does nothing."""
        self._alarm_at = None
        due = await self.host.alarm()
        if due is not None:
            await self._alarm_no_later_than(due)

    async def _run(self, operation: str, tenant_id: Any, session_id: Any, *args: Any) -> Any:
        """Engine errors travel as data (see boundary); any other exception is a real fault."""
        try:
            key = SessionKey(to_python(tenant_id), to_python(session_id))
            result = await self.host.call(operation, key, tuple(to_python(a) for a in args))
        except SessionError as exc:
            return {"error": exc.to_dict()}
        return {"ok": result}

    async def create_session(self, tenant_id: str, session_id: str, fields: Any) -> Any:
        return await self._run("create_session", tenant_id, session_id, fields)

    async def update_session(
        self, tenant_id: str, session_id: str, changes: Any, expected_version: Any
    ) -> Any:
        return await self._run("update_session", tenant_id, session_id, changes, expected_version)

    async def import_session(
        self, tenant_id: str, session_id: str, session: Any, entries: Any
    ) -> Any:
        return await self._run("import_session", tenant_id, session_id, session, entries)

    async def get_session(self, tenant_id: str, session_id: str) -> Any:
        return await self._run("get_session", tenant_id, session_id)

    async def delete_session(self, tenant_id: str, session_id: str) -> Any:
        return await self._run("delete_session", tenant_id, session_id)

    async def save_data(
        self, tenant_id: str, session_id: str, data: Any, expected_version: Any
    ) -> Any:
        return await self._run("save_data", tenant_id, session_id, data, expected_version)

    async def load_data(self, tenant_id: str, session_id: str) -> Any:
        return await self._run("load_data", tenant_id, session_id)

    async def append(
        self,
        tenant_id: str,
        session_id: str,
        entries: Any,
        expected_version: Any,
        writer: Any = None,
    ) -> Any:
        return await self._run("append", tenant_id, session_id, entries, expected_version, writer)

    async def claim_writer(self, tenant_id: str, session_id: str, writer_id: Any) -> Any:
        return await self._run("claim_writer", tenant_id, session_id, writer_id)

    async def get_writer(self, tenant_id: str, session_id: str) -> Any:
        return await self._run("get_writer", tenant_id, session_id)

    async def read_entries(
        self,
        tenant_id: str,
        session_id: str,
        after_seq: Any,
        before_seq: Any,
        types: Any,
        limit: Any,
        order: Any,
    ) -> Any:
        return await self._run(
            "read_entries", tenant_id, session_id, after_seq, before_seq, types, limit, order
        )

    async def set_leaf(
        self, tenant_id: str, session_id: str, entry_id: Any, expected_version: Any
    ) -> Any:
        return await self._run("set_leaf", tenant_id, session_id, entry_id, expected_version)

    async def read_context(self, tenant_id: str, session_id: str) -> Any:
        return await self._run("read_context", tenant_id, session_id)

    async def prune(
        self, tenant_id: str, session_id: str, before_seq: Any, expected_version: Any
    ) -> Any:
        return await self._run("prune", tenant_id, session_id, before_seq, expected_version)

    async def find_entry(self, tenant_id: str, session_id: str, entry_id: Any) -> Any:
        return await self._run("find_entry", tenant_id, session_id, entry_id)

    async def adopt_entries(
        self, tenant_id: str, session_id: str, origin: Any, entries: Any
    ) -> Any:
        return await self._run("adopt_entries", tenant_id, session_id, origin, entries)

    async def replace_history(
        self, tenant_id: str, session_id: str, from_seq: Any, entries: Any, expected_version: Any
    ) -> Any:
        return await self._run(
            "replace_history", tenant_id, session_id, from_seq, entries, expected_version
        )

    async def mirror_status(self, tenant_id: str, session_id: str) -> Any:
        return await self._run("mirror_status", tenant_id, session_id)

    async def verify_mirror(self, tenant_id: str, session_id: str) -> Any:
        return await self._run("verify_mirror", tenant_id, session_id)

    async def resync_mirror(self, tenant_id: str, session_id: str) -> Any:
        return await self._run("resync_mirror", tenant_id, session_id)
