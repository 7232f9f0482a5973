"""One session store with its mirror: what a Durable Object (or a local session file) runs.

The engine serves the operations; every write then calls `after_write`, which the shell
turns into "make sure an alarm is set, and drain now in the background". `alarm` is the one
alarm handler for every job an object has (the lifecycle sweep, the cold tier, the mirror's
retries) and says when it wants to run next. With an archive, an evicted session is brought
back before any operation uses it (see archive/tier.py). The mirror's own operations (status,
verify) live here too, so the DO and local mode expose the same ones.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from .archive import ArchivePort, ColdTier
from .engine import InvalidInput, NotFound, SessionEngine, SessionKey
from .engine.keys import now_ms
from .engine.lifecycle import NO_LIFECYCLE, Lifecycle
from .engine.ports import SqlPort
from .mirror import MirrorDrain, MirrorPort
from .mirror.drain import MAX_ERROR_TEXT, backoff_ms
from .mirror.parity import verify

log = logging.getLogger("agent_sessions")

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
CREATES = frozenset({"create_session", "import_session", "adopt_entries"})
"""Operations for which a missing session is expected, not a reason to look in the archive."""
KEEP_ARCHIVED = frozenset({"resync_mirror"})
"""Writes that do not make an archived session active again."""
DEFAULT_ARCHIVE_PREFIX = "agent-sessions"


def alarm_failed(
    previous: dict[str, Any] | None, errors: list[Exception], now: int
) -> tuple[dict[str, Any], int]:
    """An alarm's failure, one more in a row after `previous`, and when to try again: the
    mirror's backoff (about 1 s, 2 s, 4 s ... capped at 5 minutes)."""
    failures = (previous or {}).get("failures", 0) + 1
    error = "; ".join(f"{type(e).__name__}: {e}" for e in errors)[:MAX_ERROR_TEXT]
    retry_at = now + backoff_ms(failures, random.random())
    return {"failures": failures, "error": error, "at": now}, retry_at


class SessionHost:
    def __init__(
        self,
        sql: SqlPort,
        mirror: MirrorPort,
        after_write: Callable[[], Awaitable[None]],
        clock: Callable[[], int] = now_ms,
        lifecycle: Lifecycle = NO_LIFECYCLE,
        archive: ArchivePort | None = None,
        archive_prefix: str = DEFAULT_ARCHIVE_PREFIX,
    ) -> None:
        self.drain = MirrorDrain(sql, mirror, clock)
        self._engine: SessionEngine | None = None
        self._lifecycle = lifecycle
        self._archive = archive
        self._archive_prefix = archive_prefix
        self._cold: ColdTier | None = None
        self.alarm_failure: dict[str, Any] | None = None
        """The last alarm's failure (consecutive count, error, when), None once one succeeds."""
        self._sql = sql
        self._mirror = mirror
        self._after_write = after_write
        self._clock = clock
        self._checked: set[SessionKey] = set()
        """Sessions this instance knows to be in the store, not evicted."""
        self._archived: set[SessionKey] = set()
        """Of those, the ones whose status is 'archived'."""

    @property
    def engine(self) -> SessionEngine:
        """Made on first use, not with the host: a store this release cannot open (one a newer
        release upgraded) then fails the operation with its typed error, which a Durable
        Object answers over RPC, instead of failing the object's constructor."""
        if self._engine is None:
            self._engine = SessionEngine(self._sql, self._clock, self._lifecycle)
        return self._engine

    @property
    def cold(self) -> ColdTier | None:
        if self._archive is None:
            return None
        if self._cold is None:
            after_ms = self._lifecycle.archive_after_ms
            self._cold = ColdTier(self.engine, self._archive, self._archive_prefix, after_ms)
        return self._cold

    async def call(self, operation: str, key: SessionKey, args: tuple[Any, ...]) -> Any:
        if operation not in OPERATIONS:
            raise InvalidInput(f"unknown operation {operation!r}")
        if self.cold is not None:
            await self._bring_back(key, operation)
        try:
            return await self._run(operation, key, args)
        except NotFound:
            # A session this store has never heard of may still be in the archive (the store
            # itself may have been emptied): look there once before answering 404.
            if self.cold is None or operation in CREATES or not await self._hydrate(key):
                raise
            await self._bring_back(key, operation)
            return await self._run(operation, key, args)

    async def _run(self, operation: str, key: SessionKey, args: tuple[Any, ...]) -> Any:
        if operation == "mirror_status":
            failure = self.alarm_failure or {}
            return self.drain.status() | {
                "alarm_failures": failure.get("failures", 0),
                "alarm_error": failure.get("error"),
            }
        if operation == "verify_mirror":
            return await verify(self._sql, self._mirror, key)
        result = getattr(self.engine, operation)(key, *args)
        if operation in WRITES:
            await self._after_write()
        if operation == "delete_session" and self.cold is not None:
            # The delete has happened; a leftover snapshot is never restored (the version
            # floor refuses it), so failing to remove it is not the caller's error.
            with contextlib.suppress(Exception):
                await self.cold.forget(key)
        return result

    async def _bring_back(self, key: SessionKey, operation: str) -> None:
        """Hydrate an evicted session; make an archived one active again before a write."""
        if key not in self._checked:
            if self.engine.evicted(key) is not None:
                await self._hydrate(key)
            with contextlib.suppress(NotFound):
                if self.engine.get_session(key)["status"] == "archived":
                    self._archived.add(key)
            self._checked.add(key)
        if key in self._archived and operation in WRITES - KEEP_ARCHIVED:
            self.engine.unarchive(key)
            self._archived.discard(key)

    async def _hydrate(self, key: SessionKey) -> bool:
        assert self.cold is not None
        if not await self.cold.hydrate(key):
            return False
        self._checked.discard(key)
        await self._after_write()  # the alarm will evict it again once it is idle
        return True

    async def alarm(self) -> int | None:
        """Sweep (expire, abandon), archive what is due, then drain, so that expiries and
        archive marks reach D1 in the same alarm. Returns the earliest time any job is due
        again: an object has one alarm.

        A job that fails (a full disk, a broken archive) neither stops the others nor the
        alarms to come: it is logged, kept in `alarm_failure` (the mirror status shows it),
        and the alarm returns a retry time that backs off like the mirror's."""
        jobs = [self._sweep, self._archive_due, self._drain_due]
        due: list[int | None] = []
        failed: list[Exception] = []
        for job in jobs:
            try:
                due.append(await job())
            except Exception as exc:
                log.exception("alarm job %s failed", job.__name__.strip("_"))
                failed.append(exc)
        if failed:
            self.alarm_failure, retry_at = alarm_failed(self.alarm_failure, failed, self._clock())
            due.append(retry_at)
        else:
            self.alarm_failure = None
        times = [t for t in due if t is not None]
        return min(times) if times else None

    async def _sweep(self) -> int | None:
        return self.engine.sweep()["next_due_at"]

    async def _archive_due(self) -> int | None:
        if self.cold is None:
            return None
        return await self.cold.run(self._clock(), self._drain_pending, self._recheck)

    async def _drain_due(self) -> int | None:
        return (await self.drain.drain())["next_attempt_at"]

    def _recheck(self) -> None:
        """Archiving changes what this instance knows: anything used from now on (also while
        the archive awaits R2) is checked again."""
        self._checked.clear()
        self._archived.clear()

    async def _drain_pending(self) -> int:
        return (await self.drain.drain())["pending"]
