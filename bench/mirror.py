"""What mirroring costs D1: statements and batches per turn, counted at the mirror port.

Two regimes: D1 healthy, where each turn's write is drained at once (the fast path), and a
burst of turns drained together (D1 slow or down, or writes faster than the drain), where the
planner merges the outbox into a few multi-row statements.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from agent_sessions.adapters.runtime_values import DURABLE_OBJECT
from agent_sessions.adapters.sqlite import SqliteSql, connect
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine import SessionKey
from agent_sessions.engine.ports import Row, SqlValue
from agent_sessions.host import SessionHost
from agent_sessions.mirror.ports import MirrorPort, Statement

from .workload import Conversation


class CountingMirror:
    """The local mirror adapter, counting what reaches it."""

    def __init__(self, inner: MirrorPort) -> None:
        self.inner = inner
        self.statements = 0
        self.batches = 0

    async def apply(self, statements: Sequence[Statement]) -> None:
        self.statements += len(statements)
        self.batches += 1
        await self.inner.apply(statements)

    async def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        return await self.inner.query(sql, params)


async def _run(turns: int, drain_each_turn: bool) -> dict[str, Any]:
    counter = CountingMirror(SqliteMirror(":memory:"))
    key = SessionKey("bench", "mirror")
    host: SessionHost

    async def after_write() -> None:
        if drain_each_turn:
            await host.drain()

    host = SessionHost(SqliteSql(connect(":memory:"), DURABLE_OBJECT), counter, after_write)
    await host.call("create_session", key, ({},))
    await host.drain()
    counter.statements = counter.batches = 0
    conversation = Conversation()
    for _ in range(turns):
        entries = [{"type": "message", **m} for m in conversation.turn()]
        await host.call("append", key, (entries, None))
    while (await host.drain())["pending"]:
        pass
    parity = await host.call("verify_mirror", key, ())
    assert parity["equal"], parity
    return {
        "turns": turns,
        "d1_statements": counter.statements,
        "d1_batches": counter.batches,
        "statements_per_turn": counter.statements / turns,
        "batches_per_turn": counter.batches / turns,
    }


def mirror_figures(turns: int) -> dict[str, Any]:
    return {
        "drained_each_turn": asyncio.run(_run(turns, drain_each_turn=True)),
        "burst": asyncio.run(_run(turns, drain_each_turn=False)),
    }
