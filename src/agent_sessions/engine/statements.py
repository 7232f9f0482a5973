"""Every SQL statement the engine runs, by name.

Column lists come from the generated `ddl` module, so statements follow schema.sql. Nothing
here is built from user input: values always travel as bound parameters.
"""

from __future__ import annotations

from functools import cache

from .ddl import ENTRY_COLUMNS, SCHEMA_VERSION, SESSION_COLUMNS

SESSION_KEY = "tenant_id = ? AND id = ?"
"""A session's row in `sessions`."""
OF_SESSION = "tenant_id = ? AND session_id = ?"
"""A session's rows in the tables keyed by (tenant_id, session_id): entries, outbox, writers,
evicted sessions."""

SUMMARY_COLUMNS = tuple(c for c in SESSION_COLUMNS if c not in ("tenant_id", "data"))
"""A session as the API shows it: everything but the tenant and the (possibly large) blob."""
ENTRY_READ_COLUMNS = tuple(c for c in ENTRY_COLUMNS if c not in ("tenant_id", "session_id"))

SELECT_SESSION = f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM sessions WHERE {SESSION_KEY}"
SELECT_HEAD = (
    "SELECT version, updated_at, last_seq, leaf_id, compacted_through_seq, entry_count "
    f"FROM sessions WHERE {SESSION_KEY}"
)
"""What an append and a read of entries need of the session row: fewer columns to read and
convert per turn."""
SELECT_DATA = f"SELECT id, data, updated_at, version FROM sessions WHERE {SESSION_KEY}"
INSERT_SESSION = (
    f"INSERT INTO sessions ({', '.join(SESSION_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in SESSION_COLUMNS)})"
)
UPDATE_FIELDS = (
    "UPDATE sessions SET user_id = ?, agent_name = ?, title = ?, status = ?, metadata = ?, "
    f"expires_at = ?, status_changed_at = ?, version = ?, updated_at = ? WHERE {SESSION_KEY}"
)
UPDATE_DATA = f"UPDATE sessions SET data = ?, version = ?, updated_at = ? WHERE {SESSION_KEY}"
UPDATE_AFTER_APPEND = (
    "UPDATE sessions SET entry_count = entry_count + ?, message_count = message_count + ?, "
    "input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, "
    f"last_seq = ?, leaf_id = ?, version = ?, updated_at = ? WHERE {SESSION_KEY}"
)
DELETE_SESSION = f"DELETE FROM sessions WHERE {SESSION_KEY}"

# The lifecycle sweep. A NULL idle cutoff (no idle timeout) matches nothing, and adds nothing
# to the next due time: `updated_at + NULL` is NULL, which min() skips.
SELECT_DUE = (
    "SELECT tenant_id, id, expires_at FROM sessions "
    "WHERE expires_at <= ? OR (status = 'active' AND updated_at <= ?)"
)
SELECT_NEXT_DUE = (
    "SELECT min(due) AS due FROM ("
    "SELECT expires_at AS due FROM sessions WHERE expires_at IS NOT NULL "
    "UNION ALL SELECT updated_at + ? FROM sessions WHERE status = 'active')"
)
DELETE_ALL_ENTRIES = f"DELETE FROM session_entries WHERE {OF_SESSION}"

# Optional bounds are NULL, never a sentinel: numbers near 2**53 reach JavaScript as BigInt,
# which the Durable Object refuses to bind.
_ENTRY_FILTER = (
    f"{OF_SESSION} AND seq > ? AND (? IS NULL OR seq < ?) "
    "AND (? IS NULL OR type IN (SELECT value FROM json_each(?)))"
)
_SELECT_ENTRIES = (
    f"SELECT {', '.join(ENTRY_READ_COLUMNS)} FROM session_entries WHERE {_ENTRY_FILTER}"
)
SELECT_ENTRIES_ASC = f"{_SELECT_ENTRIES} ORDER BY seq ASC LIMIT ?"
SELECT_ENTRIES_DESC = f"{_SELECT_ENTRIES} ORDER BY seq DESC LIMIT ?"
SELECT_EXISTING_ENTRY_IDS = (
    f"SELECT id FROM session_entries WHERE {OF_SESSION} AND id IN (SELECT value FROM json_each(?))"
)

SELECT_ENTRIES_BY_ID = (
    f"SELECT {', '.join(ENTRY_READ_COLUMNS)} FROM session_entries WHERE {OF_SESSION} "
    "AND id IN (SELECT value FROM json_each(?))"
)

SELECT_ENTRY = f"SELECT seq, id, type FROM session_entries WHERE {OF_SESSION} AND id = ?"
UPDATE_LEAF = f"UPDATE sessions SET leaf_id = ?, version = ?, updated_at = ? WHERE {SESSION_KEY}"
UPDATE_COMPACTED = f"UPDATE sessions SET compacted_through_seq = ? WHERE {SESSION_KEY}"

# The current branch, walked from the leaf through parent_id. Passing a compaction entry sets a
# floor (its payload's first_kept_seq) below which the walk stops, so a load reads the kept
# entries and what came after, not the whole history. A parent is always an earlier entry, so
# the walk only goes down in seq: an id freed by a prune and taken again by a later entry
# cuts the branch there instead of closing a cycle (which would never end). The walk carries
# each entry's columns, so every row is read once. No ORDER BY: sorting a long branch made
# SQLite spill it to a temporary file and read it back (twice the bytes, measured in
# bench/); the engine sorts. CROSS JOIN fixes the join order, the branch outside and each
# parent looked up by its id: workerd's SQLite otherwise chose to scan the session's entries
# for every step of the walk, reading n² rows (16 million at 4,000 entries; bench/runtime).
_CONTEXT_COLUMNS = ", ".join(ENTRY_READ_COLUMNS)
_FLOOR = "CASE WHEN type = 'compaction' THEN json_extract(payload, '$.first_kept_seq') ELSE 0 END"
SELECT_CONTEXT = f"""
WITH RECURSIVE branch({_CONTEXT_COLUMNS}, floor) AS (
  SELECT {_CONTEXT_COLUMNS}, {_FLOOR}
  FROM session_entries WHERE {OF_SESSION} AND id = ?
  UNION ALL
  SELECT {", ".join("e." + c for c in ENTRY_READ_COLUMNS)},
         CASE WHEN b.floor = 0 AND e.type = 'compaction'
              THEN json_extract(e.payload, '$.first_kept_seq') ELSE b.floor END
  FROM branch b CROSS JOIN session_entries e
    ON e.tenant_id = ? AND e.session_id = ? AND e.id = b.parent_id
  WHERE e.seq >= b.floor AND e.seq < b.seq
)
SELECT {_CONTEXT_COLUMNS} FROM branch
"""

COUNT_RANGE = (
    "SELECT count(*) AS entries, coalesce(sum(type = 'message'), 0) AS messages "
    f"FROM session_entries WHERE {OF_SESSION} AND seq >= ? AND seq <= ?"
)
DELETE_RANGE = f"DELETE FROM session_entries WHERE {OF_SESSION} AND seq >= ? AND seq <= ?"
UPDATE_AFTER_DELETE = (
    "UPDATE sessions SET entry_count = entry_count - ?, message_count = message_count - ?, "
    f"leaf_id = ?, version = ?, updated_at = ? WHERE {SESSION_KEY}"
)
SELECT_LAST_BEFORE = (
    f"SELECT id FROM session_entries WHERE {OF_SESSION} AND seq < ? ORDER BY seq DESC LIMIT 1"
)

SELECT_WRITER = (
    "SELECT epoch, writer_id, next_seq, last_digest, last_result FROM session_writers "
    f"WHERE {OF_SESSION}"
)
CLAIM_WRITER = (
    "INSERT INTO session_writers (tenant_id, session_id, epoch, writer_id, next_seq) "
    "VALUES (?, ?, 1, ?, 0) ON CONFLICT (tenant_id, session_id) DO UPDATE SET "
    "epoch = epoch + 1, writer_id = excluded.writer_id, next_seq = 0, "
    "last_digest = NULL, last_result = NULL"
)
ADVANCE_WRITER = (
    "UPDATE session_writers SET next_seq = next_seq + 1, last_digest = ?, last_result = ? "
    f"WHERE {OF_SESSION}"
)

ENTRY_ROWS_PER_INSERT = 100 // len(ENTRY_COLUMNS)
"""Rows per multi-row INSERT: Durable Object SQLite and D1 bind at most 100 parameters."""


@cache
def insert_entries(rows: int) -> str:
    """A multi-row INSERT for `rows` entries (1 <= rows <= ENTRY_ROWS_PER_INSERT)."""
    one = f"({', '.join('?' for _ in ENTRY_COLUMNS)})"
    return (
        f"INSERT INTO session_entries ({', '.join(ENTRY_COLUMNS)}) "
        f"VALUES {', '.join(one for _ in range(rows))}"
    )


TABLE_EXISTS = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?"
TABLE_DEFINITION = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?"
SELECT_META = "SELECT value FROM store_meta WHERE key = ?"
UPSERT_META = (
    "INSERT INTO store_meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

INSERT_OUTBOX = (
    "INSERT INTO mirror_outbox (tenant_id, session_id, op, version, seq_from, seq_to, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)

# The local D1 file's record of applied migrations, kept as wrangler keeps D1's (its
# `d1 migrations apply`, node_modules/wrangler: the same table, created with the same text).
CREATE_APPLIED_MIGRATIONS = (
    'CREATE TABLE IF NOT EXISTS "d1_migrations"(\n'
    "\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "\t\tname       TEXT UNIQUE,\n"
    "\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL\n"
    ")"
)
SELECT_APPLIED_MIGRATIONS = 'SELECT name FROM "d1_migrations" ORDER BY id'
INSERT_APPLIED_MIGRATION = 'INSERT INTO "d1_migrations" (name) VALUES (?)'
SELECT_USER_VERSION = "PRAGMA user_version"
SET_USER_VERSION = f"PRAGMA user_version = {SCHEMA_VERSION}"
"""What local D1 files recorded before d1_migrations, and what releases up to 5 read (so that
they refuse a newer file). PRAGMA takes no parameters; the value is a constant."""

# The cold tier. A session is due for the archive when it has been idle for the configured
# time, or when it is marked archived and still has rows here (an archive that stopped
# half-way, or a session hydrated for a read).
SELECT_ARCHIVE_DUE = (
    "SELECT tenant_id, id FROM sessions WHERE status = 'archived' OR updated_at <= ?"
)
SELECT_NEXT_ARCHIVE = (
    "SELECT min(CASE WHEN status = 'archived' THEN 0 ELSE updated_at + ? END) AS due FROM sessions"
)
MARK_ARCHIVED = (
    "UPDATE sessions SET status = 'archived', archive_key = ?, status_changed_at = ?, "
    f"version = ?, updated_at = ? WHERE {SESSION_KEY}"
)
UNARCHIVE = (
    "UPDATE sessions SET status = 'active', status_changed_at = ?, version = ?, updated_at = ? "
    f"WHERE {SESSION_KEY}"
)
SELECT_ALL_ENTRIES = (
    f"SELECT {', '.join(ENTRY_READ_COLUMNS)} FROM session_entries WHERE {OF_SESSION} "
    "AND seq > ? ORDER BY seq LIMIT ?"
)
COUNT_OUTBOX_OF = f"SELECT count(*) AS pending FROM mirror_outbox WHERE {OF_SESSION}"
SELECT_EVICTED = (
    "SELECT archive_key, version, expires_at FROM evicted_sessions WHERE tenant_id = ? "
    "AND session_id = ?"
)
INSERT_EVICTED = (
    "INSERT INTO evicted_sessions (tenant_id, session_id, archive_key, version, expires_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, session_id) DO UPDATE SET "
    "archive_key = excluded.archive_key, version = excluded.version, "
    "expires_at = excluded.expires_at"
)
DELETE_EVICTED = "DELETE FROM evicted_sessions WHERE tenant_id = ? AND session_id = ?"
SELECT_EXPIRED_EVICTED = (
    "SELECT tenant_id, session_id, archive_key FROM evicted_sessions WHERE expires_at <= ?"
)
SELECT_NEXT_EVICTED_EXPIRY = "SELECT min(expires_at) AS due FROM evicted_sessions"

# The blob ledger (session_blobs in schema.sql; engine/blobs.py). Keys travel as one JSON
# array, as entry ids do.
_KEYS = "key IN (SELECT value FROM json_each(?))"
INSERT_PENDING_BLOB = (
    "INSERT INTO session_blobs (key, tenant_id, session_id, state, at) "
    "VALUES (?, ?, ?, 'pending', ?)"
)
COUNT_PENDING_BLOBS = (
    f"SELECT count(*) AS pending FROM session_blobs WHERE {_KEYS} AND state = 'pending'"
)
SELECT_PENDING_BLOBS = f"SELECT key FROM session_blobs WHERE {_KEYS} AND state = 'pending'"
MARK_BLOBS_LIVE = f"UPDATE session_blobs SET state = 'live' WHERE {_KEYS} AND state = 'pending'"
DOOM_BLOBS_OF_RANGE = (
    "INSERT INTO session_blobs (key, tenant_id, session_id, state, at) "
    "SELECT json_extract(blob, '$.key'), tenant_id, session_id, 'doomed', ? "
    f"FROM session_entries WHERE {OF_SESSION} AND seq >= ? AND seq <= ? AND blob IS NOT NULL "
    "ON CONFLICT (key) DO UPDATE SET state = 'doomed', at = excluded.at"
)
"""The objects of entries low..high, before those rows are deleted (in the same transaction);
an upsert, so a ledger that lost a key (a store emptied, then hydrated) still dooms it."""
DOOM_BLOBS_OF_SESSION = (
    f"UPDATE session_blobs SET state = 'doomed', at = ? WHERE {OF_SESSION} AND state = 'live'"
)
"""An evicted session's objects: its rows are in no table here, but its ledger is."""
INSERT_LIVE_BLOBS = (
    "INSERT INTO session_blobs (key, tenant_id, session_id, state, at) "
    "SELECT json_extract(blob, '$.key'), tenant_id, session_id, 'live', ? "
    f"FROM session_entries WHERE {OF_SESSION} AND blob IS NOT NULL "
    "ON CONFLICT (key) DO NOTHING"
)
SELECT_BLOB_GARBAGE = (
    "SELECT key FROM session_blobs WHERE state = 'doomed' OR (state = 'pending' AND at <= ?) "
    "ORDER BY at LIMIT ?"
)
DELETE_BLOB_RECORDS = f"DELETE FROM session_blobs WHERE {_KEYS} AND state <> 'live'"
SELECT_NEXT_BLOB_DUE = (
    "SELECT min(CASE WHEN state = 'doomed' THEN at ELSE at + ? END) AS due FROM session_blobs "
    "WHERE state <> 'live'"
)
