"""The real wrangler CLI, offline: config and bundle validation, and local D1 migrations."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine.ddl import MIGRATIONS

from .conftest import ROOT, run_tool
from .test_schema import SHARED, describe, do_side, layout

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


class LocalD1:
    """A project copy whose local D1 (in `state`) wrangler has migrated."""

    def __init__(self, tmp_path: Path) -> None:
        self.project = tmp_path / "project"
        self.project.mkdir()
        for name in ("wrangler.toml", "migrations", "src"):
            source = ROOT / name
            target = self.project / name
            (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
        self.state = tmp_path / "state"
        self.applied = self.wrangler("d1", "migrations", "apply", "DB", "--local")

    def wrangler(self, *args: str) -> str:
        return wrangler(*args, "--persist-to", str(self.state), cwd=self.project)

    def query(self, sql: str) -> list[dict]:
        args = ("d1", "execute", "DB", "--local", "--json", "--command", sql)
        return json.loads(self.wrangler(*args))[0]["results"]

    def database(self) -> Path:
        """The SQLite file behind it (wrangler's local D1 is one per database)."""
        (found,) = (self.state / "v3" / "d1").glob("miniflare-D1DatabaseObject/[0-9a-f]*.sqlite")
        return found


@pytest.fixture(scope="module")
def local_d1(tmp_path_factory: pytest.TempPathFactory) -> LocalD1:
    return LocalD1(tmp_path_factory.mktemp("d1"))


def test_local_d1_migrations_create_the_shared_tables(local_d1: LocalD1) -> None:
    """Apply migrations/ with wrangler to a local D1, then query it through wrangler."""
    query = local_d1.query
    names = {r["name"] for r in query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(SHARED) <= names
    do = do_side()
    for table in SHARED:
        in_d1 = [
            (r["name"], r["type"], r["notnull"], r["dflt_value"], r["pk"])
            for r in query(f"SELECT * FROM pragma_table_info('{table}') ORDER BY cid")
        ]
        assert in_d1 == describe(do, table)[:-1], table


def copy_database(source: Path, target: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")
    return target


def test_wrangler_and_the_local_d1_file_agree_on_what_is_applied(
    local_d1: LocalD1, tmp_path: Path
) -> None:
    """wrangler's local D1 holds exactly schema.sql's shared and D1 layout (its "do" migration
    ran nothing there) and records the migrations as the local D1 file does. Each opens the
    other's file with nothing left to apply."""
    theirs = sqlite3.connect(copy_database(local_d1.database(), tmp_path / "theirs.sqlite"))
    ours = SqliteMirror(tmp_path / "ours.sqlite")
    assert layout(theirs) == layout(ours.sql.connection)
    recorded = "SELECT id, name FROM d1_migrations ORDER BY id"
    assert theirs.execute(recorded).fetchall() == ours.sql.connection.execute(recorded).fetchall()
    assert [r[1] for r in theirs.execute(recorded)] == [m[1] for m in MIGRATIONS]
    bookkeeping = "SELECT sql FROM sqlite_master WHERE name = 'd1_migrations'"
    assert (
        theirs.execute(bookkeeping).fetchall()
        == ours.sql.connection.execute(bookkeeping).fetchall()
    )
    before = layout(theirs), theirs.execute("SELECT * FROM d1_migrations").fetchall()
    theirs.close()
    opened = SqliteMirror(tmp_path / "theirs.sqlite")
    after = opened.sql.connection
    assert (layout(after), after.execute("SELECT * FROM d1_migrations").fetchall()) == before
    opened.close()
    ours.close()
    target = local_d1.database()
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "ours.sqlite", target)
    again = local_d1.wrangler("d1", "migrations", "apply", "DB", "--local")
    assert "No migrations to apply" in again, again


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
