"""The processes of one run: six `wrangler dev` processes and the local server, each with
state in the run's scratch directory and its own ports, so that other runs (and other
people's `wrangler dev`) never meet this one.

- **http**: this repository's wrangler.toml as a developer runs it (`scripts/dev`);
- **rpc**: the caller Worker first (so the loopback client reaches it), then agent-sessions
  from this repository's wrangler.toml (scripts/workerd/launch.py gives every Python Worker of
  a process the offline Pyodide flag);
- **floor** and **peer**: the JavaScript Workers of floor/ and peer/;
- **pyfloor**: floor/ in Python (pyfloor/), what Python costs on the platform;
- **trivial**: the trivial Python Worker, the yardstick of a fresh isolate's first request;
- **cpython**: `agent-sessions serve --no-auth`.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .floor import variables as floor_variables
from .procfs import runtime_of

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "scripts" / "workerd"))
import env as workerd_env  # noqa: E402 - scripts/workerd is not a package
from launch import SNAPSHOT, SNAPSHOT_FILE, V8_FLAGS  # noqa: E402
from wrangler_dev import WRANGLER, StartFailed, Wrangler, free_port  # noqa: E402

TOKEN = "runtime-bench-token-0123456789"
START_TIMEOUT_S = 180


def wrangler_env(scratch: Path) -> dict[str, str]:
    """The offline workerd recipe (scripts/workerd/env.py) with this run's own dev registry.

    wrangler's local observability is off: it streams every span of every request (each SQL
    statement is one) into a trace store in the same workerd, a cost production does not have
    and that would grow with the statements a system runs. Its spans carry `cpu_time_ms: 0`.
    """
    registry = workerd_env.environment(registry=scratch / "registry")
    quiet = {"CI": "true", "NO_COLOR": "1", "X_LOCAL_OBSERVABILITY": "false"}
    return {**os.environ, **registry, **quiet}


@contextmanager
def snapshot(wrangler: Wrangler, setting: str) -> Iterator[None]:
    """The process started inside the block uses the snapshot `setting` (launch.py's
    save:<dir> or load:<dir>); its env is as before after the block."""
    before = wrangler.env
    wrangler.env = {**before, SNAPSHOT: setting}
    try:
        yield
    finally:
        wrangler.env = before


def perf_names(wrangler: Wrangler, log: Path) -> None:
    """The process started next has V8 write, for `perf`, the name of all code it compiles,
    to /tmp/perf-<pid>.map (launch.py's V8 flags). V8's own log, which the flag switches on
    too, goes to `log`, one file for all isolates, rather than a file per isolate in the cwd."""
    flags = f"--perf-basic-prof --logfile={log} --no-logfile-per-isolate"
    wrangler.env = {**wrangler.env, V8_FLAGS: flags}


def snapshot_file(folder: Path) -> Path:
    """Where workerd saves the snapshot of a save:<folder>, and loads it from."""
    return folder / SNAPSHOT_FILE


def migrated_d1(env: Mapping[str, str]) -> Path:
    """State holding D1's tables, as a user creates them (`wrangler d1 migrations apply
    --local`), made once per set of migrations in .workerd/ (it costs seconds of CPU) and
    copied into each process's state."""
    digest = hashlib.sha256()
    for migration in sorted((ROOT / "migrations").glob("*.sql")):
        digest.update(migration.name.encode() + migration.read_bytes())
    template = ROOT / ".workerd" / f"runtime-bench-d1-{digest.hexdigest()[:16]}"
    if template.exists():
        return template
    building = template.with_name(template.name + f".{os.getpid()}")
    command = [str(WRANGLER), "d1", "migrations", "apply", "DB", "--local"]
    command += ["--persist-to", str(building)]
    done = subprocess.run(
        command, cwd=ROOT, env=dict(env), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise StartFailed(f"wrangler d1 migrations apply failed:\n{done.stdout}{done.stderr}")
    building.rename(template)
    return template


def python_worker(
    name: str, scratch: Path, env: Mapping[str, str], variables: Mapping[str, str] | None = None
) -> Wrangler:
    """A Python Worker of this folder (trivial/, pyfloor/) copied into the scratch directory
    beside the runtime SDK that scripts/setup.sh vendors for the example Python Worker (the
    runtime ships no SDK)."""
    folder = scratch / name
    shutil.copytree(HERE / name, folder, dirs_exist_ok=True)
    sdk = ROOT / "examples" / "python-rpc-worker" / "python_modules"
    shutil.copytree(sdk, folder / "python_modules", dirs_exist_ok=True)
    state = scratch / f"{name}-state"
    return Wrangler(name, [folder / "wrangler.toml"], folder, state, env, variables or {})


@dataclass
class LocalServer:
    """`agent-sessions serve --no-auth` on a free port, its log in a file."""

    data: Path
    port: int = 0

    def start(self) -> None:
        self.port = self.port or free_port()
        self.log_path = self.data.parent / "cpython.log"
        command = [sys.executable, "-m", "agent_sessions", "serve", "--no-auth"]
        command += ["--port", str(self.port), "--data-dir", str(self.data)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, deadline: float) -> None:
        while True:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=5):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.log_path.read_text()
                    raise StartFailed(f"agent-sessions serve exited:\n{log}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


class Fleet:
    """Every system's process; `pid(key)` is the process whose CPU and memory count."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.env = wrangler_env(scratch)
        self.http = self._python("http", [ROOT / "wrangler.toml"])
        self.rpc = self._python("rpc", [HERE / "caller" / "wrangler.toml", ROOT / "wrangler.toml"])
        self.floor = self._javascript("floor", floor_variables())
        self.peer = self._javascript("peer")
        self.pyfloor = python_worker("pyfloor", scratch, self.env, floor_variables())
        self.trivial = python_worker("trivial", scratch, self.env)
        self.cpython = LocalServer(scratch / "cpython-data")
        self._stopping: list[threading.Thread] = []

    def _python(self, name: str, configs: list[Path]) -> Wrangler:
        variables = {"AGENT_SESSIONS_TOKENS": f"{TOKEN}=default"}
        return Wrangler(name, configs, ROOT, self.scratch / f"{name}-state", self.env, variables)

    def _javascript(self, name: str, variables: Mapping[str, str] | None = None) -> Wrangler:
        folder = HERE / name
        state = self.scratch / f"{name}-state"
        return Wrangler(name, [folder / "wrangler.toml"], folder, state, self.env, variables or {})

    @property
    def wranglers(self) -> dict[str, Wrangler]:
        return {
            "http": self.http,
            "rpc": self.rpc,
            "floor": self.floor,
            "peer": self.peer,
            "pyfloor": self.pyfloor,
            "trivial": self.trivial,
        }

    def start(self) -> None:
        """All at once, each agent-sessions process with a copy of a migrated D1."""
        d1 = migrated_d1(self.env)
        for state in (self.http.state, self.rpc.state):
            shutil.copytree(d1, state)
        starters: list[tuple[Callable[[], None], Callable[[float], None]]] = [
            (w.start, w.wait_ready) for w in self.wranglers.values()
        ]
        starters.append((self.cpython.start, self.cpython.wait_ready))
        try:
            for start, _ in starters:
                start()
            deadline = time.monotonic() + START_TIMEOUT_S
            for _, wait in starters:
                wait(deadline)
        except BaseException:
            self.stop()
            raise

    def base(self, key: str) -> str:
        return self.cpython.base if key == "cpython" else self.wranglers[key].base

    def pid(self, key: str) -> int:
        if key == "cpython":
            return self.cpython.process.pid
        process = self.wranglers[key].process
        assert process is not None, f"{key} is not running"
        return runtime_of(process.pid)

    def abandon(self, key: str) -> None:
        """Stop a system's process now, without waiting (it is stuck in work the run no
        longer needs); `stop` waits for it."""
        process = self.wranglers[key] if key != "cpython" else self.cpython
        stopping = threading.Thread(target=process.stop)
        stopping.start()
        self._stopping.append(stopping)

    def stop(self) -> None:
        for stopping in self._stopping:
            stopping.join()
        stoppers = [w.stop for w in self.wranglers.values()]
        if hasattr(self.cpython, "process"):
            stoppers.append(self.cpython.stop)
        with concurrent.futures.ThreadPoolExecutor() as pool:
            list(pool.map(lambda stop: stop(), stoppers))
