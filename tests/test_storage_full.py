"""A full store refuses a write whole, as a typed 507, on every backend, and takes writes again
once there is room: no transaction is left open, nothing half-written (issue 17, 7). SQLite's
`max_page_count` makes a real database full without filling a disk (the fault tests do that)."""

from __future__ import annotations

from typing import Any

import pytest

from agent_sessions.engine import SessionEngine, SessionKey
from agent_sessions.engine.errors import InsufficientStorage

from .conftest import Backend


def rows(backend: Backend) -> list[Any]:
    return [
        backend.raw.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
        for table in ("sessions", "session_entries", "mirror_outbox")
    ]


def test_a_full_store_refuses_the_write_whole_and_recovers(
    backend: Backend, engine: SessionEngine, key: SessionKey
) -> None:
    engine.create_session(key, {})
    pages = backend.raw.execute("PRAGMA page_count").fetchone()[0]
    backend.raw.execute(f"PRAGMA max_page_count = {pages + 8}")
    batch = [{"type": "message", "content": "x" * 2_000} for _ in range(4)]

    def fill() -> None:
        for _ in range(100):
            engine.append(key, batch)
        pytest.fail("the store never filled")

    with pytest.raises(InsufficientStorage) as full:
        fill()
    assert full.value.status == 507
    before = rows(backend)
    with pytest.raises(InsufficientStorage):
        engine.append(key, batch)
    assert rows(backend) == before, "the refused append left nothing behind"
    with pytest.raises(InsufficientStorage):
        engine.save_data(key, {"blob": "y" * 50_000})
    assert rows(backend) == before
    backend.raw.execute("PRAGMA max_page_count = 1073741823")
    appended = engine.append(key, batch)
    assert appended["version"] == engine.get_session(key)["version"]
