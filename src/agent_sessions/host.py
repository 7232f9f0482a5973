"""One session store with its mirror: what a Durable Object (or a local session file) runs.

The engine serves the operations; every write then calls `after_write`, which the shell
turns into "make sure an alarm is set, and drain now in the background". `alarm` is the one
alarm handler for every job an object has (the lifecycle sweep, the cold tier, the mirror's
retries, the blob store's garbage) and says when it wants to run next. With an archive, an
evicted session is brought back before any operation uses it (see archive/tier.py), and
entries too large for a row keep their large part in its bucket (archive/blobs.py). The
mirror's own operations (status, verify) live here too, so the DO and local mode expose the
same ones. Which operation does what (reads, writes, ones that create) comes from
engine/operations.py.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from .archive import ArchivePort, ColdTier
from .archive.blobs import Blobs
from .engine import InvalidInput, NotFound, SessionEngine, SessionKey
from .engine.errors import Misconfigured
from .engine.keys import now_ms
from .engine.lifecycle import NO_LIFECYCLE, Lifecycle
from .engine.operations import OPERATIONS, Kind, Operation
from .engine.ports import SqlPort
from .mirror import MirrorDrain, MirrorPort
from .mirror.drain import MAX_ERROR_TEXT, backoff_ms
from .mirror.parity import verify
from .mirror.ports import ChangeLogPort
from .mirror.reads import written
from .mirror.shards import MirrorRouter, router_of

log = logging.getLogger("agent_sessions")

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
        mirror: MirrorPort | MirrorRouter,
        after_write: Callable[[], Awaitable[None]],
        clock: Callable[[], int] = now_ms,
        lifecycle: Lifecycle = NO_LIFECYCLE,
        archive: ArchivePort | None = None,
        archive_prefix: str = DEFAULT_ARCHIVE_PREFIX,
        changes: ChangeLogPort | None = None,
    ) -> None:
        self._drain = MirrorDrain(sql, mirror, clock, changes=changes)
        self._engine: SessionEngine | None = None
        self._lifecycle = lifecycle
        self._archive = archive
        self._archive_prefix = archive_prefix
        self._cold: ColdTier | None = None
        self.alarm_failure: dict[str, Any] | None = None
        """The last alarm's failure (consecutive count, error, when), None once one succeeds."""
        self._sql = sql
        self._mirror = router_of(mirror)
        self._after_write = after_write
        self._clock = clock
        self._checked: set[SessionKey] = set()
        """Sessions this instance knows to be in the store, not evicted."""
        self._archived: set[SessionKey] = set()
        """Of those, the ones whose status is 'archived'."""
        self.blobs = Blobs(lambda: self.engine, archive, archive_prefix)
        """Large entries' parts, in the archive's bucket (archive/blobs.py)."""

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

    async def call(self, name: str, key: SessionKey, args: tuple[Any, ...]) -> Any:
        operation = OPERATIONS.get(name)
        if operation is None:
            raise InvalidInput(f"unknown operation {name!r}")
        if self.cold is not None:
            await self._bring_back(key, operation)
        try:
            return await self._run(operation, key, args)
        except NotFound:
            # A session this store has never heard of may still be in the archive (the store
            # itself may have been emptied): look there once before answering 404.
            if self.cold is None or operation.creates or not await self._hydrate(key):
                raise
            await self._bring_back(key, operation)
            return await self._run(operation, key, args)

    async def _run(self, operation: Operation, key: SessionKey, args: tuple[Any, ...]) -> Any:
        if operation.kind is Kind.MIRROR:
            return await getattr(self, operation.name)(key)
        if "entries" in operation.params:
            result = await self.blobs.write(operation, key, args, self._after_write)
        else:
            result = getattr(self.engine, operation.name)(key, *args)
        if not operation.writes:
            return await self.blobs.resolve(operation, args, result)
        await self._after_write()
        if operation.name == "delete_session" and self.cold is not None:
            # The delete has happened; a leftover snapshot is never restored (the version
            # floor refuses it), so failing to remove it is not the caller's error.
            with contextlib.suppress(Exception):
                await self.cold.forget(key)
        await self.blobs.after_write(operation)
        return result

    # -- the mirror's operations, and its drain ------------------------------------------

    async def mirror_status(self, key: SessionKey) -> dict[str, Any]:
        """The drain's state (the store's outbox is one queue, so `key` does not narrow it),
        plus the last alarm's failure, and the bookmark of the last batch delivered to the
        database the tenant reads (mirror/reads.py): what a caller who wants to list its own
        writes reads with, once nothing is pending."""
        failure = self.alarm_failure or {}
        return self._drain.status() | {
            "alarm_failures": failure.get("failures", 0),
            "alarm_error": failure.get("error"),
            "bookmark": self._read_bookmark(key.tenant_id),
        }

    def _read_bookmark(self, tenant: str) -> str | None:
        try:
            return written(self._mirror.reader(tenant))
        except Misconfigured:  # settings that place no one: the status says the drain's error
            return None

    async def verify_mirror(self, key: SessionKey) -> dict[str, Any]:
        """Against the database the tenant's rows are in (moving: the one they are going to)."""
        return await verify(self._sql, self._mirror.writers(key.tenant_id)[0], key)

    async def drain(self) -> dict[str, Any]:
        """Send what the outbox holds to the mirror now; the mirror status after."""
        return await self._drain.drain()

    async def deliver(self) -> int | None:
        """Send what the outbox holds to the mirror now (the fast path after a write); when
        to try again, None once it is all sent."""
        return await self._drain.deliver()

    def pending(self) -> dict[str, Any]:
        """The drain's state, without running it (what local mode's /healthz sums up)."""
        return self._drain.status()

    async def _bring_back(self, key: SessionKey, operation: Operation) -> None:
        """Hydrate an evicted session; make an archived one active again before a write."""
        if key not in self._checked:
            if self.engine.evicted(key) is not None:
                await self._hydrate(key)
            with contextlib.suppress(NotFound):
                if self.engine.get_session(key)["status"] == "archived":
                    self._archived.add(key)
            self._checked.add(key)
        if key in self._archived and operation.writes and not operation.keeps_archived:
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
        jobs = [self._sweep, self._archive_due, self.blobs.collect, self._drain_due]
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
        return await self.deliver()

    def _recheck(self) -> None:
        """Archiving changes what this instance knows: anything used from now on (also while
        the archive awaits R2) is checked again."""
        self._checked.clear()
        self._archived.clear()

    async def _drain_pending(self) -> int:
        return (await self.drain())["pending"]
