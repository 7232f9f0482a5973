"""The README's local server, started as a user starts it, spoken to over real loopback HTTP."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class Server:
    """`agent-sessions serve` in a child process, as the README starts it."""

    def __init__(self, data_dir: Path, *flags: str) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "agent_sessions", "serve", "--port", str(port)]
        self.process = subprocess.Popen(
            [*command, "--data-dir", str(data_dir), *(flags or ("--no-auth",))],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"the server did not start: {self.process.communicate()[0]}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            return self.call("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return call(self.base, method, path, body)

    def stop(self) -> str:
        self.process.terminate()
        return self.process.communicate(timeout=10)[0]


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
