"""D1's retention: the sweep removes exactly the sessions due (not active, not updated since
the cutoff) with their entries, within its bounds, and a second run changes nothing.

The sessions reach D1 the way they do in production: written to their stores ("DOs") and
mirrored by the drain, so D1's rows, indexes and search triggers are the real ones.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent_sessions.adapters.runtime_values import DURABLE_OBJECT
from agent_sessions.adapters.sqlite import SqliteSql, connect
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine import SessionKey
from agent_sessions.host import SessionHost
from agent_sessions.mirror import statements as q
from agent_sessions.mirror.retention import DAY_MS, SweepResult, retention_ms, sweep

from .conftest import Clock

DAYS = 30


class Deployment:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.d1 = SqliteMirror(":memory:")
        self.hosts: dict[SessionKey, SessionHost] = {}

    async def write(self, key: SessionKey, operation: str, *args: Any) -> Any:
        if key not in self.hosts:

            async def after_write() -> None:
                await self.hosts[key].drain()

            sql = SqliteSql(connect(":memory:"), DURABLE_OBJECT)
            self.hosts[key] = SessionHost(sql, self.d1, after_write, self.clock)
        return await self.hosts[key].call(operation, key, args)

    async def session(self, name: str, status: str, age_days: float, entries: int) -> SessionKey:
        """A session last updated `age_days` ago, with its status and entries."""
        key = SessionKey("t1" if name < "m" else "t2", name)
        self.clock.now = NOW - int(age_days * DAY_MS)
        await self.write(key, "create_session", {"title": name})
        for i in range(entries):
            await self.write(
                key, "append", [{"type": "message", "content": f"{name} word{i}"}], None
            )
        if status != "active":
            await self.write(key, "update_session", {"status": status}, None)
        return key

    def held(self) -> dict[str, int]:
        """Session id: its entry count in D1, for every session D1 holds."""
        conn = self.d1.sql.connection
        sessions = [r[0] for r in conn.execute("SELECT id FROM sessions ORDER BY id")]
        return {
            s: conn.execute(
                "SELECT count(*) FROM session_entries WHERE session_id = ?", (s,)
            ).fetchone()[0]
            for s in sessions
        }

    def searchable(self, word: str) -> int:
        sql = "SELECT count(*) FROM entries_fts WHERE entries_fts MATCH ?"
        return self.d1.sql.connection.execute(sql, (word,)).fetchone()[0]


NOW = 1_800_000_000_000
CUTOFF = NOW - DAYS * DAY_MS
SESSIONS = [  # name, status, age in days, entries; due: not active and older than DAYS
    ("a-old-completed", "completed", 40, 7),  # due
    ("b-old-abandoned", "abandoned", 31, 0),  # due, no entries
    ("c-old-active", "active", 90, 3),  # kept: active, however old
    ("d-new-completed", "completed", 29, 2),  # kept: recent
    ("n-old-abandoned", "abandoned", 60, 4),  # due (another tenant)
    ("o-new-active", "active", 1, 2),  # kept
]
DUE = {"a-old-completed", "b-old-abandoned", "n-old-abandoned"}


@pytest.fixture
def deployment(clock: Clock) -> Deployment:
    made = Deployment(clock)

    async def build() -> None:
        for spec in SESSIONS:
            await made.session(*spec)

    asyncio.run(build())
    assert len(made.held()) == len(SESSIONS)
    return made


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_sweep_removes_exactly_the_sessions_due(deployment: Deployment) -> None:
    before = deployment.held()
    assert deployment.searchable("word0") == sum(1 for s in SESSIONS if s[3])
    result = run(sweep(deployment.d1, CUTOFF))
    assert result == SweepResult(sessions_removed=len(DUE), batches=len(DUE), more=False)
    assert deployment.held() == {s: n for s, n in before.items() if s not in DUE}
    kept_with_entries = sum(1 for s in SESSIONS if s[3] and s[0] not in DUE)
    assert deployment.searchable("word0") == kept_with_entries, "the search index followed"
    again = run(sweep(deployment.d1, CUTOFF))
    assert again == SweepResult(), "a second run finds nothing and sends nothing"
    assert deployment.held() == {s: n for s, n in before.items() if s not in DUE}


def test_a_run_is_bounded_and_later_runs_finish_the_work(deployment: Deployment) -> None:
    before = deployment.held()
    first = run(sweep(deployment.d1, CUTOFF, chunks=2, chunk=3))
    assert first.batches == 2
    assert first.more
    after = deployment.held()
    removed = sum(before.values()) - sum(after.values())
    assert 0 < removed <= 2 * 3, "at most two chunks of 3 entries"
    assert DUE & set(after), "work is left for the next runs"
    assert set(before) - set(after) <= DUE
    runs = 1
    while run(sweep(deployment.d1, CUTOFF, sessions=1, chunks=2, chunk=3)).more:
        runs += 1
        assert runs < 10
    run(sweep(deployment.d1, CUTOFF, sessions=1, chunks=2, chunk=3))  # the last one's rest
    assert deployment.held() == {s: n for s, n in before.items() if s not in DUE}


def test_a_session_updated_during_a_sweep_stays(deployment: Deployment, clock: Clock) -> None:
    """Between two runs a due session is written again (the drain re-mirrors it): it is
    recent now, and no later statement of the sweep touches it."""
    run(sweep(deployment.d1, CUTOFF, sessions=1, chunks=1, chunk=3))
    key = SessionKey("t1", "a-old-completed")
    clock.now = NOW
    run(deployment.write(key, "update_session", {"title": "back"}, None))
    result = run(sweep(deployment.d1, CUTOFF))
    assert "a-old-completed" in deployment.held()
    assert result.sessions_removed == len(DUE) - 1


def test_the_sweep_reads_through_the_age_index(deployment: Deployment) -> None:
    plan = deployment.d1.sql.connection.execute(
        f"EXPLAIN QUERY PLAN {q.RETENTION_DUE}", (CUTOFF, 10)
    ).fetchall()
    assert "sessions_by_age" in " ".join(str(r[-1]) for r in plan)
    assert all("SCAN sessions" not in str(r[-1]) for r in plan)


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("", None), (" ", None), ("30", 30 * DAY_MS)]
)
def test_the_setting(value: Any, expected: int | None) -> None:
    assert retention_ms(value) == expected


@pytest.mark.parametrize("value", ["0", "0.5", "-3", "thirty", "inf", "nan"])
def test_a_bad_setting_is_refused_saying_what(value: str) -> None:
    with pytest.raises(ValueError, match="MIRROR_RETENTION_DAYS must be a number of days"):
        retention_ms(value)
