"""schema.sql is the one layout: the DO side and the D1 side must agree on the shared tables."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from agent_sessions.adapters.sqlite import SqliteSql
from agent_sessions.engine.schema import ensure_schema

from .conftest import ROOT

SHARED = ("sessions", "session_entries")
DO_ONLY = ("store_meta", "mirror_outbox", "mirror_state", "session_writers")


def describe(conn: sqlite3.Connection, table: str) -> list[tuple]:
    """Columns as (name, type, not null, default, position in the primary key), in order,
    plus the table's unique constraints."""
    columns = [tuple(r[1:]) for r in conn.execute(f"PRAGMA table_info({table})")]
    uniques = sorted(
        tuple(c[2] for c in conn.execute(f"PRAGMA index_info({idx[1]})"))
        for idx in conn.execute(f"PRAGMA index_list({table})")
        if idx[3] == "u"
    )
    return [*columns, ("unique", uniques)]


def do_side() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    ensure_schema(SqliteSql(conn))
    return conn


def d1_side() -> sqlite3.Connection:
    """D1's tables as wrangler builds them: every migration, in file-name order."""
    conn = sqlite3.connect(":memory:")
    for migration in sorted((ROOT / "migrations").glob("*.sql")):
        conn.executescript(migration.read_text())
    return conn


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def indexes(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    return {r[0] for r in rows}


def test_shared_tables_have_identical_columns() -> None:
    do, d1 = do_side(), d1_side()
    for table in SHARED:
        assert describe(do, table) == describe(d1, table), table
    assert len(describe(do, "sessions")) > 20, "the comparison must see real columns"


def test_do_only_and_d1_only_parts_stay_apart() -> None:
    do, d1 = do_side(), d1_side()
    assert set(DO_ONLY) <= tables(do)
    assert not set(DO_ONLY) & tables(d1)
    assert {"sessions_by_user", "sessions_by_updated", "entries_by_created"} <= indexes(d1)
    assert not indexes(do), "cross-session indexes would only slow a one-session DO down"


def test_generated_ddl_module_is_current() -> None:
    check = [sys.executable, str(ROOT / "scripts" / "sync_schema.py"), "--check"]
    result = subprocess.run(check, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_ensure_schema_runs_ddl_once(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    ensure_schema(SqliteSql(conn))
    warm = SqliteSql(conn)
    ensure_schema(warm)
    assert warm.statements == 2, "a warm start reads the digest and runs no DDL"
