"""Large entries where the conformance suite cannot reach: faults of the blob store and of the
write around it, a crash between the put and the commit, the cold tier, expiry, and a store
without a blob store. Each "Durable Object" is a SessionHost on SQLite with the DO's value
rules (tests/test_archive.py's `Cold`), the blob store a directory."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agent_sessions.adapters.sqlite import SqliteSql, connect
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine import SessionKey, TooLarge
from agent_sessions.engine.errors import InsufficientStorage
from agent_sessions.engine.large import blob_prefix
from agent_sessions.engine.lifecycle import Lifecycle
from agent_sessions.engine.limits import BLOB_STALE_MS, INLINE_ENTRY_BYTES
from agent_sessions.host import DEFAULT_ARCHIVE_PREFIX, SessionHost

from .test_archive import IDLE, KEY, Cold

MB8 = 8 * 1024 * 1024
OUTPUT = ('tool output é "quoted"\n' * (MB8 // 22 + 1))[:MB8]


def big(entry_id: str = "out", content: str = OUTPUT) -> dict[str, Any]:
    return {"type": "tool_result", "id": entry_id, "content": content, "payload": {"ok": True}}


def objects(cold: Cold, key: SessionKey = KEY) -> list[str]:
    root = cold.archive.inner.root / blob_prefix(DEFAULT_ARCHIVE_PREFIX, key)
    return sorted(p.name for p in root.glob("*") if not p.name.startswith("."))


def ledger(cold: Cold) -> list[Any]:
    return cold.raw.execute("SELECT state FROM session_blobs ORDER BY key").fetchall()


def whole(cold: Cold) -> list[str]:
    return [e["content"] for e in cold.call("read_entries")["entries"]]


@pytest.fixture
def cold(tmp_path: Path) -> Cold:
    made = Cold(tmp_path)
    made.call("create_session", {"user_id": "ada"})
    return made


def test_a_failed_put_refuses_the_write_and_leaves_nothing(cold: Cold) -> None:
    before = cold.rows()
    cold.archive.fail = ("put", 1)
    with pytest.raises(InsufficientStorage, match="nothing was written"):
        cold.call("append", [big()])
    assert cold.rows() == before
    assert objects(cold) == []
    assert ledger(cold) == []
    cold.call("append", [big()])  # the store works on
    assert whole(cold) == [OUTPUT]
    assert len(objects(cold)) == 1


def test_a_transaction_that_fails_after_the_put_leaves_nothing(cold: Cold) -> None:
    before = cold.rows()
    cold.sql.prefix = "UPDATE sessions SET entry_count"
    with pytest.raises(RuntimeError, match="injected"):
        cold.call("append", [big()])
    assert cold.rows() == before
    assert objects(cold) == []
    assert ledger(cold) == []


def test_a_crash_between_put_and_commit_is_swept_by_the_alarm(cold: Cold) -> None:
    """What a crash leaves: the key recorded as pending, the object put, no rows. A new
    instance's alarm deletes it once it is stale, not while the write may still run."""
    engine = cold.host.engine
    name = blob_prefix(DEFAULT_ARCHIVE_PREFIX, KEY) + "crashed"
    engine.stage_blobs(KEY, [name])
    asyncio.run(cold.archive.put(name, b'{"content":"lost"}'))
    cold.restart()
    due = cold.alarm()
    assert objects(cold) == ["crashed"], "a pending object younger than the stale time stays"
    assert due is not None
    assert due <= cold.clock.now + BLOB_STALE_MS
    cold.clock.now += BLOB_STALE_MS
    cold.alarm()
    assert objects(cold) == []
    assert ledger(cold) == []


def test_a_write_whose_object_was_swept_meanwhile_is_refused(cold: Cold) -> None:
    """A put so slow that the alarm took its object for a crashed write's: the commit sees
    the key is no longer pending and refuses, so no row refers to a missing object."""
    put = cold.archive.inner.put

    async def slow_put(key: str, body: bytes) -> None:
        await put(key, body)
        cold.clock.now += BLOB_STALE_MS
        await cold.host.blobs.collect()

    cold.archive.inner.put = slow_put  # type: ignore[method-assign]
    before = cold.rows()
    with pytest.raises(InsufficientStorage, match="lost"):
        cold.call("append", [big()])
    assert cold.rows() == before
    assert objects(cold) == []
    assert ledger(cold) == []


def test_objects_a_write_could_not_delete_are_deleted_by_the_alarm(cold: Cold) -> None:
    cold.call("append", [big("a")])
    cold.call("append", [big("b", OUTPUT[::-1])])
    assert len(objects(cold)) == 2
    cold.archive.fail = ("delete", 1)
    cold.call("prune", 2)  # the rows go; the object's delete fails, after the answer
    assert len(objects(cold)) == 2
    assert ("doomed",) in ledger(cold)
    cold.alarm()
    assert len(objects(cold)) == 1
    assert ledger(cold) == [("live",)]
    assert whole(cold) == [OUTPUT[::-1]]


def test_an_evicted_large_entry_comes_back_exact(cold: Cold) -> None:
    cold.call("append", [{"type": "message", "content": "read the file"}, big()])
    cold.drain()
    before = cold.rows()
    stored = objects(cold)
    cold.clock.now += IDLE
    cold.alarm()
    assert cold.host.engine.evicted(KEY) is not None
    assert cold.rows() == [[], []], "the rows left the store"
    assert objects(cold) == stored, "the object stays where it is: the snapshot refers to it"
    cold.restart()
    assert whole(cold) == ["read the file", OUTPUT]
    assert cold.rows()[1] == before[1], "every entry row back, byte for byte"
    assert cold.parity()
    cold.call("delete_session")
    assert objects(cold) == []
    assert ledger(cold) == []


def test_an_evicted_session_that_expires_takes_its_objects(tmp_path: Path) -> None:
    cold = Cold(tmp_path, Lifecycle(ttl_ms=10 * IDLE, archive_after_ms=IDLE))
    cold.call("create_session", {})
    cold.call("append", [big()])
    cold.drain()
    cold.clock.now += IDLE
    cold.alarm()
    assert cold.host.engine.evicted(KEY) is not None
    assert len(objects(cold)) == 1
    cold.clock.now += 10 * IDLE
    cold.alarm()
    assert cold.host.engine.evicted(KEY) is None
    assert objects(cold) == []
    assert ledger(cold) == []


def test_an_expired_session_takes_its_objects(tmp_path: Path) -> None:
    cold = Cold(tmp_path, Lifecycle(ttl_ms=IDLE))
    cold.call("create_session", {})
    cold.call("append", [big()])
    cold.clock.now += IDLE
    cold.alarm()
    assert cold.rows()[0] == []
    assert objects(cold) == []
    assert ledger(cold) == []


def test_without_a_blob_store_a_large_entry_is_too_large_and_says_why(tmp_path: Path) -> None:
    async def nothing() -> None:
        return None

    sql = SqliteSql(connect(tmp_path / "do.sqlite"))
    host = SessionHost(sql, SqliteMirror(":memory:"), nothing)
    asyncio.run(host.call("create_session", KEY, ({},)))
    with pytest.raises(TooLarge, match="ARCHIVE") as refused:
        asyncio.run(host.call("append", KEY, ([big()],)))
    assert refused.value.details == {"limit": INLINE_ENTRY_BYTES}
    assert host.engine.get_session(KEY)["entry_count"] == 0
