"""Bringing a database up to the current schema.

A Durable Object starts often, so the DDL runs only when the stored schema digest differs
from the code's (the idea of cloudflare/agents' `_ensureSchema`): a warm start costs two reads.
A store made by an older release is upgraded in place by schema.sql's upgrade sections, the
same statements D1 gets from migrations/; a new store gets the current tables directly.
"""

from __future__ import annotations

from . import statements as q
from .ddl import (
    D1_STATEMENTS,
    DO_STATEMENTS,
    SCHEMA_DIGEST,
    SCHEMA_VERSION,
    SHARED_STATEMENTS,
    UPGRADES,
)
from .ports import SqlPort

_DIGEST_KEY = "schema_digest"
_VERSION_KEY = "schema_version"


def _upgrade(sql: SqlPort, version: int, *, d1: bool) -> None:
    """Run the upgrades above `version` (the layout an existing store has); upgrades for D1
    alone (search) only where `d1`."""
    for target, d1_only, statements in UPGRADES:
        if target > version and (d1 or not d1_only):
            for statement in statements:
                sql.execute(statement)


def ensure_schema(sql: SqlPort) -> None:
    """Create or upgrade the shared and DO-only tables of a session store."""
    existing = None
    if sql.execute(q.TABLE_EXISTS, ("store_meta",)):
        rows = sql.execute(q.SELECT_META, (_DIGEST_KEY,))
        if rows and rows[0]["value"] == SCHEMA_DIGEST:
            return
        rows = sql.execute(q.SELECT_META, (_VERSION_KEY,))
        existing = int(rows[0]["value"]) if rows else 1  # version 1 did not record itself

    def create() -> None:
        if existing is not None:
            _upgrade(sql, existing, d1=False)
        for statement in SHARED_STATEMENTS + DO_STATEMENTS:
            sql.execute(statement)
        sql.execute(q.UPSERT_META, (_VERSION_KEY, str(SCHEMA_VERSION)))
        sql.execute(q.UPSERT_META, (_DIGEST_KEY, SCHEMA_DIGEST))

    sql.transaction(create)


def ensure_mirror_schema(sql: SqlPort) -> None:
    """Create or upgrade D1's tables and indexes in a local SQLite file standing in for D1.
    The file records its version in SQLite's user_version (0 in files of version 1)."""
    existing = None
    if sql.execute(q.TABLE_EXISTS, ("sessions",)):
        existing = max(1, int(sql.execute(q.SELECT_USER_VERSION)[0]["user_version"]))

    def create() -> None:
        if existing is not None:
            _upgrade(sql, existing, d1=True)
        for statement in SHARED_STATEMENTS + D1_STATEMENTS:
            sql.execute(statement)
        sql.execute(q.SET_USER_VERSION)

    sql.transaction(create)
