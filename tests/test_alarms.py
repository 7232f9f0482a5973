"""The alarm survives whatever fails: one failing alarm stopped every later one, silently, and
/healthz still said ok (issue 17, 2). Real SQLite files that cannot be written or read."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent_sessions.adapters.sqlite import SqliteSql, connect
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine import NotFound, SessionKey
from agent_sessions.engine.keys import now_ms
from agent_sessions.host import SessionHost
from agent_sessions.local.server import local_app
from agent_sessions.local.store import LocalStore
from agent_sessions.service.sessions import Sessions

KEY = SessionKey("default", "s")


async def nothing() -> None:
    return None


def test_an_alarm_on_an_unwritable_store_backs_off_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """D1 refuses the batch, and the store refuses to record that (a full disk fails both):
    the failure handler itself raised, and the alarm with it."""
    store = connect(tmp_path / "s.sqlite")
    d1 = SqliteMirror(tmp_path / "d1.sqlite")
    host = SessionHost(SqliteSql(store), d1, nothing)

    async def scenario() -> None:
        host.engine.create_session(KEY, {"expires_at": now_ms() - 1})
        d1.sql.connection.execute("PRAGMA query_only = ON")
        store.execute("PRAGMA query_only = ON")
        retries = []
        for _ in range(3):
            retries.append(await host.alarm() - now_ms())
            status = await host.call("mirror_status", KEY, ())
            assert status["pending"], status
            assert "readonly" in status["last_error"], status
            assert status["alarm_failures"] == len(retries)
            assert "sweep" in caplog.text
        assert 0 < retries[0] < retries[2], "later retries wait longer"
        d1.sql.connection.execute("PRAGMA query_only = OFF")
        store.execute("PRAGMA query_only = OFF")
        assert await host.alarm() is None
        status = await host.call("mirror_status", KEY, ())
        assert (status["pending"], status["last_error"], status["alarm_failures"]) == (0, None, 0)
        with pytest.raises(NotFound):
            host.engine.get_session(KEY)  # the sweep ran once the disk took writes again

    with caplog.at_level(logging.ERROR, logger="agent_sessions"):
        asyncio.run(scenario())


def test_a_session_file_that_cannot_be_opened_stops_no_other_alarm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"

    async def made() -> None:
        first = LocalStore(data)
        await Sessions(first.transport).create_session(
            SessionKey("default", "later"), {"expires_at": now_ms() + 300}
        )
        await first.settle()
        first.close()

    asyncio.run(made())
    (data / "sessions" / "default" / "broken.sqlite").write_bytes(b"not a database " * 100)
    time.sleep(0.4)
    with (
        caplog.at_level(logging.ERROR, logger="agent_sessions"),
        TestClient(local_app(data, None), base_url="http://localhost") as client,
    ):
        deadline = time.monotonic() + 10
        while client.get("/v1/sessions/later").status_code != 404:
            assert time.monotonic() < deadline, "the alarm after the broken one never ran"
            time.sleep(0.1)
        health = client.get("/healthz").json()
    assert health["ok"] is False
    assert health["alarms"]["failing"] == 1
    assert "not a database" in health["alarms"]["last_error"]
    assert "default:broken" in caplog.text
