"""The rows of one store, and the one rule every write follows.

`Rows` is what every part of the engine builds on: reading a session's row (or refusing a
missing one), and writing. Every write that changes a session runs inside the caller's
transaction and goes through `_stamp`: the version goes up by one, `updated_at` never goes
back, and one outbox row records the mirror work. Inserting a session and inserting entries,
the two row writes several operations share, live here too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from . import statements as q
from .batches import compaction_floor
from .errors import AlreadyExists, InsufficientStorage, InvalidInput, NotFound
from .keys import SessionKey, now_ms
from .lifecycle import NO_LIFECYCLE, Lifecycle
from .ports import Row, SqlPort
from .schema import ensure_schema
from .values import decode_json

ENTRY_ROW = itemgetter(*q.ENTRY_COLUMNS)
"""An entry's values in the column order of the INSERT."""


def summary(row: Row) -> dict[str, Any]:
    """A session row as the API shows it."""
    session = dict(row)
    session["metadata"] = decode_json(session["metadata"], f"the metadata of {session['id']!r}")
    return session


def entry(row: Row) -> dict[str, Any]:
    """An entry row as the API shows it; a large one (engine/large.py) with its `blob`,
    which the host resolves or shows without its key, as the read asks."""
    found = dict(row)
    found["payload"] = decode_json(found["payload"], f"the payload of entry {found['seq']}")
    blob = found.pop("blob", None)
    if blob is not None:
        found["blob"] = json.loads(blob)
    return found


class Rows:
    """A store of sessions through a `SqlPort`: one session (a Durable Object) or many
    (tests, a local file). Every operation names its `SessionKey`."""

    def __init__(
        self,
        sql: SqlPort,
        clock: Callable[[], int] = now_ms,
        lifecycle: Lifecycle = NO_LIFECYCLE,
    ) -> None:
        self._sql = sql
        self._clock = clock
        self._lifecycle = lifecycle
        ensure_schema(sql)

    # -- reading ------------------------------------------------------------------------

    def _require(self, key: SessionKey, statement: str = q.SELECT_SESSION) -> Row:
        rows = self._sql.execute(statement, key.params)
        if not rows:
            raise NotFound(f"session {key.session_id!r} not found")
        return rows[0]

    def _due(self, statement: str, params: Sequence[Any]) -> int | None:
        """A `min(...) AS due` time: a REAL in a Durable Object, where every bound number is
        one, so it comes back as an int here."""
        due = self._sql.execute(statement, params)[0]["due"]
        return None if due is None else int(due)

    @staticmethod
    def _floor_key(key: SessionKey) -> str:
        return f"version_floor:{key.object_name}"

    def _version_floor(self, key: SessionKey) -> int:
        """The version a deleted (or evicted) session reached: a new incarnation starts above
        it, so a mirror can always tell newer from older."""
        rows = self._sql.execute(q.SELECT_META, (self._floor_key(key),))
        return int(rows[0]["value"]) if rows else 0

    # -- the write rule -----------------------------------------------------------------

    def _stamp(
        self,
        key: SessionKey,
        session: Row,
        op: str,
        seq_from: int | None = None,
        seq_to: int | None = None,
        at: int | None = None,
    ) -> tuple[int, int]:
        """The (version, updated_at) of a write to `session`: version + 1, a time that never
        goes back (from `at`, default the clock), and the outbox row for the mirror."""
        version = session["version"] + 1
        now = max(self._clock() if at is None else at, session["updated_at"])
        self._record(key, op, version, now, seq_from, seq_to)
        return version, now

    def _record(
        self,
        key: SessionKey,
        op: str,
        version: int,
        at: int,
        seq_from: int | None = None,
        seq_to: int | None = None,
    ) -> None:
        self._sql.execute(q.INSERT_OUTBOX, (*key.params, op, version, seq_from, seq_to, at))

    # -- the row writes several operations share ----------------------------------------

    def _insert_session(
        self, key: SessionKey, columns: dict[str, Any], created_at: int, now: int | None = None
    ) -> dict[str, Any]:
        if self._sql.execute(q.SELECT_SESSION, key.params):
            raise AlreadyExists(f"session {key.session_id!r} already exists")
        now = created_at if now is None else now
        version = self._version_floor(key) + 1
        ttl = self._lifecycle.ttl_ms
        row = dict.fromkeys(q.SESSION_COLUMNS) | {
            "status": "active",
            "metadata": "{}",
            "expires_at": None if ttl is None else now + ttl,
        }
        row |= columns
        row |= {
            "tenant_id": key.tenant_id,
            "id": key.session_id,
            "created_at": created_at,
            "updated_at": max(now, created_at),
            "entry_count": 0,
            "message_count": 0,
            "last_seq": 0,
            "compacted_through_seq": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "version": version,
            "status_changed_at": now,
        }
        self._sql.execute(q.INSERT_SESSION, [row[c] for c in q.SESSION_COLUMNS])
        self._record(key, "upsert_session", version, now)
        return summary({c: row[c] for c in q.SUMMARY_COLUMNS})

    def _insert_entries(
        self,
        key: SessionKey,
        session: Row,
        batch: list[dict[str, Any]],
        at: int | None = None,
        copied: bool = False,
    ) -> dict[str, Any]:
        """Insert a validated batch, update the counters, record the mirror work.

        New entries get the next seqs and default to hanging off the leaf; `copied` entries
        (a fork) keep the seqs and parents they had in their source session.
        """
        if not copied:
            self._check_parents(key, batch)
        first = session["last_seq"] + 1
        seqs = [e["seq"] for e in batch] if copied else list(range(first, first + len(batch)))
        version, now = self._stamp(key, session, "append_entries", seqs[0], seqs[-1], at)
        leaf = session["leaf_id"]
        rows: list[tuple[Any, ...]] = []
        messages = input_tokens = output_tokens = 0
        for item, seq in zip(batch, seqs, strict=True):
            parent = item["parent_id"] if copied or item["parent_id"] is not None else leaf
            leaf = item["id"]
            messages += item["type"] == "message"
            input_tokens += item["input_tokens"]
            output_tokens += item["output_tokens"]
            row = {
                "created_at": now,
                **item,
                "tenant_id": key.tenant_id,
                "session_id": key.session_id,
                "seq": seq,
                "parent_id": parent,
            }
            rows.append(ENTRY_ROW(row))
        self._keep_blobs(batch)
        compacted = compaction_floor(batch, seqs)
        if compacted is not None and compacted > session["compacted_through_seq"]:
            self._sql.execute(q.UPDATE_COMPACTED, (compacted, *key.params))
        self._insert_rows(rows)
        self._sql.execute(
            q.UPDATE_AFTER_APPEND,
            (len(batch), messages, input_tokens, output_tokens, seqs[-1], leaf, version, now,
             *key.params),
        )  # fmt: skip
        return {
            "entries": [{"id": e["id"], "seq": seq} for e, seq in zip(batch, seqs, strict=True)],
            "first_seq": seqs[0],
            "last_seq": seqs[-1],
            "version": version,
            "replayed": False,
        }

    def _keep_blobs(self, batch: Sequence[dict[str, Any]]) -> None:
        """Mark the objects of a batch's rows live (engine/blobs.py); if one is no longer
        pending (the alarm took it for a crashed write's), the write is refused before it
        commits, and the host deletes what it put."""
        keys = [json.loads(e["blob"])["key"] for e in batch if e.get("blob")]
        if not keys:
            return
        encoded = json.dumps(keys)
        if self._sql.execute(q.COUNT_PENDING_BLOBS, (encoded,))[0]["pending"] != len(keys):
            raise InsufficientStorage("a large entry's object was lost before its write ended")
        self._sql.execute(q.MARK_BLOBS_LIVE, (encoded,))

    def _doom_blobs(self, key: SessionKey, low: int, high: int) -> None:
        """The objects of entries low..high, whose rows this transaction deletes."""
        self._sql.execute(q.DOOM_BLOBS_OF_RANGE, (self._clock(), *key.params, low, high))

    def _insert_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        """Entry rows (in ENTRY_COLUMNS order) as multi-row INSERTs within the bind limit."""
        per = q.ENTRY_ROWS_PER_INSERT
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            self._sql.execute(q.insert_entries(len(chunk)), list(chain.from_iterable(chunk)))

    def _delete(self, key: SessionKey) -> dict[str, Any]:
        """Delete a session and its entries; D1 follows by a tombstone at the next version."""
        session = self._require(key)
        version = session["version"] + 1
        self._doom_blobs(key, 0, session["last_seq"])
        self._sql.execute(q.DELETE_ALL_ENTRIES, key.params)
        self._sql.execute(q.DELETE_SESSION, key.params)
        # Remember the version, so a re-created session starts above the tombstone's.
        self._sql.execute(q.UPSERT_META, (self._floor_key(key), str(version)))
        self._record(key, "delete_session", version, self._clock())
        return {"id": key.session_id, "deleted": True, "version": version}

    def _existing_ids(self, key: SessionKey, ids: list[str]) -> set[str]:
        rows = self._sql.execute(q.SELECT_EXISTING_ENTRY_IDS, (*key.params, json.dumps(ids)))
        return {r["id"] for r in rows}

    def _check_parents(self, key: SessionKey, batch: list[dict[str, Any]]) -> None:
        """An explicit parent must be an earlier entry: in the session or earlier in the batch."""
        seen: set[str] = set()
        outside: list[str] = []
        for item in batch:
            parent = item["parent_id"]
            if parent is not None and parent not in seen:
                outside.append(parent)
            seen.add(item["id"])
        if outside:
            missing = sorted(set(outside) - self._existing_ids(key, outside))
            if missing:
                raise InvalidInput("parent_id refers to no earlier entry", {"parent_ids": missing})
