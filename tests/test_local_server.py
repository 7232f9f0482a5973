"""The README's local server, started as a user starts it, spoken to over real loopback HTTP."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_sessions.adapters.sqlite_mirror import SqliteMirror

from .servers import Server, free_port


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: Path) -> Iterator[Server]:
    running = Server(data_dir)
    yield running
    running.stop()


def test_curl_round_trip(server: Server, data_dir: Path) -> None:
    assert server.call("POST", "/v1/sessions", {"id": "demo", "user_id": "ada"})[0] == 201
    turn = [
        {"type": "message", "role": "user", "content": "What is 2+2?"},
        {"type": "tool_call", "payload": {"name": "calc", "args": "2+2"}},
        {"type": "message", "role": "assistant", "content": "4"},
    ]
    status, appended = server.call("POST", "/v1/sessions/demo/entries", {"entries": turn})
    assert status == 201
    assert appended["last_seq"] == 3
    status, page = server.call("GET", "/v1/sessions/demo/entries")
    assert status == 200
    assert [e["content"] for e in page["entries"]] == ["What is 2+2?", None, "4"]
    assert (data_dir / "sessions" / "default" / "demo.sqlite").exists()
    status, body = server.call("GET", "/v1/sessions/missing")
    assert (status, body["error"]["code"]) == (404, "not_found")
    deadline = time.monotonic() + 10
    while server.call("GET", "/v1/sessions/demo/mirror")[1]["pending"]:
        assert time.monotonic() < deadline, "the local D1 mirror did not catch up"
        time.sleep(0.05)
    d1 = sqlite3.connect(data_dir / "d1.sqlite")
    assert d1.execute(
        "SELECT count(*) FROM session_entries WHERE session_id = 'demo'"
    ).fetchone() == (3,)


def test_start_up_banner_names_the_url_and_docs(data_dir: Path) -> None:
    running = Server(data_dir)
    banner = running.stop()
    assert f"{running.base}/docs" in banner


def test_sessions_survive_a_restart(data_dir: Path) -> None:
    first = Server(data_dir)
    first.call("POST", "/v1/sessions", {"id": "keep"})
    first.call("POST", "/v1/sessions/keep/entries", {"entries": [{"type": "message"}]})
    first.stop()
    second = Server(data_dir)
    try:
        status, session = second.call("GET", "/v1/sessions/keep")
        assert (status, session["entry_count"], session["version"]) == (200, 1, 2)
    finally:
        second.stop()


def test_without_tokens_it_refuses_to_start_and_says_how(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AGENT_SESSIONS_TOKENS"}
    command = [sys.executable, "-m", "agent_sessions", "serve", "--data-dir", str(data_dir)]
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=30, check=False
    )
    assert result.returncode != 0
    assert "no tokens configured" in result.stderr
    assert "--no-auth" in result.stderr


def test_no_auth_is_announced_loudly(data_dir: Path) -> None:
    running = Server(data_dir, "--no-auth")
    assert "authentication is OFF" in running.stop()


def wait_for(check: Any, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def test_idle_timeout_then_ttl_from_the_command_line(data_dir: Path) -> None:
    """The lifecycle end to end: a quiet session turns abandoned after the idle timeout and is
    deleted at its expiry, by the alarm loop, and the D1 file follows both."""
    running = Server(data_dir, "--no-auth", "--ttl-seconds", "3", "--idle-timeout-seconds", "1")
    d1 = sqlite3.connect(data_dir / "d1.sqlite")
    try:
        made = running.call("POST", "/v1/sessions", {"id": "brief"})[1]
        assert made["expires_at"] == made["created_at"] + 3_000
        kept = running.call("POST", "/v1/sessions", {"id": "kept", "expires_at": None})[1]
        assert kept["expires_at"] is None
        running.call("POST", "/v1/sessions/brief/entries", {"entries": [{"type": "message"}]})

        def status(session_id: str) -> Any:
            return running.call("GET", f"/v1/sessions/{session_id}")[1].get("status")

        def mirrored() -> list[tuple[str, str]]:
            return d1.execute("SELECT id, status FROM sessions ORDER BY id").fetchall()

        wait_for(lambda: status("brief") == "abandoned", "brief is abandoned")
        session = running.call("GET", "/v1/sessions/brief")[1]
        assert session["status_changed_at"] > session["created_at"]
        wait_for(lambda: mirrored() == [("brief", "abandoned"), ("kept", "abandoned")], "D1")
        wait_for(lambda: running.call("GET", "/v1/sessions/brief")[0] == 404, "brief expires")
        wait_for(lambda: mirrored() == [("kept", "abandoned")], "D1 drops brief")
        assert d1.execute("SELECT count(*) FROM session_entries").fetchone() == (0,)
        assert status("kept") == "abandoned", "no expiry: kept, though idle"
    finally:
        d1.close()
        running.stop()


def test_a_bad_lifecycle_setting_stops_the_server_with_a_reason(data_dir: Path) -> None:
    command = [sys.executable, "-m", "agent_sessions", "serve", "--no-auth"]
    command += ["--data-dir", str(data_dir), "--ttl-seconds", "soon"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0
    assert "SESSION_TTL_SECONDS must be a number of seconds" in result.stderr


def test_idle_sessions_move_to_the_archive_directory_and_come_back(data_dir: Path) -> None:
    running = Server(data_dir, "--no-auth", "--archive-after-seconds", "1")
    snapshot = data_dir / "archive" / "agent-sessions" / "default" / "sessions" / "old.json.gz"
    d1 = sqlite3.connect(data_dir / "d1.sqlite")
    try:
        running.call("POST", "/v1/sessions", {"id": "old"})
        running.call("POST", "/v1/sessions/old/entries", {"entries": [{"type": "message"}]})
        wait_for(snapshot.exists, "the snapshot is written")
        query = "SELECT status, archive_key FROM sessions WHERE id = 'old'"
        key = "agent-sessions/default/sessions/old.json.gz"
        wait_for(lambda: d1.execute(query).fetchall() == [("archived", key)], "D1 sees it")
        status, session = running.call("GET", "/v1/sessions/old")
        assert (status, session["status"], session["entry_count"]) == (200, "archived", 1)
    finally:
        d1.close()
        running.stop()


def test_a_second_server_on_one_data_directory_is_refused_at_start(data_dir: Path) -> None:
    """Two servers on one directory lost D1 rows silently; now the second one does not start,
    says why, and the first one goes on serving."""
    first = Server(data_dir)
    try:
        command = [sys.executable, "-m", "agent_sessions", "serve", "--no-auth"]
        command += ["--data-dir", str(data_dir), "--port", str(free_port())]
        second = subprocess.run(command, capture_output=True, text=True, timeout=15, check=False)
        assert second.returncode != 0
        assert f"another agent-sessions server (pid {first.process.pid})" in second.stderr
        assert first.call("POST", "/v1/sessions", {"id": "still"})[0] == 201
    finally:
        first.stop()  # the lock goes with it, however it ends (the kill -9 test restarts)


def test_a_data_directory_of_a_newer_release_is_refused_at_start(data_dir: Path) -> None:
    data_dir.mkdir()
    SqliteMirror(data_dir / "d1.sqlite").close()
    with sqlite3.connect(data_dir / "d1.sqlite") as d1:
        d1.execute("PRAGMA user_version = 99")
    command = [sys.executable, "-m", "agent_sessions", "serve", "--no-auth"]
    command += ["--data-dir", str(data_dir)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0
    assert "schema version 99" in result.stderr
    assert "Traceback" not in result.stderr
