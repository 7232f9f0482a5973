"""schema.sql is the one layout: the DO side and the D1 side must agree on the shared tables."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent_sessions.adapters.sqlite import SqliteSql
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine import SessionEngine, SessionKey
from agent_sessions.engine.ddl import DO_STATEMENTS, SCHEMA_VERSION, UPGRADES
from agent_sessions.engine.errors import SchemaTooNew
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
    or D1 and the DOs drift apart from the first upgrade on. An upgrade for Durable Objects
    only has a migration with no statement, which keeps the numbers in step."""
    files = sorted((ROOT / "migrations").glob("*.sql"))
    assert [int(f.name[:4]) for f in files] == list(range(1, SCHEMA_VERSION + 1))
    for (version, scope, statements, _), migration in zip(UPGRADES, files[1:], strict=True):
        assert int(migration.name[:4]) == version
        wanted = () if scope == "do" else statements
        assert tuple(split_statements(migration.read_text())) == wanted, migration.name


RELEASE_4_OUTBOX = (
    "CREATE TABLE mirror_outbox ( id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, "
    "session_id TEXT NOT NULL, op TEXT NOT NULL, version INTEGER NOT NULL, seq_from INTEGER, "
    "seq_to INTEGER, created_at INTEGER NOT NULL ) STRICT"
)
"""The outbox as releases up to 4 made it: ids reusable once the outbox empties."""


def stored(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM store_meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def roll_back(conn: sqlite3.Connection, version: int, *, only_older_releases: bool) -> None:
    """What an older release's ensure_schema did to a newer store: write its own version and
    digest over the newer ones (its CREATE ... IF NOT EXISTS changed nothing else).
    `only_older_releases`: no release with the version high-water mark ever opened it."""
    conn.execute("UPDATE store_meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    conn.execute("UPDATE store_meta SET value = 'older' WHERE key = 'schema_digest'")
    if only_older_releases:
        conn.execute("DELETE FROM store_meta WHERE key = 'schema_version_reached'")


def test_a_store_upgraded_again_after_a_rollback_keeps_working(tmp_path: Path) -> None:
    """A rollback wrote the older version back; the newer release then re-ran its ALTER
    TABLE ... ADD COLUMN, got "duplicate column", and every request to the store failed."""
    conn = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    engine = SessionEngine(SqliteSql(conn))
    key = SessionKey("t", "s")
    engine.create_session(key, {})
    engine.update_session(key, {"status": "completed"})
    changed_at = engine.get_session(key)["status_changed_at"]
    conn.execute("UPDATE sessions SET updated_at = updated_at + 1000")
    roll_back(conn, 1, only_older_releases=True)
    session = SessionEngine(SqliteSql(conn)).get_session(key)
    assert session["updated_at"] != changed_at
    assert session["status_changed_at"] == changed_at, (
        "an upgrade already applied is not applied again (its backfill would clobber this)"
    )
    assert stored(conn, "schema_version") == str(SCHEMA_VERSION)
    for table in (*SHARED, *DO_ONLY):
        assert describe(conn, table) == describe(do_side(), table), table


def test_an_older_release_refuses_a_newer_store_and_changes_nothing(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    SessionEngine(SqliteSql(conn)).create_session(SessionKey("t", "s"), {})
    newer = SCHEMA_VERSION + 1
    conn.execute("UPDATE store_meta SET value = ? WHERE key = 'schema_version'", (str(newer),))
    conn.execute("UPDATE store_meta SET value = 'newer' WHERE key = 'schema_digest'")
    tables = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    with pytest.raises(SchemaTooNew) as refused:
        SessionEngine(SqliteSql(conn))
    assert f"schema version {newer}" in refused.value.message
    assert (refused.value.status, refused.value.code) == (503, "schema_too_new")
    assert stored(conn, "schema_version") == str(newer), "the version never goes down"
    assert stored(conn, "schema_digest") == "newer"
    assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == tables


def test_the_highest_version_reached_outlives_an_older_release(tmp_path: Path) -> None:
    """Releases before this one write their own version back whatever the store holds; the
    highest version ever reached is kept apart, so the newer release does not redo its work."""
    conn = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    SessionEngine(SqliteSql(conn))
    roll_back(conn, SCHEMA_VERSION - 1, only_older_releases=False)
    conn.execute("CREATE TABLE mirror_outbox_next (id INTEGER)")  # would break a re-run
    SessionEngine(SqliteSql(conn))
    assert stored(conn, "schema_version") == str(SCHEMA_VERSION)


def test_a_newer_local_mirror_file_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "d1.sqlite"
    SqliteMirror(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew):
        SqliteMirror(path)


def outbox_ids(conn: sqlite3.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM mirror_outbox ORDER BY id")]


def test_outbox_ids_are_never_reused_after_the_outbox_empties(tmp_path: Path) -> None:
    """The acknowledgement deletes "id <= n": a reused id names work that was never sent."""
    conn = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    engine = SessionEngine(SqliteSql(conn))
    key = SessionKey("t", "s")
    engine.create_session(key, {})
    engine.append(key, [{"type": "message"}])
    first = outbox_ids(conn)
    conn.execute("DELETE FROM mirror_outbox WHERE id <= ?", (max(first),))  # acknowledged
    engine.append(key, [{"type": "message"}])
    assert min(outbox_ids(conn)) > max(first)


def test_a_release_4_outbox_is_rebuilt_with_its_pending_work(tmp_path: Path) -> None:
    conn = version_1_store(tmp_path / "old.sqlite")
    conn.execute("DROP TABLE mirror_outbox")
    conn.execute(RELEASE_4_OUTBOX)
    conn.execute(
        "INSERT INTO mirror_outbox (tenant_id, session_id, op, version, created_at) "
        "VALUES ('t', 's', 'upsert_session', 3, 2000)"
    )
    engine = SessionEngine(SqliteSql(conn))
    assert outbox_ids(conn) == [1], "pending work is kept, with its id"
    conn.execute("DELETE FROM mirror_outbox")
    engine.update_session(SessionKey("t", "s"), {"title": "x"})
    assert outbox_ids(conn) == [2]
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'mirror_outbox'").fetchone()
    assert "AUTOINCREMENT" in sql[0]


def test_a_session_file_of_a_newer_release_answers_503_saying_so(local_client: Any) -> None:
    """Over HTTP (and over RPC, as the Durable Object answers with the same error): the
    operation is refused with the reason, and the store keeps its newer version."""
    key = SessionKey("default", "newer")
    path = Path(local_client.app.state.store.path(key))
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    SessionEngine(SqliteSql(conn)).create_session(key, {})
    conn.execute("UPDATE store_meta SET value = '99' WHERE key = 'schema_version'")
    conn.execute("UPDATE store_meta SET value = 'newer' WHERE key = 'schema_digest'")
    answer = local_client.get("/v1/sessions/newer")
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "schema_too_new"
    assert "schema version 99" in answer.json()["error"]["message"]
    assert stored(conn, "schema_version") == "99"
