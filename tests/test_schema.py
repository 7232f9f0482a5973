"""schema.sql is the one layout: the DO side and the D1 side must agree on the shared tables."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from agent_sessions.adapters.sqlite import SqliteSql
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine import SessionEngine, SessionKey
from agent_sessions.engine.ddl import DO_STATEMENTS, SCHEMA_VERSION, UPGRADES
from agent_sessions.engine.schema import ensure_schema

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from sync_schema import split_statements

SHARED = ("sessions", "session_entries")
DO_ONLY = ("store_meta", "mirror_outbox", "mirror_state", "session_writers", "archived_sessions")


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


def version_1_store(path: Path) -> sqlite3.Connection:
    """A session store as release 1 left it: migrations/0001's shared tables, the DO-only
    tables, no recorded version, and a session row in it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript((ROOT / "migrations" / "0001_initial.sql").read_text())
    for statement in DO_STATEMENTS:
        conn.execute(statement)
    conn.execute("INSERT INTO store_meta VALUES ('schema_digest', 'of release 1')")
    conn.execute(
        "INSERT INTO sessions (tenant_id, id, created_at, updated_at, version) "
        "VALUES ('t', 's', 1000, 2000, 3)"
    )
    return conn


def test_an_old_session_store_is_upgraded_in_place(tmp_path: Path) -> None:
    conn = version_1_store(tmp_path / "old.sqlite")
    assert "status_changed_at" not in {r[1] for r in conn.execute("PRAGMA table_info(sessions)")}
    engine = SessionEngine(SqliteSql(conn))
    session = engine.get_session(SessionKey("t", "s"))
    assert session["status_changed_at"] == 2000, "backfilled from updated_at"
    assert session["version"] == 3
    fresh = do_side()
    for table in (*SHARED, *DO_ONLY):
        assert describe(conn, table) == describe(fresh, table), table
    version = conn.execute("SELECT value FROM store_meta WHERE key = 'schema_version'")
    assert version.fetchone() == (str(SCHEMA_VERSION),)
    warm = SqliteSql(conn)
    ensure_schema(warm)
    assert warm.statements == 2, "upgraded once; the next start is warm"


def test_an_old_local_mirror_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "d1.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript((ROOT / "migrations" / "0001_initial.sql").read_text())
    conn.execute(
        "INSERT INTO session_entries (tenant_id, session_id, seq, id, type, content, created_at) "
        "VALUES ('t', 's', 1, 'e1', 'message', 'written before search existed', 1)"
    )
    conn.commit()
    conn.close()
    mirror = SqliteMirror(path)
    assert describe(mirror.sql.connection, "sessions") == describe(d1_side(), "sessions")
    found = "SELECT rowid FROM entries_fts WHERE entries_fts MATCH 'search'"
    assert mirror.sql.connection.execute(found).fetchall() == [(1,)], "the index was built"
    assert mirror.sql.connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    SqliteMirror(path)  # and again: nothing left to upgrade


def test_each_d1_migration_is_the_same_upgrade_a_durable_object_runs() -> None:
    """migrations/000N (D1, via wrangler) and schema.sql's "@upgrade N" (the DOs) must agree,
    or D1 and the DOs drift apart from the first upgrade on."""
    files = sorted((ROOT / "migrations").glob("*.sql"))
    assert [int(f.name[:4]) for f in files] == list(range(1, SCHEMA_VERSION + 1))
    for (version, _, statements), migration in zip(UPGRADES, files[1:], strict=True):
        assert int(migration.name[:4]) == version
        assert tuple(split_statements(migration.read_text())) == statements, migration.name
