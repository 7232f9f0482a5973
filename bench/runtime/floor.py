"""The JavaScript floor's statements, taken from the engine itself (statements.py, ddl.py):
floor/floor.js receives them as its STATEMENTS variable, so the floor runs exactly what the
Worker's Durable Object runs for an append and its reads, and follows any change to them."""

from __future__ import annotations

import json

from agent_sessions.engine import ddl
from agent_sessions.engine import statements as q

CREATE_SESSION = (
    "INSERT INTO sessions (tenant_id, id, created_at, updated_at, version) VALUES (?, ?, ?, ?, 1)"
)
"""Setup only (never timed): the other columns take their defaults."""


def statements() -> dict[str, object]:
    return {
        "schema": [*ddl.SHARED_STATEMENTS, *ddl.DO_STATEMENTS],
        "create_session": CREATE_SESSION,
        "select_head": q.SELECT_HEAD,
        "insert_entries": [q.insert_entries(n) for n in range(1, q.ENTRY_ROWS_PER_INSERT + 1)],
        "entry_rows_per_insert": q.ENTRY_ROWS_PER_INSERT,
        "update_compacted": q.UPDATE_COMPACTED,
        "update_after_append": q.UPDATE_AFTER_APPEND,
        "insert_outbox": q.INSERT_OUTBOX,
        "select_session": q.SELECT_SESSION,
        "select_entries_asc": q.SELECT_ENTRIES_ASC,
        "select_entries_desc": q.SELECT_ENTRIES_DESC,
        "select_context": q.SELECT_CONTEXT,
        "update_leaf": q.UPDATE_LEAF,
    }


def variables() -> dict[str, str]:
    """`wrangler dev --var` for the floor's process."""
    return {"STATEMENTS": json.dumps(statements(), separators=(",", ":"))}
