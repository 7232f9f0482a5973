"""One session store with its mirror: what a Durable Object (or a local session file) runs.

The engine serves the operations; every write then calls `after_write`, which the shell
turns into "make sure an alarm is set, and drain now in the background". `alarm` is the one
alarm handler for both jobs an object has, the lifecycle sweep and the mirror's retries, and
says when it wants to run next. The mirror's own operations (status, verify) live here too,
so the DO and local mode expose the same ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .engine import InvalidInput, SessionEngine, SessionKey
from .engine.lifecycle import NO_LIFECYCLE, Lifecycle
from .engine.ports import SqlPort
from .engine.sessions import now_ms
from .mirror import MirrorDrain, MirrorPort
from .mirror.parity import verify

READS = frozenset(
    {"get_session", "load_data", "read_entries", "read_context", "find_entry", "get_writer"}
)
WRITES = frozenset(
    {
        "create_session",
        "update_session",
        "import_session",
        "delete_session",
        "save_data",
        "append",
        "resync_mirror",
        "set_leaf",
        "prune",
        "replace_history",
        "adopt_entries",
        "claim_writer",
    }
)
MIRROR = frozenset({"mirror_status", "verify_mirror"})
OPERATIONS = READS | WRITES | MIRROR


class SessionHost:
    def __init__(
        self,
        sql: SqlPort,
        mirror: MirrorPort,
        after_write: Callable[[], Awaitable[None]],
        clock: Callable[[], int] = now_ms,
        lifecycle: Lifecycle = NO_LIFECYCLE,
    ) -> None:
        self.engine = SessionEngine(sql, clock, lifecycle)
        self.drain = MirrorDrain(sql, mirror, clock)
        self._sql = sql
        self._mirror = mirror
        self._after_write = after_write

    async def call(self, operation: str, key: SessionKey, args: tuple[Any, ...]) -> Any:
        if operation not in OPERATIONS:
            raise InvalidInput(f"unknown operation {operation!r}")
        if operation == "mirror_status":
            return self.drain.status()
        if operation == "verify_mirror":
            return await verify(self._sql, self._mirror, key)
        result = getattr(self.engine, operation)(key, *args)
        if operation in WRITES:
            await self._after_write()
        return result

    async def alarm(self) -> int | None:
        """Sweep (expire, abandon), then drain, so an expiry reaches D1 in the same alarm.
        Returns the earliest time either job is due again: an object has one alarm."""
        swept = self.engine.sweep()
        status = await self.drain.drain()
        due = [t for t in (swept["next_due_at"], status["next_attempt_at"]) if t is not None]
        return min(due) if due else None
