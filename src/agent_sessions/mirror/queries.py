"""The cross-session reads, by name: what listings and search ask of D1 (locally, of the
mirror file). Nothing here is built from user input: the listing's WHERE clause is made of
the constant fragments below, chosen by which filters the caller set, and every value is
bound. The cookbook (cookbook/d1.sql) holds the queries for people and other Workers."""

from __future__ import annotations

from ..engine.statements import SUMMARY_COLUMNS

LIST_SESSIONS = f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM sessions WHERE tenant_id = ?"
"""The start of a listing; the filters, the cursor and LIST_ORDER follow."""
LIST_FILTERS = {
    "user_id": "user_id = ?",
    "agent_name": "agent_name = ?",
    "status": "status = ?",
    "updated_since": "updated_at >= ?",
    "updated_before": "updated_at < ?",
}
LIST_AFTER_CURSOR = "(updated_at < ? OR (updated_at = ? AND id < ?))"
LIST_ORDER = " ORDER BY updated_at DESC, id DESC LIMIT ?"
"""Newest first by (updated_at, id): the cursor is that pair of the page's last row."""

SEARCH_ENTRIES = (
    "SELECT e.session_id, e.seq, e.type, e.role, "
    "snippet(entries_fts, 0, '[', ']', '…', 16) AS snippet "
    "FROM entries_fts JOIN session_entries e ON e.rowid = entries_fts.rowid "
    "WHERE entries_fts MATCH ? AND e.tenant_id = ? "
    "ORDER BY rank, e.session_id, e.seq LIMIT ?"
)
"""Entries of one tenant whose content has every quoted term, best first."""

TENANT_SESSION_IDS = "SELECT id FROM sessions WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?"
"""A page of one tenant's session ids, in id order (moving a tenant: service/moves.py)."""
TENANT_ROWS_LEFT = (
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM sessions WHERE tenant_id = ?1 LIMIT 1)) "
    "+ (SELECT count(*) FROM (SELECT 1 FROM session_entries WHERE tenant_id = ?1 LIMIT 1)) AS n"
)
"""Whether a database still holds any row of the tenant (0: none)."""
