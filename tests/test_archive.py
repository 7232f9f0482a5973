"""The cold tier: archive idle sessions as gzipped snapshots, hydrate them on use.

Each "Durable Object" is a SessionHost on SQLite with the DO's value rules, the archive is
the directory adapter (local mode's R2), and D1 is a SQLite mirror; the R2 adapter itself runs
against miniflare's R2 in the Pyodide tier."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from agent_sessions.adapters.directory_archive import DirectoryArchive
from agent_sessions.adapters.runtime_values import DURABLE_OBJECT
from agent_sessions.adapters.sqlite import SqliteSql, connect
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine import AlreadyExists, NotFound, SessionKey
from agent_sessions.engine import snapshot as doc
from agent_sessions.engine.lifecycle import Lifecycle
from agent_sessions.host import SessionHost

from .conftest import Clock
from .refusals import GZIP

IDLE = 60_000
KEY = SessionKey("t", "s")
OBJECT = "agent-sessions/t/sessions/s.json.gz"


class Faults:
    """An archive that fails the nth call of one method, to stop an archive half-way."""

    def __init__(self, inner: DirectoryArchive) -> None:
        self.inner = inner
        self.fail: tuple[str, int] | None = None
        self.calls: dict[str, int] = {}

    async def _maybe_fail(self, method: str) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
        if self.fail == (method, self.calls[method]):
            raise OSError(f"injected: {method} #{self.calls[method]}")

    async def put(self, key: str, body: bytes) -> None:
        await self._maybe_fail("put")
        await self.inner.put(key, body)

    async def get(self, key: str) -> bytes | None:
        await self._maybe_fail("get")
        return await self.inner.get(key)

    async def delete(self, key: str) -> None:
        await self._maybe_fail("delete")
        await self.inner.delete(key)


class CrashOn:
    """Passes statements through; raises on the first one that starts with `prefix`."""

    def __init__(self, inner: SqliteSql) -> None:
        self.inner = inner
        self.prefix: str | None = None

    def execute(self, sql: str, params: Any = ()) -> Any:
        if self.prefix and sql.startswith(self.prefix):
            self.prefix = None
            raise RuntimeError(f"injected crash at {sql[:40]}")
        return self.inner.execute(sql, params)

    def transaction(self, fn: Any) -> Any:
        return self.inner.transaction(fn)


class Cold:
    """One session store with an archive and a D1 mirror, on a settable clock."""

    def __init__(self, tmp: Path, lifecycle: Lifecycle | None = None) -> None:
        self.clock = Clock()
        self.raw = connect(tmp / "do.sqlite")
        self.sql = CrashOn(SqliteSql(self.raw, DURABLE_OBJECT))
        self.d1 = SqliteMirror(":memory:")
        self.archive = Faults(DirectoryArchive(tmp / "archive"))
        self.lifecycle = lifecycle or Lifecycle(archive_after_ms=IDLE)
        self.host = self._host()

    def _host(self) -> SessionHost:
        async def after_write() -> None:
            await asyncio.sleep(0)

        return SessionHost(self.sql, self.d1, after_write, self.clock, self.lifecycle, self.archive)

    def restart(self) -> None:
        """A new instance on the same storage, as after an eviction of the DO from memory."""
        self.host = self._host()

    def call(self, operation: str, *args: Any) -> Any:
        return asyncio.run(self.host.call(operation, KEY, args))

    def alarm(self) -> int | None:
        return asyncio.run(self.host.alarm())

    def drain(self) -> None:
        asyncio.run(self.host.drain())

    def rows(self) -> list[Any]:
        return [
            self.raw.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3").fetchall()
            for t in ("sessions", "session_entries")
        ]

    def d1_rows(self, sql: str) -> list[Any]:
        return self.d1.sql.connection.execute(sql).fetchall()

    def parity(self) -> bool:
        return self.call("verify_mirror")["equal"]


def fill(cold: Cold, entries: int = 5) -> None:
    cold.call("create_session", {"user_id": "ada", "metadata": {"m": 1}, "data": {"d": [1]}})
    batch = [{"type": "message", "role": "user", "content": f"m{i}", "payload": {"i": i}}
             for i in range(entries)]  # fmt: skip
    cold.call("append", batch, None)
    cold.drain()


@pytest.fixture
def cold(tmp_path: Path) -> Cold:
    return Cold(tmp_path)


def test_an_idle_session_is_archived_and_comes_back_on_use(cold: Cold) -> None:
    fill(cold)
    before = cold.rows()
    assert cold.alarm() is not None
    assert cold.host.engine.evicted(KEY) is None, "not idle yet: nothing moves"
    cold.clock.now += IDLE
    cold.alarm()
    evicted = cold.host.engine.evicted(KEY)
    assert evicted is not None
    assert evicted["archive_key"] == OBJECT
    assert cold.rows() == [[], []], "the rows left the Durable Object"
    snapshot, entries = doc.parse(doc.decompress(asyncio.run(cold.archive.inner.get(OBJECT))))
    assert (snapshot["status"], snapshot["entry_count"], len(entries)) == ("archived", 5, 5)
    assert cold.d1_rows("SELECT status, archive_key FROM sessions") == [("archived", OBJECT)]
    assert cold.d1_rows("SELECT count(*) FROM session_entries") == [(5,)], "D1 keeps entries"

    with pytest.raises(AlreadyExists):  # the id is taken while the session is in the archive
        cold.call("create_session", {})
    cold.clock.now += IDLE
    cold.alarm()
    assert cold.rows() == [[], []]
    got = cold.call("get_session")  # a read hydrates, and leaves it archived
    assert (got["status"], got["entry_count"], got["archive_key"]) == ("archived", 5, OBJECT)
    hydrated = cold.rows()
    assert hydrated[1] == before[1], "every entry back, byte for byte"
    assert cold.parity()
    cold.call("append", [{"type": "message", "content": "back"}], None)  # a write: active
    cold.drain()
    assert cold.call("get_session")["status"] == "active"
    assert cold.d1_rows("SELECT status FROM sessions") == [("active",)]
    assert cold.parity()


def test_a_new_instance_finds_an_evicted_session(cold: Cold) -> None:
    fill(cold)
    cold.clock.now += IDLE
    cold.alarm()
    cold.restart()
    assert [
        e["content"] for e in cold.call("read_entries", 0, None, None, 10, "asc")["entries"]
    ] == [f"m{i}" for i in range(5)]


@pytest.mark.parametrize(
    "fault",
    [("put", 1), ("get", 1), ("get", 2), ("drain", 0), ("evict", 0), ("mark", 0)],
    ids=lambda f: f"{f[0]}{f[1] or ''}",
)
def test_a_crash_at_any_step_loses_nothing(cold: Cold, fault: tuple[str, int]) -> None:
    """Stop the archive at each step: the session stays complete in the DO or in the
    archive, reads work at once, and the next alarm finishes the job."""
    fill(cold)
    original = cold.call("read_entries", 0, None, None, 100, "asc")["entries"]
    cold.clock.now += IDLE
    method, nth = fault
    if method in ("put", "get"):
        cold.archive.fail = (method, nth)
    elif method == "drain":
        cold.d1.sql.connection.execute("DROP TABLE sessions")  # D1 refuses every batch
    elif method == "evict":
        cold.sql.prefix = "DELETE FROM session_entries"
    else:
        cold.sql.prefix = "UPDATE sessions SET status = 'archived'"
    with contextlib.suppress(OSError, RuntimeError):  # the alarm failed; workerd retries it
        cold.alarm()
    if method == "drain":
        assert cold.host.engine.evicted(KEY) is None, "evicting before D1 has the mark"
        cold.d1 = SqliteMirror(":memory:")
        cold.restart()
    cold.archive.fail = None
    cold.restart()
    assert cold.call("read_entries", 0, None, None, 100, "asc")["entries"] == original
    cold.clock.now += IDLE
    cold.alarm()
    assert cold.host.engine.evicted(KEY) is not None, "the next alarm finished the archive"
    cold.restart()
    assert cold.call("read_entries", 0, None, None, 100, "asc")["entries"] == original
    if method != "drain":
        assert cold.parity()


def test_flush_and_hydrate_repeat_without_effect(cold: Cold) -> None:
    fill(cold)
    cold.clock.now += IDLE
    cold.alarm()
    body = asyncio.run(cold.archive.inner.get(OBJECT))
    puts = cold.archive.calls.get("put", 0)
    tier = cold.host.cold
    assert tier is not None
    assert asyncio.run(tier.hydrate(KEY))
    rows = cold.rows()
    assert asyncio.run(tier.hydrate(KEY)), "a second hydrate is a no-op"
    assert cold.rows() == rows
    version = cold.host.engine.get_session(KEY)["version"]
    assert asyncio.run(tier.flush(KEY)) == version
    assert asyncio.run(tier.flush(KEY)) == version
    assert cold.archive.calls["put"] == puts, "the same bytes are not written again"
    assert asyncio.run(cold.archive.inner.get(OBJECT)) == body


def test_thousands_of_entries_round_trip_exactly(cold: Cold) -> None:
    """Branches, a compaction, a prune gap, token counts: every column of every row comes
    back from the snapshot as it was."""
    cold.call("create_session", {"title": "long"})
    for start in range(0, 3000, 500):
        batch = [{"type": "message" if i % 3 else "tool_call", "content": "é" * (i % 7),
                  "payload": {"i": i, "f": i / 7}, "input_tokens": i % 11}
                 for i in range(start, start + 500)]  # fmt: skip
        cold.call("append", batch, None)
    entries = cold.call("read_entries", 0, None, None, 10, "asc")["entries"]
    cold.call("set_leaf", entries[5]["id"], None)
    cold.call("append", [{"type": "message", "content": "a branch"}], None)
    compaction = {"type": "compaction", "content": "summary", "payload": {"first_kept_seq": 3}}
    cold.call("append", [compaction], None)
    cold.call("prune", 2, None)
    cold.drain()
    before = cold.rows()
    assert len(before[1]) == 3001
    cold.clock.now += IDLE
    cold.alarm()
    assert cold.rows() == [[], []]
    cold.restart()
    cold.call("get_session")
    after = cold.rows()
    assert after[1] == before[1], "every entry, every column"
    changed = {"updated_at", "status", "version", "status_changed_at", "archive_key"}
    columns = [r[1] for r in cold.raw.execute("PRAGMA table_info(sessions)")]
    keep = [i for i, c in enumerate(columns) if c not in changed]
    assert [after[0][0][i] for i in keep] == [before[0][0][i] for i in keep]
    assert cold.parity()


def test_a_fork_of_an_archived_session_hydrates_its_source(tmp_path: Path) -> None:
    from agent_sessions.local.store import LocalStore  # noqa: PLC0415
    from agent_sessions.service.fork import fork_session  # noqa: PLC0415
    from agent_sessions.service.sessions import Sessions  # noqa: PLC0415

    async def scenario() -> dict[str, Any]:
        store = LocalStore(tmp_path / "data", lifecycle=Lifecycle(archive_after_ms=1))
        sessions = Sessions(store.transport)
        source, child = SessionKey("t", "src"), SessionKey("t", "kid")
        await sessions.create_session(source, {})
        batch = [{"type": "message", "content": f"{i}"} for i in range(7)]
        await sessions.append(source, batch, None)
        await store.settle()
        await asyncio.sleep(0.01)
        await store.host(source).alarm()
        assert store.host(source).engine.evicted(source) is not None
        forked = await fork_session(sessions, source, child, 4, None, {})
        store.close()
        return forked

    forked = asyncio.run(scenario())
    assert (forked["parent_id"], forked["forked_from_seq"], forked["entry_count"]) == ("src", 4, 4)


def test_expiry_deletes_an_archived_session_everywhere(tmp_path: Path) -> None:
    cold = Cold(tmp_path, Lifecycle(ttl_ms=10 * IDLE, archive_after_ms=IDLE))
    fill(cold)
    cold.clock.now += IDLE
    due = cold.alarm()
    assert cold.host.engine.evicted(KEY) is not None
    assert due == cold.clock.now - IDLE + 10 * IDLE, "the next alarm is the expiry"
    cold.clock.now = due
    cold.alarm()
    assert asyncio.run(cold.archive.inner.get(OBJECT)) is None
    assert cold.d1_rows("SELECT count(*) FROM sessions") == [(0,)]
    assert cold.d1_rows("SELECT count(*) FROM session_entries") == [(0,)]
    with pytest.raises(NotFound):
        cold.call("get_session")


def test_a_deleted_session_never_comes_back_from_an_old_snapshot(cold: Cold) -> None:
    fill(cold)
    cold.clock.now += IDLE
    cold.alarm()
    stale = asyncio.run(cold.archive.inner.get(OBJECT))
    cold.call("delete_session")
    assert asyncio.run(cold.archive.inner.get(OBJECT)) is None
    asyncio.run(cold.archive.inner.put(OBJECT, stale))  # say the delete of the object failed
    cold.restart()
    with pytest.raises(NotFound):
        cold.call("get_session")


def test_a_delete_during_an_archive_ends_it_quietly(cold: Cold) -> None:
    """Other requests run while the alarm waits on R2: one may delete the session."""
    fill(cold)
    cold.clock.now += IDLE
    put = cold.archive.put

    async def delete_first(key: str, body: bytes) -> None:
        await put(key, body)
        await cold.host.call("delete_session", KEY, ())

    cold.archive.put = delete_first  # type: ignore[method-assign]
    assert cold.alarm() is None, "nothing left to do"
    with pytest.raises(NotFound):
        cold.call("get_session")
    cold.drain()
    assert cold.d1_rows("SELECT count(*) FROM sessions") == [(0,)]


def test_a_missing_snapshot_is_nothing_archived(cold: Cold) -> None:
    with pytest.raises(NotFound):
        cold.call("get_session")
    cold.call("create_session", {})
    assert cold.call("get_session")["version"] == 1


def test_the_snapshot_is_the_export_format(tmp_path: Path) -> None:
    """The archive's object and GET /export?snapshot=true are the same bytes, and either
    imports as a new session."""
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from agent_sessions.local.server import local_app  # noqa: PLC0415
    from agent_sessions.local.store import LocalStore  # noqa: PLC0415

    store = LocalStore(tmp_path / "data", lifecycle=Lifecycle(archive_after_ms=1))
    with TestClient(
        local_app(tmp_path / "data", None, store), base_url="http://localhost"
    ) as client:
        client.post("/v1/sessions", json={"id": "snap", "data": {"k": "v"}})
        turn = {"entries": [{"type": "message", "content": "hello", "payload": {"x": 1}}]}
        client.post("/v1/sessions/snap/entries", json=turn)
        key = SessionKey("default", "snap")
        asyncio.run(store.settle())
        asyncio.run(asyncio.sleep(0.01))
        asyncio.run(store.host(key).alarm())
        archived = tmp_path / "data" / "archive" / "agent-sessions/default/sessions/snap.json.gz"
        exported = client.get("/v1/sessions/snap/export?snapshot=true")
        assert exported.headers["content-type"] == "application/gzip"
        assert exported.content == archived.read_bytes()
        first = json.loads(gzip.decompress(exported.content).splitlines()[0])
        assert first["format"] == "agent-sessions.v1"
        made = client.post(
            "/v1/sessions/import?session_id=copy", content=exported.content, headers=GZIP
        )
        assert (made.status_code, made.json()["entry_count"]) == (201, 1)
        bad = client.post("/v1/sessions/import", content=b"\x1f\x8bnot gzip", headers=GZIP)
        assert bad.status_code == 400
