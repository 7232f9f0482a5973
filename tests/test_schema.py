"""schema.sql is the current layout and migrations/ the one source of upgrades: every store,
new or upgraded from any older version, ends with the layout schema.sql gives, and the DO side
and the D1 side agree on the shared tables."""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent_sessions.adapters.durable_object import DurableObjectSql
from agent_sessions.adapters.sqlite import SqliteSql
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine import SessionEngine, SessionKey
from agent_sessions.engine import statements as q
from agent_sessions.engine.ddl import (
    DO_STATEMENTS,
    MIGRATIONS,
    SCHEMA_DIGEST,
    SCHEMA_VERSION,
    SHARED_STATEMENTS,
)
from agent_sessions.engine.errors import SchemaTooNew
from agent_sessions.engine.schema import ensure_schema

from .conftest import ROOT
from .doubles import FakeDurableObjectStorage

sys.path.insert(0, str(ROOT / "scripts"))
import sync_schema
from sync_schema import canonical, read_migration, read_migrations, render, statements

SHARED = ("sessions", "session_entries")
DO_ONLY = ("store_meta", "mirror_outbox", "mirror_state", "session_writers", "evicted_sessions")


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


BOOKKEEPING = ("d1_migrations", "sqlite_sequence")
"""Tables that record what was applied, not what the layout holds: wrangler's, and SQLite's
(for AUTOINCREMENT)."""


def layout(conn: sqlite3.Connection) -> dict[str, tuple]:
    """Every table, index and trigger but the bookkeeping: a table's columns, keys, unique
    constraints, STRICT and AUTOINCREMENT (an ALTER TABLE rewrites a table's stored text, so
    that text is not compared); an index's or trigger's statement, normalised."""
    found: dict[str, tuple] = {}
    for kind, name, table, sql in conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master"
    ).fetchall():
        if table in BOOKKEEPING:
            continue
        if kind == "table":
            strict = conn.execute("SELECT strict FROM pragma_table_list WHERE name = ?", (name,))
            flags = (strict.fetchone()[0], "AUTOINCREMENT" in sql.upper(), "VIRTUAL" in sql.upper())
            found[name] = (kind, table, describe(conn, name), flags)
        else:
            found[name] = (kind, table, sql and canonical(sql))
    return found


def schema_sql_side(path: Path) -> sqlite3.Connection:
    """A database made by `sqlite3 db < schema.sql`: the real CLI when it is installed."""
    cli = shutil.which("sqlite3")
    if cli:
        with (ROOT / "schema.sql").open() as script:
            subprocess.run([cli, "-bail", str(path)], stdin=script, check=True, timeout=30)
    else:
        sqlite3.connect(path).executescript((ROOT / "schema.sql").read_text())
    return sqlite3.connect(path)


def local_d1_side() -> sqlite3.Connection:
    """A new local D1 file (local mode's data/d1.sqlite)."""
    return SqliteMirror(":memory:").sql.connection


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


def test_a_new_durable_object_gets_its_layout_in_one_call() -> None:
    """Every new session is a new Durable Object: its tables are made by one `exec` of the
    whole layout (a crossing into JavaScript each), not one per statement."""
    storage = FakeDurableObjectStorage()
    ensure_schema(DurableObjectSql(storage))
    layout = len(SHARED_STATEMENTS + DO_STATEMENTS)
    assert storage.sql.statements >= layout + 1
    assert storage.sql.calls <= storage.sql.statements - layout + 1
    tables = {r[0] for r in storage.conn.execute("SELECT name FROM sqlite_master")}
    assert {"sessions", "session_entries", "mirror_outbox", "store_meta"} <= tables


RELEASE_4_OUTBOX = (
    "CREATE TABLE mirror_outbox ( id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, "
    "session_id TEXT NOT NULL, op TEXT NOT NULL, version INTEGER NOT NULL, seq_from INTEGER, "
    "seq_to INTEGER, created_at INTEGER NOT NULL ) STRICT"
)
"""The outbox as releases up to 4 made it: ids reusable once the outbox empties."""
RELEASE_1_DO_TABLES = (
    "CREATE TABLE store_meta ( key TEXT PRIMARY KEY, value TEXT NOT NULL ) STRICT",
    RELEASE_4_OUTBOX,
)
"""The Durable Object's own tables as release 1 made them (schema.sql at 41a6406). The later
ones (session_writers, mirror_state, archived_sessions, renamed evicted_sessions by 0006) came
without a new version: a table
only session stores hold needs no migration, the layout's CREATE ... IF NOT EXISTS makes it."""


RELEASE_8_MIRROR_STATE = (
    "CREATE TABLE mirror_state ( id INTEGER PRIMARY KEY CHECK (id = 1), attempts INTEGER NOT "
    "NULL DEFAULT 0, last_error TEXT, last_attempt_at INTEGER, last_success_at INTEGER, "
    "next_attempt_at INTEGER, delivered INTEGER NOT NULL DEFAULT 0 ) STRICT"
)
"""The drain's state as releases up to 8 made it, before it counted D1's batches (0009)."""


def test_the_drains_state_gains_its_counts_and_keeps_its_row(tmp_path: Path) -> None:
    """A store of release 8 has mirror_state without the counts: 0009 adds them (0 so far)
    and keeps what it held; a store without the table gets it whole from the layout."""
    conn = store_at(tmp_path / "old.sqlite", 8)
    conn.execute(RELEASE_8_MIRROR_STATE)
    conn.execute("INSERT INTO mirror_state (id, delivered) VALUES (1, 41)")
    ensure_schema(SqliteSql(conn))
    row = conn.execute("SELECT delivered, batches, statements FROM mirror_state").fetchone()
    assert row == (41, 0, 0)
    assert layout(conn) == layout(do_side())


def store_at(path: Path, version: int) -> sqlite3.Connection:
    """A session store as the release of `version` left it, from the migrations' history:
    release 1's tables (migrations/0001's two shared tables, without D1's indexes, and
    RELEASE_1_DO_TABLES), then every later "shared" and "do" migration up to `version`, stamped
    as that release stamped it, with a session row and pending mirror work in it. A migration
    adding columns to a table release 1 did not have is left to the layout, as the engine
    leaves it (RELEASE_8_MIRROR_STATE's test has such a table)."""
    conn = sqlite3.connect(path, isolation_level=None)
    initial = [s for s in MIGRATIONS[0][3] if s.startswith("CREATE TABLE")]
    for statement in (*initial, *RELEASE_1_DO_TABLES):
        conn.execute(statement)
    for _number, _name, scope, upgrade, added in MIGRATIONS[1:version]:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if scope != "d1" and all(table in tables for table, column in added if column):
            for statement in upgrade:
                conn.execute(statement)
    stamp = {"schema_digest": f"of release {version}"}
    if version > 1:  # version 1 did not record itself
        stamp["schema_version"] = str(version)
    if version >= 5:  # the high-water mark came with release 5
        stamp["schema_version_reached"] = str(version)
    conn.executemany("INSERT INTO store_meta VALUES (?, ?)", stamp.items())
    conn.execute(
        "INSERT INTO sessions (tenant_id, id, created_at, updated_at, version) "
        "VALUES ('t', 's', 1000, 2000, 3)"
    )
    conn.execute(
        "INSERT INTO mirror_outbox (tenant_id, session_id, op, version, created_at) "
        "VALUES ('t', 's', 'upsert_session', 3, 2000)"
    )
    return conn


def version_1_store(path: Path) -> sqlite3.Connection:
    """A session store as release 1 left it: no recorded version, and a session row in it."""
    return store_at(path, 1)


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


def test_schema_sql_runs_as_is_and_is_what_new_stores_get(tmp_path: Path) -> None:
    """`sqlite3 db < schema.sql` succeeds, and gives exactly the tables, indexes and triggers
    of a new session store (shared and DO sections) and of a new local D1 file (shared and D1
    sections), nothing else."""
    whole = layout(schema_sql_side(tmp_path / "schema.sqlite"))
    do, d1 = layout(do_side()), layout(local_d1_side())
    assert {name: whole[name] for name in do} == do
    assert {name: whole[name] for name in d1} == d1
    assert set(whole) == set(do) | set(d1)
    assert {"sessions", "mirror_outbox", "entries_fts", "entries_fts_insert"} <= set(whole)


def test_migrations_give_d1_the_layout_of_schema_sql() -> None:
    """wrangler's way (every file of migrations/, in order, on an empty database) gives D1 the
    shared and D1 sections of schema.sql, indexes and triggers included."""
    new = sqlite3.connect(":memory:")
    for section in ("shared", "d1"):
        for statement in sync_schema.split_sections((ROOT / "schema.sql").read_text())[section]:
            new.execute(statement)
    assert layout(d1_side()) == layout(new) == layout(local_d1_side())


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION + 1))
def test_a_store_of_every_older_version_upgrades_to_the_new_layout(
    tmp_path: Path, version: int
) -> None:
    """From each version the migrations have had (and from the current one under an older
    digest, as after a release that changed only a DO-only table), a store ends with exactly
    the layout of a new one, its rows and pending mirror work kept."""
    conn = store_at(tmp_path / "old.sqlite", version)
    session = SessionEngine(SqliteSql(conn)).get_session(SessionKey("t", "s"))
    assert layout(conn) == layout(do_side())
    assert (session["version"], session["updated_at"]) == (3, 2000)
    if version == 1:
        assert session["status_changed_at"] == 2000, "backfilled from updated_at"
    assert outbox_ids(conn) == [1], "pending work is kept, with its id"
    assert stored(conn, "schema_version") == str(SCHEMA_VERSION)
    assert stored(conn, "schema_digest") == SCHEMA_DIGEST


def old_local_d1_file(path: Path, version: int, recorded_as: str) -> None:
    """A local D1 file at `version`: the migrations up to it applied as wrangler applies them,
    recorded in d1_migrations (as wrangler, and this release, record them) or in user_version
    (as releases up to 5 did; 0 in files of version 1)."""
    conn = sqlite3.connect(path)
    for migration in sorted((ROOT / "migrations").glob("*.sql"))[:version]:
        conn.executescript(migration.read_text())
    conn.execute(
        "INSERT INTO session_entries (tenant_id, session_id, seq, id, type, content, created_at) "
        "VALUES ('t', 's', 1, 'e1', 'message', 'written before search existed', 1)"
    )
    if recorded_as == "d1_migrations":
        conn.execute(q.CREATE_APPLIED_MIGRATIONS)
        conn.executemany(
            "INSERT INTO d1_migrations (name) VALUES (?)", [(m[1],) for m in MIGRATIONS[:version]]
        )
    elif version > 1:
        conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("recorded_as", ["d1_migrations", "user_version"])
@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION + 1))
def test_a_local_d1_file_of_every_older_version_upgrades_to_the_new_layout(
    tmp_path: Path, version: int, recorded_as: str
) -> None:
    path = tmp_path / "d1.sqlite"
    old_local_d1_file(path, version, recorded_as)
    conn = SqliteMirror(path).sql.connection
    assert layout(conn) == layout(local_d1_side())
    assert applied_migrations(conn) == applied_migrations(local_d1_side())
    assert applied_migrations(conn) == [m[1] for m in MIGRATIONS], "recorded as wrangler does"
    found = "SELECT rowid FROM entries_fts WHERE entries_fts MATCH 'search'"
    assert conn.execute(found).fetchall() == [(1,)], "the index holds the older rows"
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM d1_migrations ORDER BY id")]


def test_a_warm_local_d1_file_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "d1.sqlite"
    SqliteMirror(path).close()
    warm = SqliteMirror(path)
    assert warm.sql.statements == 4, "three reads, no DDL, no write"


def edited(text: str) -> str:
    """The same statements with comments added and whitespace changed everywhere."""
    lines = []
    for line in text.splitlines():
        if line.startswith("-- @section") or line.startswith("-- applies to:"):
            lines.append(line)
            continue
        spaced = line.replace(" (", "(").replace(", ", ",  ").replace("  ", "\t")
        lines.extend(["", "-- a new comment", f"  {spaced} -- and one after"])
    return "\n".join(lines) + "\n/* a closing remark; with a semicolon */\n"


def test_a_comment_or_whitespace_edit_does_not_change_the_digest() -> None:
    """Every Durable Object runs its set-up again when the digest changes: a comment must not
    make them."""
    schema = (ROOT / "schema.sql").read_text()
    migrations = read_migrations()
    touched = [
        read_migration(m.name, edited((ROOT / "migrations" / m.name).read_text()))
        for m in migrations
    ]
    assert f'SCHEMA_DIGEST = "{SCHEMA_DIGEST}"' in render(edited(schema), touched)
    assert edited(schema) != schema
    sqlite3.connect(":memory:").executescript(edited(schema))  # still the same valid SQL
    changed = schema.replace("DEFAULT 'active'", "DEFAULT 'idle'")
    assert f'SCHEMA_DIGEST = "{SCHEMA_DIGEST}"' not in render(changed, migrations)
    backfill = read_migration(
        "0006_x.sql", "-- applies to: shared\nUPDATE sessions SET title = '';"
    )
    assert SCHEMA_DIGEST not in render(schema, [*migrations, backfill]), "a new migration counts"


APPLIED = {
    "0001_initial.sql": "1f58baa7224fcb11",
    "0002_status_changed_at.sql": "2031af5cb435e804",
    "0003_archive_key.sql": "a2a01f64547e8fb2",
    "0004_search.sql": "30a3f8251bd57f33",
    "0005_outbox_ids.sql": "e3b0c44298fc1c14",
}
"""What each migration that production D1 databases have applied made D1 run (a digest of its
statements, normalised): frozen. A later change is a new numbered file."""


def test_applied_migrations_are_frozen() -> None:
    for name, wanted in APPLIED.items():
        run = statements((ROOT / "migrations" / name).read_text())
        found = hashlib.sha256("\n".join(map(canonical, run)).encode()).hexdigest()[:16]
        assert found == wanted, f"{name}: what D1 runs changed"


def test_d1_runs_nothing_of_a_do_migration() -> None:
    """wrangler applies every file of migrations/ to D1: a "do" migration's statements are in
    a comment, and D1 (here SQLite, as wrangler's local D1) runs none of them."""
    do_only = [m for m in read_migrations() if m.scope == "do"]
    assert do_only, "migration 0005 is one"
    for migration in do_only:
        conn = sqlite3.connect(":memory:")
        conn.executescript((ROOT / "migrations" / migration.name).read_text())
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
        assert migration.statements, "Durable Objects get its statements"


@pytest.mark.parametrize(
    ("name", "text", "refusal"),
    [
        ("0006_x.sql", "UPDATE sessions SET title = '';", "the first line"),
        ("0006_x.sql", "-- applies to: everywhere\nSELECT 1;", "the first line"),
        ("6_x.sql", "-- applies to: shared\nSELECT 1;", "not named"),
        ("0006_x.sql", "-- applies to: do\nDROP TABLE sessions;", "D1 would run"),
        ("0006_x.sql", "-- applies to: do\n-- nothing\n", "one '/* do:' block"),
        ("0006_x.sql", "-- applies to: shared\n/* do:\nSELECT 1;\n*/\nSELECT 1;", "block in"),
        ("0006_x.sql", "-- applies to: d1\n-- only words\n", "no statement"),
        ("0006_x.sql", "-- applies to: d1\nSELECT 'unterminated;", "unterminated"),
    ],
)
def test_a_migration_in_the_wrong_shape_is_refused(name: str, text: str, refusal: str) -> None:
    with pytest.raises(SystemExit, match=re.escape(refusal)):
        read_migration(name, text)


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


@pytest.mark.parametrize("recorded_as", ["user_version", "d1_migrations"])
def test_a_newer_local_mirror_file_is_refused_at_start(tmp_path: Path, recorded_as: str) -> None:
    """Whether a release up to 5 would see it (user_version) or wrangler and this release do
    (a migration in d1_migrations this release does not have)."""
    path = tmp_path / "d1.sqlite"
    SqliteMirror(path).close()
    conn = sqlite3.connect(path)
    newer = SCHEMA_VERSION + 1
    if recorded_as == "user_version":
        conn.execute(f"PRAGMA user_version = {newer}")
    else:
        conn.execute("INSERT INTO d1_migrations (name) VALUES (?)", (f"{newer:04}_later.sql",))
    conn.commit()
    everything = "SELECT * FROM sqlite_master ORDER BY name"
    before = conn.execute(everything).fetchall(), applied_migrations(conn)
    with pytest.raises(SchemaTooNew) as refused:
        SqliteMirror(path)
    assert f"schema version {newer}" in refused.value.message
    assert (conn.execute(everything).fetchall(), applied_migrations(conn)) == before


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
