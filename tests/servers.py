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

from .shards import cli_flags, shard_map


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

    def __init__(
        self,
        data_dir: Path,
        *flags: str,
        env: dict[str, str] | None = None,
        max_file_bytes: int | None = None,
        sharding: str = "one-shard",
    ) -> None:
        """`max_file_bytes` limits every file the server writes (RLIMIT_FSIZE): a disk that
        fills up, for this process only. `sharding`: its mirror databases (tests/shards.py),
        given as the flags a user gives."""
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.data_dir = data_dir
        self.shards = shard_map(sharding)
        command = ["-m", "agent_sessions", "serve", "--port", str(port)]
        if max_file_bytes is None:
            command = [sys.executable, *command]
        else:
            command = [sys.executable, "-c", LIMITED, str(max_file_bytes), *command]
        # Output goes to a file, not a pipe: nobody reads a pipe while a test runs, and a full
        # one (the access log of a busy test) would block the server.
        self.log = tempfile.NamedTemporaryFile(prefix="agent-sessions-", suffix=".log")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                *command,
                *("--data-dir", str(data_dir)),
                *(flags if flags or env else ("--no-auth",)),
                *cli_flags(sharding),
            ],
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
        return self._ended()

    def kill(self) -> str:
        """Stop the server with SIGKILL, as a crash would; its output so far."""
        self.process.kill()
        return self._ended()

    def _ended(self) -> str:
        self.process.wait(timeout=10)
        text = self.output()
        self.log.close()
        return text


LIMITED = (
    "import os, resource, sys; size = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (size, size)); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])"
)
"""Set a file-size limit on this process, then become the server (same pid)."""
