"""The real wrangler CLI, offline: config and bundle validation, and local D1 migrations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import ROOT, run_tool
from .test_schema import SHARED, describe, do_side

pytestmark = pytest.mark.wrangler

WRANGLER = ROOT / "node_modules" / ".bin" / "wrangler"


def wrangler(*args: str, cwd: Path = ROOT) -> str:
    if not WRANGLER.exists():
        pytest.fail("wrangler is not installed: run scripts/test, which runs npm ci")
    return run_tool([str(WRANGLER), *args], cwd=cwd)


def test_deploy_dry_run_bundles_the_worker(tmp_path: Path) -> None:
    if not (ROOT / "python_modules" / "workers").is_dir():
        pytest.fail("python_modules/ is missing: run scripts/vendor_worker.py (scripts/test does)")
    out = tmp_path / "dist"
    output = wrangler("deploy", "--dry-run", "--outdir", str(out))
    assert "env.SESSIONS (SessionObject)" in output
    assert "env.DB (agent-sessions)" in output
    assert "env.ARCHIVE (agent-sessions-archive)" in output
    bundled = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert "entry.py" in bundled
    assert "agent_sessions/engine/sessions.py" in bundled
    assert "agent_sessions/worker/session_object.py" in bundled
    assert "python_modules/workers/entrypoints.py" in bundled, "the vendored runtime SDK"
    assert any(p.startswith("python_modules/pydantic_core/") and "wasm32" in p for p in bundled), (
        "pydantic-core must be the WebAssembly build"
    )


def test_local_d1_migrations_create_the_shared_tables(tmp_path: Path) -> None:
    """Apply migrations/ with wrangler to a local D1, then query it through wrangler."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("wrangler.toml", "migrations", "src"):
        source = ROOT / name
        target = project / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    state = tmp_path / "state"
    wrangler("d1", "migrations", "apply", "DB", "--local", "--persist-to", str(state), cwd=project)

    def query(sql: str) -> list[dict]:
        args = ("d1", "execute", "DB", "--local", "--persist-to", str(state), "--json")
        return json.loads(wrangler(*args, "--command", sql, cwd=project))[0]["results"]

    names = {r["name"] for r in query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(SHARED) <= names
    do = do_side()
    for table in SHARED:
        in_d1 = [
            (r["name"], r["type"], r["notnull"], r["dflt_value"], r["pk"])
            for r in query(f"SELECT * FROM pragma_table_info('{table}') ORDER BY cid")
        ]
        assert in_d1 == describe(do, table)[:-1], table


def test_consumer_example_worker_bundles(tmp_path: Path) -> None:
    """examples/consumer-worker: its own wrangler.toml, binding the same D1 database."""
    example = ROOT / "examples" / "consumer-worker"
    output = wrangler("deploy", "--dry-run", "--outdir", str(tmp_path / "dist"), cwd=example)
    assert "env.DB (agent-sessions)" in output
    ours = (ROOT / "wrangler.toml").read_text()
    theirs = (example / "wrangler.toml").read_text()
    database_id = next(line for line in ours.splitlines() if line.startswith("database_id"))
    assert database_id in theirs, "the consumer must bind the same D1 database"


def test_python_rpc_example_worker_bundles(tmp_path: Path) -> None:
    """examples/python-rpc-worker: its own wrangler.toml, a service binding to agent-sessions
    (its code runs in the Pyodide tier: python_worker_calls_through_a_service_binding)."""
    example = ROOT / "examples" / "python-rpc-worker"
    output = wrangler("deploy", "--dry-run", "--outdir", str(tmp_path / "dist"), cwd=example)
    assert "env.SESSIONS (agent-sessions)" in output
    assert "Worker" in output
    ours = (ROOT / "wrangler.toml").read_text()
    assert 'name = "agent-sessions"' in ours, "the binding names this Worker's service"
