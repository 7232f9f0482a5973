"""Bringing a database up to the current schema.

A Durable Object starts often, so the DDL runs only when the stored schema digest differs
from the code's (the idea of cloudflare/agents' `_ensureSchema`): a warm start costs two reads.
A store made by an older release is upgraded in place by schema.sql's upgrade sections, the
same statements D1 gets from migrations/; a new store gets the current tables directly.

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
    SCHEMA_DIGEST,
    SCHEMA_VERSION,
    SHARED_STATEMENTS,
    UPGRADES,
)
from .errors import SchemaTooNew
from .ports import SqlPort

_DIGEST_KEY = "schema_digest"
_VERSION_KEY = "schema_version"
_REACHED_KEY = "schema_version_reached"


def _has_column(sql: SqlPort, table: str, column: str) -> bool:
    """Whether the table's stored definition has the column (an ADD COLUMN rewrites it)."""
    rows = sql.execute(q.TABLE_DEFINITION, (table,))
    return bool(rows) and re.search(rf"[(,]\s*{re.escape(column)}\s", rows[0]["sql"]) is not None


def _upgrade(sql: SqlPort, version: int, scope: str) -> None:
    """Run the upgrades above `version` (the layout an existing store has) that apply to this
    kind of store ("do" or "d1"), skipping any whose columns the store already has."""
    for target, applies_to, statements, added in UPGRADES:
        if target <= version or applies_to not in ("all", scope):
            continue
        if any(_has_column(sql, table, column) for table, column in added):
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
        for statement in SHARED_STATEMENTS + DO_STATEMENTS:
            sql.execute(statement)
        for key, value in (
            (_VERSION_KEY, str(SCHEMA_VERSION)),
            (_REACHED_KEY, str(SCHEMA_VERSION)),
            (_DIGEST_KEY, SCHEMA_DIGEST),
        ):
            sql.execute(q.UPSERT_META, (key, value))

    sql.transaction(create)


def ensure_mirror_schema(sql: SqlPort) -> None:
    """Create or upgrade D1's tables and indexes in a local SQLite file standing in for D1.
    The file records its version in SQLite's user_version (0 in files of version 1)."""
    existing = None
    if sql.execute(q.TABLE_EXISTS, ("sessions",)):
        existing = max(1, int(sql.execute(q.SELECT_USER_VERSION)[0]["user_version"]))
        _refuse_newer(existing, "the local D1 file")

    def create() -> None:
        if existing is not None:
            _upgrade(sql, existing, "d1")
        for statement in SHARED_STATEMENTS + D1_STATEMENTS:
            sql.execute(statement)
        sql.execute(q.SET_USER_VERSION)

    sql.transaction(create)
