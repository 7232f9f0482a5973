"""Draining the outbox to D1: in order, in batches, retried with backoff, never given up.

The drain runs right after a write (the fast path, `waitUntil` in a DO) and from the alarm
(the guarantee). One drain runs at a time per store; a drain requested while one runs is
folded into it. A failed batch leaves the outbox untouched and schedules the next attempt.
A batch goes to its tenant's database; while a tenant moves, to both of its databases, and
it counts as sent once both have it (sending it again changes nothing in the one that had).
With a change log (mirror/changes.py), a batch counts as sent once D1 and the change log
both took it: a change log that fails holds D1 back (the outbox keeps the work, the retries
back off) and loses nothing; a batch sent again reaches the log again with the same keys.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from ..engine.keys import now_ms
from ..engine.ports import SqlPort
from . import statements as q
from .limits import BACKOFF_BASE_MS, BACKOFF_CAP_MS, STATEMENTS_PER_DRAIN
from .plan import acknowledge, plan_batch
from .ports import ChangeLogPort, MirrorPort
from .shards import MirrorRouter, router_of

MAX_ERROR_TEXT = 500


def backoff_ms(attempts: int, jitter: float) -> int:
    """Exponential backoff with jitter: about 1 s, 2 s, 4 s ... capped at 5 minutes."""
    ceiling = min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** max(0, attempts - 1))
    return int(ceiling * (0.5 + 0.5 * jitter))


class MirrorDrain:
    def __init__(
        self,
        sql: SqlPort,
        mirror: MirrorPort | MirrorRouter,
        clock: Callable[[], int] = now_ms,
        jitter: Callable[[], float] = random.random,
        changes: ChangeLogPort | None = None,
    ) -> None:
        self._sql = sql
        self._changes = changes
        self._router = router_of(mirror)
        self._clock = clock
        self._jitter = jitter
        self._lock: asyncio.Lock | None = None
        self._unrecorded: dict[str, Any] | None = None
        """The last failure, when the store could not record it."""

    async def drain(self, max_statements: int = STATEMENTS_PER_DRAIN) -> dict[str, Any]:
        """Send pending work until the outbox is empty, a batch fails, or the budget is spent.

        Returns the mirror status; `next_attempt_at` says when to run again (None: idle).
        """
        await self.deliver(max_statements)
        return self.status()

    async def deliver(self, max_statements: int = STATEMENTS_PER_DRAIN) -> int | None:
        """`drain` without the status: only when to run again (None: the outbox is empty).
        What runs after every write: an emptied outbox needs no read to say so."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            sent = 0
            while sent < max_statements:
                batch = plan_batch(self._sql, self._changes is not None)
                if batch is None:
                    return None
                try:
                    writers = self._router.writers(batch.tenant)
                    for port in writers:
                        await port.apply(batch.statements)
                    if self._changes is not None and batch.changes is not None:
                        for stream, records in batch.changes.items():
                            if records:
                                await self._changes.send(stream, records)
                except Exception as exc:
                    self._record_failure(exc)
                    break
                now = self._clock()
                calls = len(writers)  # what D1 received: the batch once per database

                def forget(done: Any = batch, at: int = now, calls: int = calls) -> None:
                    acknowledge(self._sql, done)
                    counts = (calls, calls * len(done.statements))  # batches, statements
                    self._sql.execute(q.RECORD_SUCCESS, (at, at, done.covered, *counts))

                try:
                    self._sql.transaction(forget)
                except Exception as exc:  # the store refused (a full disk): D1 has the batch,
                    self._record_failure(exc)  # and sending it again changes nothing there
                    break
                self._unrecorded = None
                sent += len(batch.statements)
            return self.status()["next_attempt_at"]

    def _record_failure(self, exc: Exception) -> None:
        """Count the failure and set the retry time. When the store cannot be written either
        (the disk that failed D1's write is full), the failure is kept here instead: the
        status still tells it, and the retries still back off."""
        now = self._clock()
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_TEXT]
        attempts = self.status()["attempts"] + 1
        retry_at = now + backoff_ms(attempts, self._jitter())
        try:
            self._sql.execute(q.RECORD_FAILURE, (error, now, retry_at, retry_at))
            self._unrecorded = None
        except Exception:
            self._unrecorded = {
                "attempts": attempts,
                "last_error": error,
                "last_attempt_at": now,
                "next_attempt_at": retry_at,
            }

    def status(self) -> dict[str, Any]:
        """Pending count, oldest pending age, attempts and the last error."""
        stats = self._sql.execute(q.OUTBOX_STATS)[0]
        rows = self._sql.execute(q.SELECT_STATE)
        state = dict(rows[0]) if rows else {
            "attempts": 0, "last_error": None, "last_attempt_at": None,
            "last_success_at": None, "next_attempt_at": None, "delivered": 0,
            "batches": 0, "statements": 0,
        }  # fmt: skip
        state |= self._unrecorded or {}
        pending = stats["pending"]
        oldest = stats["oldest"]
        if pending and state["next_attempt_at"] is None:
            state["next_attempt_at"] = self._clock()  # work arrived after the last drain
        if not pending:
            state["next_attempt_at"] = None
        return {
            "pending": pending,
            "oldest_pending_at": oldest,
            "lag_ms": max(0, self._clock() - oldest) if oldest is not None else 0,
            **state,
        }
