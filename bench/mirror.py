"""What mirroring costs D1: statements and batches per turn, counted at the mirror port.

Two regimes: D1 healthy, where each turn's write is drained at once (the fast path), and a
burst of turns drained together (D1 slow or down, or writes faster than the drain), where the
planner merges the outbox into a few multi-row statements.

Then the drain delay (MIRROR_DRAIN_DELAY_MS, mirror/timing.py) on an agent's timeline: each
turn is ITEMS_PER_TURN appends of one item (a user message, a tool call, its result, the
answer, as agent SDKs write them) ITEM_GAP_MS apart, and turns THINK_MS apart, on a virtual
clock; the shell's own rule decides when each write drains, and the alarms ring on time.
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
from agent_sessions.mirror.timing import DrainTiming

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


ITEMS_PER_TURN = 4
ITEM_GAP_MS = 50
THINK_MS = 5_000
DELAYS_MS = (0, 250, 1_000)


async def timed(turns: int, timing: DrainTiming) -> dict[str, Any]:
    counter = CountingMirror(SqliteMirror(":memory:"))
    key = SessionKey("bench", "timed")
    now = [0]
    alarm: list[int | None] = [None]
    host: SessionHost

    async def after_write() -> None:  # what the Durable Object's shell does
        ring_by, drain_now = timing.after_write(now[0])
        alarm[0] = ring_by if alarm[0] is None else min(alarm[0], ring_by)
        if drain_now:
            await host.drain()

    async def wait_until(at: int) -> None:
        while alarm[0] is not None and alarm[0] <= at:
            now[0], alarm[0] = alarm[0], None
            alarm[0] = await host.alarm()  # an alarm writes nothing: no after_write meanwhile
        now[0] = at

    clock = lambda: now[0]  # noqa: E731 - the virtual clock the host reads
    host = SessionHost(SqliteSql(connect(":memory:"), DURABLE_OBJECT), counter, after_write, clock)
    await host.call("create_session", key, ({},))
    await wait_until(THINK_MS)
    counter.statements = counter.batches = 0
    conversation = Conversation()
    for turn in range(turns):
        start = (turn + 1) * THINK_MS
        for i, item in enumerate(conversation.take(ITEMS_PER_TURN)):
            await wait_until(start + i * ITEM_GAP_MS)
            await host.call("append", key, ([{"type": "message", **item}], None))
    await wait_until((turns + 2) * THINK_MS)
    assert host.pending()["pending"] == 0
    parity = await host.call("verify_mirror", key, ())
    assert parity["equal"], parity
    return {
        "delay_ms": timing.delay_ms,
        "turns": turns,
        "writes_per_turn": ITEMS_PER_TURN,
        "statements_per_turn": counter.statements / turns,
        "batches_per_turn": counter.batches / turns,
    }


def mirror_figures(turns: int) -> dict[str, Any]:
    return {
        "drained_each_turn": asyncio.run(_run(turns, drain_each_turn=True)),
        "burst": asyncio.run(_run(turns, drain_each_turn=False)),
        "delayed": [asyncio.run(timed(turns, DrainTiming(d))) for d in DELAYS_MS],
    }
