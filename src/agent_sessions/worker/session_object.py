"""The Durable Object: one per session, the source of truth for its state.

A thin shell: it runs a `SessionHost` on `ctx.storage.sql` with the D1 mirror, and exposes
each operation of engine/operations.py as a public RPC method of the same name, with
positional arguments (tenant_id, session_id, then the operation's, in the table's order).
After a write it sets the alarm before answering (so the retry is as durable as the write)
and drains in the background (`waitUntil`) a moment later (FAST_PATH_WINDOW_MS). The alarm
applies the lifecycle policy (SESSION_TTL_SECONDS, IDLE_TIMEOUT_SECONDS), archives idle
sessions to R2 when an ARCHIVE bucket is bound (ARCHIVE_AFTER_SECONDS, ARCHIVE_PREFIX) and
drains, then sets itself for the earliest time any of them is due again. With
SESSION_CHANGES or ENTRY_CHANGES bound (Cloudflare Pipelines), the drain also sends every
batch to the change log (mirror/changes.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from workers import DurableObject, python_to_rpc

from ..adapters.d1 import D1Mirror
from ..adapters.d1_shards import d1_shards
from ..adapters.durable_object import DurableObjectSql
from ..adapters.pipelines import pipelines_change_log
from ..adapters.r2 import R2Archive
from ..adapters.rpc import envelope, to_python, wait_until
from ..engine import SessionError, SessionKey
from ..engine.errors import Misconfigured
from ..engine.keys import now_ms
from ..engine.lifecycle import Lifecycle
from ..engine.operations import OPERATIONS, Operation
from ..host import DEFAULT_ARCHIVE_PREFIX, SessionHost
from ..mirror.limits import FAST_PATH_WINDOW_MS
from ..mirror.shards import MirrorRouter, Unroutable
from ..mirror.timing import AT_ONCE, DrainTiming
from ..mirror.timing import SETTING as DRAIN_DELAY


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
            DurableObjectSql(python_to_rpc(ctx.storage)),  # the runtime's own object
            _router(env),
            self._after_write,
            now_ms,
            lifecycle,
            None if bucket is None else R2Archive(bucket),
            str(getattr(env, "ARCHIVE_PREFIX", None) or DEFAULT_ARCHIVE_PREFIX),
            changes=pipelines_change_log(env),
        )
        self._alarm_at: int | None = None
        """The alarm this instance knows it set; None: unknown, ask the storage."""
        self._timing = _timing(getattr(env, DRAIN_DELAY, None))
        self._drain_waiting = False
        """A fast-path drain is waiting for its moment: the writes until then ride along."""

    async def _after_write(self) -> None:
        ring_by, drain_now = self._timing.after_write(now_ms())
        await self._alarm_no_later_than(ring_by)
        if drain_now and not self._drain_waiting:
            self._drain_waiting = True
            wait_until(self.ctx, self._drain_soon())

    async def _drain_soon(self) -> None:
        """The fast path's drain, FAST_PATH_WINDOW_MS after the write that asked for it."""
        try:
            await asyncio.sleep(FAST_PATH_WINDOW_MS / 1000)
        finally:  # a write from now on needs a drain after this one (cancelled: the alarm's)
            self._drain_waiting = False
        await self._drain()

    async def _alarm_no_later_than(self, at: int) -> None:
        if self._alarm_at is None:
            current = await self.ctx.storage.getAlarm()
            self._alarm_at = None if current is None else int(current)
        if self._alarm_at is None or self._alarm_at > at:
            await self.ctx.storage.setAlarm(at)
            self._alarm_at = at

    async def _drain(self) -> None:
        retry_at = await self.host.deliver()
        if retry_at is not None:
            await self._alarm_no_later_than(retry_at)

    async def alarm(self, *_: Any) -> None:
        """Alarms are at-least-once; a sweep or drain with nothing due does nothing."""
        self._alarm_at = None
        due = await self.host.alarm()
        if due is not None:
            await self._alarm_no_later_than(due)

    async def _run(self, operation: Operation, tenant_id: Any, session_id: Any, *args: Any) -> Any:
        """Engine errors travel as data (adapters/rpc.py); any other exception is a real fault."""
        try:
            key = SessionKey(to_python(tenant_id), to_python(session_id))
            values = operation.bind(tuple(to_python(a) for a in args))
            result = await self.host.call(operation.name, key, values)
        except SessionError as exc:
            return envelope(error=exc)
        return envelope(result)


def _timing(value: Any) -> DrainTiming:
    """A bad MIRROR_DRAIN_DELAY_MS drains at once: the gateway refuses every request with
    the error first (worker/gateway.py), so only alarms left from before still run."""
    try:
        return DrainTiming.from_setting(value)
    except ValueError:
        return AT_ONCE


def _router(env: Any) -> MirrorRouter:
    """The tenant's D1 database; with settings that place no one (or on a database the
    Worker lacks), a drain that fails saying why and retries, so that the object still
    starts and keeps what it is given."""
    try:
        return d1_shards(env, D1Mirror)
    except Misconfigured as exc:
        return Unroutable(exc.message)


def _rpc_method(operation: Operation) -> Callable[..., Awaitable[Any]]:
    async def method(self: SessionObject, tenant_id: Any, session_id: Any, *args: Any) -> Any:
        return await self._run(operation, tenant_id, session_id, *args)

    method.__name__ = method.__qualname__ = operation.name
    method.__doc__ = f"RPC: {operation.name}(tenant_id, session_id, {', '.join(operation.params)})"
    return method


for _operation in OPERATIONS.values():
    setattr(SessionObject, _operation.name, _rpc_method(_operation))
