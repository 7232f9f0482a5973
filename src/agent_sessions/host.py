"""One session store with its mirror: what a Durable Object (or a local session file) runs.

The engine serves the operations; every write then calls `after_write`, which the shell
turns into "make sure an alarm is set, and drain now in the background". The mirror's own
operations (status, verify) live here too, so the DO and local mode expose the same ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .engine import InvalidInput, SessionEngine, SessionKey
from .engine.ports import SqlPort
from .engine.sessions import now_ms
from .mirror import MirrorDrain, MirrorPort
from .mirror.parity import verify

READS = frozenset({"get_session", "load_data", "read_entries", "read_context", "find_entry"})
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
    ) -> None:
        self.engine = SessionEngine(sql, clock)
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
