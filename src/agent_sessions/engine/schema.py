"""Bringing a database up to the current schema.

A Durable Object starts often, so the DDL runs only when the stored schema digest differs
from the code's (the idea of cloudflare/agents' `_ensureSchema`): a warm start costs two reads.
"""

from __future__ import annotations

from . import statements as q
from .ddl import D1_STATEMENTS, DO_STATEMENTS, SCHEMA_DIGEST, SHARED_STATEMENTS
from .ports import SqlPort

_DIGEST_KEY = "schema_digest"


def ensure_schema(sql: SqlPort) -> None:
    """Create the shared and DO-only tables of a session store, if not already current."""
    if sql.execute(q.TABLE_EXISTS, ("store_meta",)):
        rows = sql.execute(q.SELECT_META, (_DIGEST_KEY,))
        if rows and rows[0]["value"] == SCHEMA_DIGEST:
            return

    def create() -> None:
        for statement in SHARED_STATEMENTS + DO_STATEMENTS:
            sql.execute(statement)
        sql.execute(q.UPSERT_META, (_DIGEST_KEY, SCHEMA_DIGEST))

    sql.transaction(create)


def ensure_mirror_schema(sql: SqlPort) -> None:
    """Create D1's tables and indexes in a local SQLite file standing in for D1."""

    def create() -> None:
        for statement in SHARED_STATEMENTS + D1_STATEMENTS:
            sql.execute(statement)

    sql.transaction(create)
