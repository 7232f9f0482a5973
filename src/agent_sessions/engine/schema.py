"""Bringing a database up to the current schema.

A Durable Object starts often, so the DDL runs only when the stored schema digest differs
from the code's (the idea of cloudflare/agents' `_ensureSchema`): a warm start costs two reads.
The digest covers the statements, normalised, so editing a comment in schema.sql or a
migration does not make every object run its set-up again.

A new store gets the current layout (schema.sql) directly. A session store made by an older
release runs the migrations above its version that apply to it (migrations/, the one place an
upgrade is written: "shared" ones everywhere, "do" ones in session stores, "d1" ones in D1 and
the local D1 file), then the layout's CREATE ... IF NOT EXISTS, which makes the tables only
session stores hold. The local D1 file does as wrangler does with D1: it records applied
migrations in `d1_migrations` and runs those it lacks, so the two agree on what is applied.

The stored version never goes down, and a store newer than this release knows is refused
(nothing is changed): releases before 5 wrote their own version over a newer store's, and the
newer release then ran its upgrades again and failed on every request ("duplicate column").
So the highest version a store ever reached is also kept apart, where those releases do not
write, and an upgrade whose columns a store already has is skipped as applied.
"""

from __future__ import annotations

import re

from . import statements as q
from .ddl import (
    D1_STATEMENTS,
    DO_STATEMENTS,
    MIGRATIONS,
    SCHEMA_DIGEST,
    SCHEMA_VERSION,
    SHARED_STATEMENTS,
)
from .errors import SchemaTooNew
from .ports import SqlPort, run_all

_DIGEST_KEY = "schema_digest"
_VERSION_KEY = "schema_version"
_REACHED_KEY = "schema_version_reached"


def _has_column(sql: SqlPort, table: str, column: str) -> bool:
    """Whether the table's stored definition has the column (an ADD COLUMN rewrites it)."""
    rows = sql.execute(q.TABLE_DEFINITION, (table,))
    return bool(rows) and re.search(rf"[(,]\s*{re.escape(column)}\s", rows[0]["sql"]) is not None


def _already_applied(sql: SqlPort, added: tuple[tuple[str, str], ...]) -> bool:
    """Whether a store shows what a migration leaves, or needs nothing of it: a column it
    adds (or the table lacking altogether: the layout's CREATE after the upgrades makes it
    with every column), or (column "") the table it renames one into."""
    return any(
        _has_column(sql, table, column) or not sql.execute(q.TABLE_EXISTS, (table,))
        if column
        else bool(sql.execute(q.TABLE_EXISTS, (table,)))
        for table, column in added
    )


def _upgrade(sql: SqlPort, version: int, kind: str) -> None:
    """Run the migrations above `version` (the layout an existing store has) that apply to
    this kind of store ("do" or "d1"), skipping any the store shows it applied already."""
    for target, _name, scope, statements, added in MIGRATIONS:
        if target <= version or scope not in ("shared", kind) or _already_applied(sql, added):
            continue
        for statement in statements:
            sql.execute(statement)


def _refuse_newer(version: int, what: str) -> None:
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"{what} is at schema version {version}, made by a newer release of agent-sessions; "
            f"this release knows versions up to {SCHEMA_VERSION}. Run the newer release: "
            "nothing was changed",
            {"version": version, "known": SCHEMA_VERSION},
        )


def _stored_version(sql: SqlPort, key: str) -> int | None:
    rows = sql.execute(q.SELECT_META, (key,))
    return int(rows[0]["value"]) if rows else None


def ensure_schema(sql: SqlPort) -> None:
    """Create or upgrade the shared and DO-only tables of a session store."""
    existing = None
    if sql.execute(q.TABLE_EXISTS, ("store_meta",)):
        rows = sql.execute(q.SELECT_META, (_DIGEST_KEY,))
        if rows and rows[0]["value"] == SCHEMA_DIGEST:
            return
        existing = max(  # version 1 did not record itself
            _stored_version(sql, _VERSION_KEY) or 1, _stored_version(sql, _REACHED_KEY) or 1
        )
        _refuse_newer(existing, "this session store")

    def create() -> None:
        if existing is not None:
            _upgrade(sql, existing, "do")
        run_all(sql, SHARED_STATEMENTS + DO_STATEMENTS)
        for key, value in (
            (_VERSION_KEY, str(SCHEMA_VERSION)),
            (_REACHED_KEY, str(SCHEMA_VERSION)),
            (_DIGEST_KEY, SCHEMA_DIGEST),
        ):
            sql.execute(q.UPSERT_META, (key, value))

    sql.transaction(create)


def _number(name: str) -> int:
    """A migration's number, read from its name as wrangler reads it (0 for none)."""
    digits = name.split("_", 1)[0]
    return int(digits) if digits.isdigit() else 0


def ensure_mirror_schema(sql: SqlPort) -> None:
    """Create or upgrade D1's tables and indexes in a local SQLite file standing in for D1.

    Applied migrations are recorded as wrangler records them (`d1_migrations`: one row per
    file name, in order), and the migrations not recorded there run, in order, as
    `wrangler d1 migrations apply` would run them. A new file gets the current layout and
    every migration recorded. Files of earlier releases recorded only a version, in SQLite's
    user_version (0 in files of version 1): the migrations up to it count as applied. The
    user_version is still written, for those releases to refuse a newer file."""
    has_tables = bool(sql.execute(q.TABLE_EXISTS, ("sessions",)))
    recorded: list[str] = []
    if sql.execute(q.TABLE_EXISTS, ("d1_migrations",)):
        recorded = [row["name"] for row in sql.execute(q.SELECT_APPLIED_MIGRATIONS)]
    user_version = int(sql.execute(q.SELECT_USER_VERSION)[0]["user_version"])
    implied: list[str] = []
    if has_tables and not recorded:
        implied = [name for version, name, *_ in MIGRATIONS if version <= max(1, user_version)]
    _refuse_newer(max([user_version, *map(_number, recorded)]), "the local D1 file")
    applied = {*recorded, *implied}
    if (
        has_tables
        and user_version == SCHEMA_VERSION
        and set(recorded) >= {m[1] for m in MIGRATIONS}
    ):
        return

    def create() -> None:
        sql.execute(q.CREATE_APPLIED_MIGRATIONS)
        for name in implied:
            sql.execute(q.INSERT_APPLIED_MIGRATION, (name,))
        if not has_tables:
            for statement in SHARED_STATEMENTS + D1_STATEMENTS:
                sql.execute(statement)
        for _version, name, scope, statements, added in MIGRATIONS:
            if name in applied:
                continue
            if has_tables and scope != "do" and not _already_applied(sql, added):
                for statement in statements:
                    sql.execute(statement)
            sql.execute(q.INSERT_APPLIED_MIGRATION, (name,))
        sql.execute(q.SET_USER_VERSION)

    sql.transaction(create)
