"""The change log: what the drain sends to D1, also as append-only records, for history that
D1 should not hold (README: "The change log").

A sink that only appends (Cloudflare Pipelines into Iceberg tables on R2) cannot upsert, so
each record says which state it is, and the reader picks: every record carries the session's
`version` (a session row's own; for an entry, the version of the write that sent it) and an
`idempotency_key` that names that state and stays the same however often the record is sent
again (a retried batch, a drain that crashed before it forgot the batch). A resend is the
same record, so `GROUP BY` over the key collapses copies, and the latest state of a session is
the record with the highest version (cookbook/changes.sql). `at` is the time of the change
(the row's `updated_at`, the entry's `created_at`, the deleting write's time), never the time
of sending, which would differ between a record and its resend.

Two streams, one schema each: `sessions` (a row changed: `upsert`; the session was deleted:
`delete`) and `entries` (entries were appended: `append`; a range was removed by a prune or
a replace: `delete`, from `seq` through `seq_to`). A resync (parity repair) sends no record of
its own, but D1's rebuild sends the session's rows again: its entries come with the version
of the resync, so an entry's key leaves the version out (`tenant/session/seq/entry id`: the
same entry, however and whenever it is sent) and the queries take its lowest version.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from urllib.parse import quote

from ..engine.ddl import ENTRY_COLUMNS, SESSION_COLUMNS
from ..engine.ports import Row, SqlValue

SESSION_STREAM = "sessions"
ENTRY_STREAM = "entries"
STREAMS = (SESSION_STREAM, ENTRY_STREAM)

_HEAD = ("idempotency_key", "op", "at")
SESSION_FIELDS: tuple[str, ...] = (*_HEAD, "tenant_id", "session_id", *SESSION_COLUMNS[2:])
"""A sessions record: the row's columns, with the session's `id` named `session_id`."""
ENTRY_FIELDS: tuple[str, ...] = (*_HEAD, "version", "seq_to", *ENTRY_COLUMNS)
"""An entries record: the row's columns, the version of the write that sent it, `seq_to`."""

ChangeRecord = dict[str, SqlValue]
Changes = dict[str, list[ChangeRecord]]
"""Records by stream, in the order they were made (the outbox's)."""


def _key(*parts: object) -> str:
    """The parts joined by "/", each escaped, so that no id containing a slash can make two
    keys equal."""
    return "/".join(quote(str(p), safe="") for p in parts)


def idempotency_key(tenant_id: str, session_id: str, version: int, *rest: object) -> str:
    """A session record's or a removed range's key: `tenant/session/version/...`."""
    return _key(tenant_id, session_id, version, *rest)


def session_record(values: Sequence[SqlValue]) -> ChangeRecord:
    """A session row (SESSION_COLUMNS' values) as an `upsert` record."""
    row = dict(zip(SESSION_COLUMNS, values, strict=True))
    head = {
        "idempotency_key": idempotency_key(row["tenant_id"], row["id"], row["version"], "upsert"),
        "op": "upsert",
        "at": row["updated_at"],
        "tenant_id": row["tenant_id"],
        "session_id": row["id"],
    }
    return head | {c: row[c] for c in SESSION_COLUMNS[2:]}


def session_tombstone(op: Row) -> ChangeRecord:
    """A deleted session (its outbox row) as a `delete` record; the row's columns are null."""
    key = (op["tenant_id"], op["session_id"])
    return dict.fromkeys(SESSION_FIELDS) | {
        "idempotency_key": idempotency_key(*key, op["version"], "delete"),
        "op": "delete",
        "at": op["created_at"],
        "tenant_id": key[0],
        "session_id": key[1],
        "version": op["version"],
    }


class AppendVersions:
    """Which write appended a seq: the outbox rows of one merged append action cover
    consecutive seq ranges, each with the version and time of its write."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self._ends = [r["seq_to"] for r in rows]
        self._rows = rows

    def of(self, seq: int) -> Row:
        return self._rows[min(bisect_left(self._ends, seq), len(self._rows) - 1)]


def entry_key(tenant_id: str, session_id: str, seq: int, entry_id: str) -> str:
    """An entry's key: its place and its id, not the version that sent it (see above)."""
    return _key(tenant_id, session_id, seq, entry_id)


def entry_record(values: Sequence[SqlValue], written: Row) -> ChangeRecord:
    """An entry row (ENTRY_COLUMNS' values) as an `append` record, sent by the write
    `written` (its version: the append's own, or a resync's that sends the entry again)."""
    row = dict(zip(ENTRY_COLUMNS, values, strict=True))
    return {
        "idempotency_key": entry_key(row["tenant_id"], row["session_id"], row["seq"], row["id"]),
        "op": "append",
        "at": row["created_at"],
        "version": written["version"],
        "seq_to": row["seq"],
    } | row


def entries_tombstone(op: Row) -> ChangeRecord:
    """Entries seq_from..seq_to removed (a `delete_entries` outbox row) as one record."""
    key = (op["tenant_id"], op["session_id"])
    span = f"{op['seq_from']}-{op['seq_to']}"
    return dict.fromkeys(ENTRY_FIELDS) | {
        "idempotency_key": idempotency_key(*key, op["version"], "delete", span),
        "op": "delete",
        "at": op["created_at"],
        "version": op["version"],
        "tenant_id": key[0],
        "session_id": key[1],
        "seq": op["seq_from"],
        "seq_to": op["seq_to"],
    }


def empty() -> Changes:
    return {stream: [] for stream in STREAMS}
