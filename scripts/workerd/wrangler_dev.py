"""One `wrangler dev` process, started as a developer starts it, and its log: what the
real-workerd test tier (tests/workerd/) and the runtime bench (bench/runtime/) run Workers in.

The log is kept in a file (nobody drains a pipe while a test runs) and read back plain;
`new_problems` gives what wrangler or workerd printed as an error or a warning since a mark.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import env as workerd_env

WRANGLER = workerd_env.ROOT / "node_modules" / ".bin" / "wrangler"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PROBLEM = re.compile(
    r"\[ERROR\]|\[WARNING\]|\[wrangler:(warn|error)\]|Uncaught|Traceback|borrowed proxy|"
    r"failed to start",
    re.IGNORECASE,
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
"""wrangler colours its log even with NO_COLOR; the checks read it plain."""


class StartFailed(RuntimeError):
    """A `wrangler dev` process exited or never became ready; the message holds its log."""


@dataclass
class Wrangler:
    """One `wrangler dev` process and its log."""

    name: str
    configs: list[Path]
    cwd: Path
    state: Path
    env: Mapping[str, str]
    variables: Mapping[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.log_path = self.state.parent / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [str(WRANGLER), "dev"]
        for config in self.configs:
            command += ["-c", str(config)]
        command += ["--ip", "127.0.0.1", "--port", str(self.port)]
        command += ["--inspector-port", str(free_port()), "--persist-to", str(self.state)]
        command += ["--show-interactive-dev-session=false"]
        for key, value in self.variables.items():
            command += ["--var", f"{key}:{value}"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=self.cwd, env=dict(self.env), stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, deadline: float) -> None:
        while "Ready on" not in self.log():
            exited = self.process is None or self.process.poll() is not None
            if exited or "failed to start" in self.log():
                raise StartFailed(f"wrangler dev ({self.name}) exited:\n{self.log()[-6000:]}")
            if time.monotonic() > deadline:
                raise StartFailed(f"wrangler dev ({self.name}) is not ready:\n{self.log()[-6000:]}")
            time.sleep(0.1)

    def log(self) -> str:
        if not self.log_path.exists():
            return ""
        return ANSI.sub("", self.log_path.read_text(errors="replace"))

    def mark(self) -> int:
        return len(self.log())

    def new_problems(self, since: int) -> list[str]:
        return [line for line in self.log()[since:].splitlines() if PROBLEM.search(line)]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
