"""The Workers under test, run by real `wrangler dev` in real workerd, as a developer runs them.

One stack is two `wrangler dev` processes that find each other through wrangler's dev
registry (a directory of the stack's own), the way separate deployed Workers reach each other:

- **sessions**: this repository's `wrangler.toml`, unchanged, with local D1, R2 and Durable
  Object state; beside it in the same process, and so sharing that D1 and R2, the example
  consumer Worker (examples/consumer-worker, JavaScript), the example Python Worker
  (examples/python-rpc-worker, over its service binding), a Python Worker using this package's
  AsyncClient (tests/workerd/pyclient) and the tests' driver (tests/workerd/driver);
- **door**: the tests' way in to the driver (wrangler exposes only a process's first Worker
  over HTTP; the others are reached through the driver's bindings).

Every process's log is kept, and `new_problems` reads what it printed since a mark: a test
asserts that workerd logged no error and no warning.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import Message
from pathlib import Path
from typing import Any

from agent_sessions.mirror.shards import ShardMap

from ..conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts" / "workerd"))
import env as workerd_env
from shard_config import with_shards
from wrangler_dev import WRANGLER, StartFailed, Wrangler, free_port

__all__ = ["StartFailed", "Wrangler", "free_port", "workerd_env"]

HERE = Path(__file__).resolve().parent
EXAMPLE = ROOT / "examples" / "python-rpc-worker"
PYCLIENT = HERE / "pyclient"
TOKEN = "workerd-tier-token-0123456789"
READ_ONLY_TOKEN = "workerd-tier-token-read-only-01"
OTHER_TENANT_TOKEN = "workerd-tier-token-other-tenant"
TOKENS = f"{TOKEN}=default,{READ_ONLY_TOKEN}=default:ro,{OTHER_TENANT_TOKEN}=acme"
START_TIMEOUT_S = 120


def request(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    raw: bytes | None = None,
    timeout: float = 60,
) -> tuple[int, Message, bytes]:
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    sent = {"content-type": "application/json"} | dict(headers or {})
    req = urllib.request.Request(base + path, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def decoded(body: bytes) -> Any:
    return json.loads(body) if body else None


class Stack:
    """The processes of the module docstring, and the calls tests make through them."""

    def __init__(
        self,
        state: Path,
        variables: Mapping[str, str] | None = None,
        examples: bool = True,
        shards: Mapping[str, str] | None = None,
        config: str = "",
    ) -> None:
        """`variables` are the Worker's vars (`--var`); `examples`: run the example and
        client Workers beside it too. `shards`: the shard settings (D1_SHARDS, TENANT_SHARDS)
        for the Worker, the consumer and the driver, each given the D1 bindings they name:
        their configs are copies of the real ones with those bindings added (`with_shards`).
        The Worker's copy sits beside wrangler.toml (wrangler looks for python_modules/ next
        to the config), under a name .gitignore holds, while the stack runs. `config`: more
        of the Worker's configuration (bindings), added to such a copy."""
        state.mkdir(parents=True, exist_ok=True)
        self.state = state
        self.shard_settings = dict(shards or {})
        self.bindings: tuple[str, ...] = tuple(
            json.loads(self.shard_settings.get("D1_SHARDS") or '["DB"]')
        )
        self.overlays: list[Path] = []
        self.env = {
            **os.environ,
            **workerd_env.environment(registry=state / "registry"),
            "CI": "true",
            "NO_COLOR": "1",
            # wrangler's local observability keeps a span of every SQL statement in a trace
            # store inside the same workerd: a cost production does not have.
            "X_LOCAL_OBSERVABILITY": "false",
        }
        configs = [ROOT / "wrangler.toml", ROOT / "examples" / "consumer-worker" / "wrangler.toml"]
        driver = HERE / "driver" / "wrangler.toml"
        if len(self.bindings) > 1 or config:
            worker = ROOT / f".wrangler-test-{state.name}.toml"
            configs[0] = self._overlay(configs[0], worker, more=config)
            configs[1] = self._overlay(configs[1], state / "consumer.toml", "src/index.js")
            driver = self._overlay(driver, state / "driver.toml", "driver.js")
        self.config = configs[0]
        if examples:
            configs += [EXAMPLE / "wrangler.toml", PYCLIENT / "wrangler.toml"]
        self.sessions = Wrangler(
            "sessions",
            [*configs, driver],
            ROOT,
            state / "sessions-state",
            self.env,
            variables={"AGENT_SESSIONS_TOKENS": TOKENS, **(variables or {})},
        )
        self.door = Wrangler(
            "door", [HERE / "door" / "wrangler.toml"], HERE / "door", state / "door-state", self.env
        )
        self.examples = examples
        self.processes = (self.sessions, self.door)
        self.last_headers = Message()
        """The headers of the last answer `http` or `worker_call` had."""

    def _overlay(self, config: Path, to: Path, main: str | None = None, more: str = "") -> Path:
        """`config` with the stack's shards (and `more`), at `to`; `main`: made absolute, for
        a copy that is not beside its Worker's code."""
        text = with_shards(config, self.bindings, self.shard_settings) + more
        if main is not None:
            text = text.replace(
                f'main = "{main}"', f"main = {json.dumps(str(config.parent / main))}"
            )
        to.write_text(text)
        self.overlays.append(to)
        return to

    def start(self) -> None:
        """Start all processes, while D1's migrations are applied: the Workers open D1 only
        when a test first uses it, after `start` returns."""
        if self.examples:
            self.vendor_client_worker()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            migrated = pool.submit(self.migrate)
            self.sessions.start()
            deadline = time.monotonic() + START_TIMEOUT_S
            try:
                migrated.result()
                self.sessions.wait_ready(deadline)
                # The door only once the Workers it reaches are up: connecting to a process
                # still starting breaks the first dev-registry connection (workerd warns).
                self.door.start()
                self.door.wait_ready(deadline)
                self._wait_connected(deadline)
            except BaseException:
                self.stop()
                raise

    @staticmethod
    def vendor_client_worker() -> None:
        """The client Worker's python_modules: the Worker's own vendored packages plus this
        package, copied fresh (wrangler does not follow a symlinked package)."""
        modules = PYCLIENT / "python_modules"
        shutil.rmtree(modules, ignore_errors=True)
        shutil.copytree(ROOT / "python_modules", modules, symlinks=True)
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
        shutil.copytree(ROOT / "src" / "agent_sessions", modules / "agent_sessions", ignore=ignore)

    def migrate(self) -> None:
        """D1's tables, as a user creates them: `wrangler d1 migrations apply --local`."""
        for binding in self.bindings:
            command = [str(WRANGLER), "d1", "migrations", "apply", binding, "--local"]
            command += ["-c", str(self.config), "--persist-to", str(self.sessions.state)]
            done = subprocess.run(
                command, cwd=ROOT, env=self.env, capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                raise StartFailed(
                    f"wrangler d1 migrations apply {binding} failed:\n{done.stdout}{done.stderr}"
                )

    def _wait_connected(self, deadline: float) -> None:
        """The dev registry links the processes a moment after each is ready."""
        while True:
            try:
                answer = self.rpc("GATEWAY", "get_session", "default", "readiness-probe")
                if answer["error"]["code"] == "not_found":
                    return
            except (OSError, AssertionError):
                pass
            if time.monotonic() > deadline:
                raise StartFailed(f"the processes did not connect:\n{self.problems_report()}")
            time.sleep(0.2)

    def stop(self) -> None:
        with concurrent.futures.ThreadPoolExecutor() as pool:
            list(pool.map(lambda p: p.stop(), self.processes))
        for overlay in self.overlays:
            overlay.unlink(missing_ok=True)

    # -- what a test sees through the stack ------------------------------------------------

    def marks(self) -> dict[str, int]:
        return {p.name: p.mark() for p in self.processes}

    def new_problems(self, marks: Mapping[str, int]) -> list[str]:
        return [
            f"{p.name}: {line}" for p in self.processes for line in p.new_problems(marks[p.name])
        ]

    def problems_report(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log()[-4000:]}" for p in self.processes)

    def http(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = TOKEN,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        """The gateway over HTTP, as a client on the internet calls it (the answer's headers:
        `last_headers`)."""
        sent = dict(headers or {})
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        status, got, data = request(self.sessions.base, method, path, body, sent, raw)
        self.last_headers = got
        kind = got.get("content-type", "")
        if "ndjson" in kind:
            return status, [json.loads(line) for line in data.decode().splitlines()]
        return status, decoded(data) if "json" in kind else data

    def _driver(self, path: str, body: Any) -> Any:
        status, _, data = request(self.door.base, "POST", path, body)
        assert status == 200, (status, data[:2000])
        answer = decoded(data)
        if "thrown" in answer:
            raise AssertionError(f"the call threw in the calling Worker: {answer['thrown']}")
        return answer["value"]

    def rpc(self, binding: str, method: str, *args: Any) -> Any:
        """A method of a service binding, called from another Worker (the driver)."""
        return self._driver(f"/rpc/{binding}/{method}", list(args))

    def do(self, name: str, method: str, *args: Any) -> Any:
        """A method of the Durable Object named `name`, through a namespace binding."""
        return self._driver(f"/do/{urllib.request.quote(name)}/{method}", list(args))

    def shard_of(self, tenant: str) -> str:
        """The D1 binding holding the tenant's rows in this stack."""
        settings = self.shard_settings
        shards = ShardMap.from_settings(settings.get("D1_SHARDS"), settings.get("TENANT_SHARDS"))
        return shards.place(tenant).read

    def d1(self, sql: str, *params: Any, binding: str = "DB") -> list[dict[str, Any]]:
        """Rows of a local D1 database the Worker mirrors into (`DB`, or another shard)."""
        return self._driver("/d1", {"sql": sql, "params": list(params), "binding": binding})

    def r2(self, key: str) -> bytes | None:
        status, _, data = request(self.door.base, "GET", f"/r2/{key}")
        return None if status == 404 else data

    def worker_call(
        self,
        binding: str,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """HTTP to one of the Workers beside ours, through the driver's service binding, with
        `headers` of the test's own (the answer's: `last_headers`)."""
        sent = dict(headers or {}) | ({} if token is None else {"authorization": f"Bearer {token}"})
        status, got, data = request(self.door.base, method, f"/fetch/{binding}{path}", body, sent)
        self.last_headers = got
        return status, decoded(data)

    def wait_for(self, what: str, check: Any, timeout: float = 20) -> Any:
        """Poll `check()` until it returns something truthy (real alarms take real time)."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.1)

    def object_rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """A read-only query over every Durable Object's own SQLite file, where workerd keeps
        them locally: the raw view of what the objects hold."""
        rows: list[tuple[Any, ...]] = []
        for path in (self.sessions.state / "v3" / "do").glob("agent-sessions-*/*.sqlite"):
            if path.name == "metadata.sqlite":  # workerd's own: the objects' alarms
                continue
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                rows += conn.execute(sql, params).fetchall()
        return rows
