"""A `MirrorPort` wrapper that fails on purpose, for fault-injection tests and drills.

A failure either happens before the inner target sees the batch, or after it committed, so
that the caller sees an error for a batch that did land (a lost acknowledgement), or as a
timeout. A seeded `random.Random` makes every run replayable.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from agent_sessions.engine.ports import Row, SqlValue
from agent_sessions.mirror.ports import MirrorPort, Statement


class InjectedFault(Exception):
    pass


class FaultyMirror:
    def __init__(self, inner: MirrorPort, rng: random.Random, failure_rate: float) -> None:
        self.inner = inner
        self.rng = rng
        self.failure_rate = failure_rate
        self.before_commit = 0
        self.after_commit = 0
        self.timeouts = 0
        self.down = False
        """While True, every call fails before commit (an outage)."""

    async def apply(self, statements: Sequence[Statement]) -> None:
        if self.down:
            self.before_commit += 1
            raise InjectedFault("D1 unreachable (outage)")
        roll = self.rng.random()
        if roll < self.failure_rate / 3:
            self.before_commit += 1
            raise InjectedFault("D1 refused the batch")
        if roll < 2 * self.failure_rate / 3:
            self.timeouts += 1
            raise TimeoutError("D1 did not answer in time")
        await self.inner.apply(statements)
        if roll < self.failure_rate:
            self.after_commit += 1
            raise InjectedFault("D1 committed, but the acknowledgement was lost")

    async def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        return await self.inner.query(sql, params)
