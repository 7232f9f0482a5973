from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_sessions.adapters.durable_object import DurableObjectSql
from agent_sessions.adapters.runtime_values import DURABLE_OBJECT
from agent_sessions.engine import SessionEngine, SessionKey
from agent_sessions.engine.ports import SqlPort

ROOT = Path(__file__).resolve().parent.parent
IN_PYODIDE = sys.platform == "emscripten"
"""True when tests/runtime/harness.mjs runs this suite inside Pyodide."""

if not IN_PYODIDE:
    # Every Node tool the tests start (wrangler, vitest, tsc, the harnesses) runs on Node >= 22,
    # also when pytest is run by hand (scripts/test has it on PATH already).
    sys.path.insert(0, str(ROOT / "scripts" / "workerd"))
    import env as _workerd_env

    os.environ["PATH"] = _workerd_env.node_path()


def run_tool(
    command: list[str], cwd: Path = ROOT, timeout: int = 180, env: dict[str, str] | None = None
) -> str:
    """Run a real tool (node, wrangler) quietly; fail the test with its output if it fails."""
    env = {**os.environ, "WRANGLER_SEND_METRICS": "false", "CI": "true", "NO_COLOR": "1"} | (
        env or {}
    )
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return result.stdout


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires(*capabilities): skipped on the conformance paths that lack one "
        "(tests/conformance/paths.py)",
    )


class Clock:
    """A settable clock: tests decide what time it is."""

    def __init__(self, start: int = 1_750_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now


class Backend:
    """One way of running the engine, plus a raw view of the same database for assertions."""

    def __init__(self, name: str, sql: SqlPort, raw: Any) -> None:
        self.name = name
        self.sql = sql
        self.raw = raw


def _sqlite(path: Path) -> Backend:
    from agent_sessions.adapters.sqlite import SqliteSql, connect  # noqa: PLC0415

    conn = connect(path)
    return Backend("sqlite", SqliteSql(conn), conn)


def _sqlite_runtime_values(path: Path) -> Backend:
    from agent_sessions.adapters.sqlite import SqliteSql, connect  # noqa: PLC0415

    conn = connect(path)
    return Backend("sqlite+do-values", SqliteSql(conn, DURABLE_OBJECT), conn)


def _durable_object_adapter(path: Path) -> Backend:
    from .doubles import FakeDurableObjectStorage  # noqa: PLC0415

    storage = FakeDurableObjectStorage(str(path))
    return Backend("durable-object-adapter", DurableObjectSql(storage), storage.conn)


def _durable_object_in_pyodide(_: Path) -> Backend:
    from .runtime.pyodide_backend import durable_object_in_pyodide  # noqa: PLC0415

    sql, raw = durable_object_in_pyodide()
    return Backend("pyodide-durable-object", sql, raw)


BACKENDS: dict[str, Callable[[Path], Backend]] = (
    {"pyodide-durable-object": _durable_object_in_pyodide}
    if IN_PYODIDE
    else {
        "sqlite": _sqlite,
        "sqlite+do-values": _sqlite_runtime_values,
        "durable-object-adapter": _durable_object_adapter,
    }
)


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    made = BACKENDS[request.param](tmp_path / "session.sqlite")
    yield made
    made.raw.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(backend: Backend, clock: Clock) -> SessionEngine:
    return SessionEngine(backend.sql, clock)


@pytest.fixture
def key() -> SessionKey:
    return SessionKey("acme", "sess-1")


@pytest.fixture
def sid() -> str:
    """A session id no other test uses (the conformance suite's servers are shared)."""
    from .conformance.paths import new_id  # noqa: PLC0415

    return new_id()


@pytest.fixture(scope="module")
def local_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The local app without tokens (a TestClient), holding one session "s"; one per test
    module, as most of its users check refusals, which change nothing."""
    from fastapi.testclient import TestClient  # noqa: PLC0415 - not for the Pyodide tier

    from agent_sessions.local.server import local_app  # noqa: PLC0415

    app = local_app(tmp_path_factory.mktemp("local"), None)
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as made:
        made.post("/v1/sessions", json={"id": "s"})
        yield made
