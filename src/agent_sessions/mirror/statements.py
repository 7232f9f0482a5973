"""The mirror's SQL, by name: what it reads from the DO, and what it sends to D1.

D1 statements are idempotent and guarded: a session row moves only forward in version,
entries are keyed on (tenant_id, session_id, seq), and a tombstone never removes rows of a
newer incarnation of the same session id.
"""

from __future__ import annotations

from functools import cache

from ..engine.ddl import ENTRY_COLUMNS, SESSION_COLUMNS
from ..engine.rules import STATUSES
from ..engine.statements import OF_SESSION, SESSION_KEY
from .limits import MAX_PARAMS

# -- the Durable Object side ------------------------------------------------------------

SELECT_OUTBOX_HEAD = (
    "SELECT id, tenant_id, session_id, op, version, seq_from, seq_to, created_at "
    "FROM mirror_outbox ORDER BY id LIMIT ?"
)
LAST_RESET = (
    "SELECT max(id) AS id FROM mirror_outbox WHERE tenant_id = ? AND session_id = ? "
    "AND op IN ('delete_session', 'resync')"
)
DELETE_OUTBOX_THROUGH = "DELETE FROM mirror_outbox WHERE id <= ?"
ADVANCE_OUTBOX = "UPDATE mirror_outbox SET seq_from = ? WHERE id = ?"
OUTBOX_STATS = "SELECT count(*) AS pending, min(created_at) AS oldest FROM mirror_outbox"

SELECT_SESSION_ROW = f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions WHERE {SESSION_KEY}"
SELECT_ENTRY_ROWS = (
    f"SELECT {', '.join(ENTRY_COLUMNS)} FROM session_entries "
    f"WHERE {OF_SESSION} AND seq >= ? AND seq <= ? ORDER BY seq LIMIT ?"
)

SELECT_STATE = (
    "SELECT attempts, last_error, last_attempt_at, last_success_at, next_attempt_at, delivered, "
    "batches, statements FROM mirror_state WHERE id = 1"
)
RECORD_FAILURE = (
    "INSERT INTO mirror_state (id, attempts, last_error, last_attempt_at, next_attempt_at) "
    "VALUES (1, 1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET attempts = attempts + 1, "
    "last_error = excluded.last_error, last_attempt_at = excluded.last_attempt_at, "
    "next_attempt_at = ?"
)
RECORD_SUCCESS = (
    "INSERT INTO mirror_state (id, attempts, last_attempt_at, last_success_at, delivered, "
    "batches, statements) VALUES (1, 0, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
    "attempts = 0, last_error = NULL, last_attempt_at = excluded.last_attempt_at, "
    "last_success_at = excluded.last_success_at, next_attempt_at = NULL, "
    "delivered = delivered + excluded.delivered, batches = batches + excluded.batches, "
    "statements = statements + excluded.statements"
)

# -- the D1 side --------------------------------------------------------------------------

_SESSION_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in SESSION_COLUMNS[2:])
UPSERT_SESSION = (
    f"INSERT INTO sessions ({', '.join(SESSION_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in SESSION_COLUMNS)}) "
    f"ON CONFLICT (tenant_id, id) DO UPDATE SET {_SESSION_UPDATES} "
    "WHERE excluded.version > sessions.version"
)

ENTRY_ROWS_PER_UPSERT = MAX_PARAMS // len(ENTRY_COLUMNS)
_ENTRY_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in ENTRY_COLUMNS[3:])


@cache
def upsert_entries(rows: int) -> str:
    """A multi-row upsert of `rows` entries (1 <= rows <= ENTRY_ROWS_PER_UPSERT)."""
    one = f"({', '.join('?' for _ in ENTRY_COLUMNS)})"
    return (
        f"INSERT INTO session_entries ({', '.join(ENTRY_COLUMNS)}) "
        f"VALUES {', '.join(one for _ in range(rows))} "
        f"ON CONFLICT (tenant_id, session_id, seq) DO UPDATE SET {_ENTRY_UPDATES}"
    )


# A tombstone at version V removes the session's rows unless D1 already holds a newer
# incarnation (a session re-created with the same id has a version above V).
TOMBSTONE_ENTRIES = (
    f"DELETE FROM session_entries WHERE {OF_SESSION} AND NOT EXISTS "
    f"(SELECT 1 FROM sessions WHERE {SESSION_KEY} AND version > ?)"
)
TOMBSTONE_SESSION = f"DELETE FROM sessions WHERE {SESSION_KEY} AND version < ?"
DELETE_ENTRY_RANGE = f"DELETE FROM session_entries WHERE {OF_SESSION} AND seq >= ? AND seq <= ?"
# A resync starts from nothing, whatever D1 holds.
PURGE_ENTRIES = f"DELETE FROM session_entries WHERE {OF_SESSION}"
PURGE_SESSION = f"DELETE FROM sessions WHERE {SESSION_KEY}"

# Clearing a tenant from the database it moved away from, a bounded chunk at a time (a
# statement stays short however large the tenant; the caller repeats until none are left).
CLEAR_CHUNK = 500
CLEAR_TENANT_ENTRIES = (
    "DELETE FROM session_entries WHERE rowid IN "
    "(SELECT rowid FROM session_entries WHERE tenant_id = ? LIMIT ?)"
)
CLEAR_TENANT_SESSIONS = (
    "DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions WHERE tenant_id = ? LIMIT ?)"
)

# Parity reads, against D1 (and the same text against the DO).
PARITY_SESSION = SELECT_SESSION_ROW
PARITY_ENTRIES = (
    f"SELECT {', '.join(ENTRY_COLUMNS)} FROM session_entries "
    f"WHERE {OF_SESSION} AND seq > ? ORDER BY seq LIMIT ?"
)

# D1's retention (mirror/retention.py): sessions no longer active and not updated since a
# cutoff, found through sessions_by_age (one index range per status, whatever the number of
# old active sessions), removed a bounded chunk of entries at a time; the session row goes
# with the last chunk. Every statement re-checks that the session is still due, so a session
# that came back to life between two chunks (a new upsert) is left alone from then on.
RETIRED_STATUSES = tuple(s for s in STATUSES if s != "active")
_RETIRED = f"status IN ({', '.join(repr(s) for s in RETIRED_STATUSES)}) AND updated_at < ?"
RETENTION_DUE = f"SELECT tenant_id, id FROM sessions WHERE {_RETIRED} LIMIT ?"
RETENTION_ENTRIES = (
    "DELETE FROM session_entries WHERE rowid IN (SELECT rowid FROM session_entries "
    f"WHERE {OF_SESSION} LIMIT ?) AND EXISTS (SELECT 1 FROM sessions WHERE {SESSION_KEY} "
    f"AND {_RETIRED})"
)
RETENTION_SESSION = (
    f"DELETE FROM sessions WHERE {SESSION_KEY} AND {_RETIRED} "
    f"AND NOT EXISTS (SELECT 1 FROM session_entries WHERE {OF_SESSION})"
)
RETENTION_STILL_DUE = f"SELECT ({_RETIRED}) AS due FROM sessions WHERE {SESSION_KEY}"
