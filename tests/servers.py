"""`agent-sessions serve` in a child process, as a user starts it, for loopback tests."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
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

    def __init__(self, data_dir: Path, *flags: str, env: dict[str, str] | None = None) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.data_dir = data_dir
        command = [sys.executable, "-m", "agent_sessions", "serve", "--port", str(port)]
        # Output goes to a file, not a pipe: nobody reads a pipe while a test runs, and a full
        # one (the access log of a busy test) would block the server.
        self.log = tempfile.NamedTemporaryFile(prefix="agent-sessions-", suffix=".log")  # noqa: SIM115
        self.process = subprocess.Popen(
            [*command, "--data-dir", str(data_dir), *(flags if flags or env else ("--no-auth",))],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 30
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"the server did not start: {self.output()}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            return self.call("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return call(self.base, method, path, body)

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def stop(self) -> str:
        """Stop the server; its output so far."""
        self.process.terminate()
        self.process.wait(timeout=10)
        text = self.output()
        self.log.close()
        return text
