"""The session engine: one session row plus an append-only log of entries.

Every write is one transaction that changes the entries, the session row (counters, version,
updated_at) and the mirror outbox together (rows.py holds that rule), and writes only what is
new: an append costs a few statements whatever the length of the history.

`SessionEngine` is the whole engine: the session operations written here (create, update,
import, read, delete, the data blob, the lifecycle sweep, a mirror resync), the entry log
(log.py), fenced writers (fence.py), branches and history cuts (branches.py) and the cold
tier's steps (cold.py). operations.py declares which of them the outside world calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import snapshot as doc
from . import statements as q
from .batches import prepare_batch, session_columns
from .blobs import BlobLedger
from .branches import Branches
from .cold import ColdSteps
from .errors import InvalidInput, NotFound
from .keys import SessionKey
from .large import blob_bytes, check_mode
from .limits import EXPORT_PART_CHARS, MAX_DATA_BYTES, MAX_PAGE_SIZE
from .ports import IntegrityViolation
from .rows import entry, summary
from .rules import SESSION_FIELDS, TRANSITIONS, UPDATABLE, check_version, only
from .values import check_count, check_optional_int, decode_json, encode_json


class SessionEngine(Branches, ColdSteps, BlobLedger):
    """Operations on sessions stored through a `SqlPort`.

    One instance may serve one session (a Durable Object) or many (tests, a local file):
    every operation names its `SessionKey`.
    """

    def create_session(
        self, key: SessionKey, fields: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        fields = fields or {}
        only(fields, SESSION_FIELDS, "session")
        columns = session_columns(fields)
        return self._sql.transaction(lambda: self._insert_session(key, columns, self._clock()))

    def get_session(self, key: SessionKey) -> dict[str, Any]:
        return summary(self._require(key))

    def update_session(
        self, key: SessionKey, changes: Mapping[str, Any], expected_version: Any = None
    ) -> dict[str, Any]:
        """Change who/what fields, metadata (replaced whole) or status (see TRANSITIONS)."""
        only(changes, UPDATABLE, "update")
        if not changes:
            raise InvalidInput("nothing to update", {"fields": sorted(UPDATABLE)})
        columns = session_columns(changes)
        return self._sql.transaction(lambda: self._update(key, columns, expected_version))

    def _update(
        self, key: SessionKey, columns: dict[str, Any], expected_version: Any = None
    ) -> dict[str, Any]:
        session = dict(self._require(key))
        check_version(session["version"], expected_version)
        status = columns.get("status", session["status"])
        if status != session["status"] and status not in TRANSITIONS[session["status"]]:
            raise InvalidInput(
                f"status cannot change from {session['status']!r} to {status!r}",
                {"from": session["status"], "to": status},
            )
        merged = session | columns  # the row's own values are already encoded
        version, now = self._stamp(key, session, "upsert_session")
        changed_at = now if status != session["status"] else session["status_changed_at"]
        self._sql.execute(
            q.UPDATE_FIELDS,
            (
                merged["user_id"], merged["agent_name"], merged["title"], status,
                merged["metadata"], merged["expires_at"], changed_at, version, now,
                *key.params,
            ),
        )  # fmt: skip
        return summary(self._require(key))

    def import_session(
        self, key: SessionKey, session: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Create a session from an export: its fields, data and entries in one transaction.

        Entries keep their ids, parents, content and timestamps and are numbered 1..n in the
        given order; counters are recomputed from the entries, never trusted.
        """
        only(session, SESSION_FIELDS | {"status", "created_at"}, "imported session")
        columns = session_columns(session)
        status = session.get("status", "active")
        if status not in TRANSITIONS or status == "archived":
            raise InvalidInput("status must be active, completed or abandoned", {"field": "status"})
        created_at = check_optional_int(session.get("created_at"), "created_at")
        batch = prepare_batch(entries, limit=None, extra={"created_at"}) if entries else []

        def write() -> dict[str, Any]:
            now = self._clock()
            self._insert_session(key, columns | {"status": status}, created_at or now, now)
            if batch:
                self._insert_entries(key, self._require(key), batch, now)
            return summary(self._require(key))

        try:
            return self._sql.transaction(write)
        except IntegrityViolation:
            raise InvalidInput("entry ids repeat within the import") from None

    def delete_session(self, key: SessionKey) -> dict[str, Any]:
        return self._sql.transaction(lambda: self._delete(key))

    def export_session(
        self, key: SessionKey, after_seq: Any = 0, large: Any = None
    ) -> dict[str, Any]:
        """The session as its export document (engine/snapshot.py), built where its rows are:
        from `after_seq` on, in parts of about EXPORT_PART_CHARS; the first part starts with
        the session line. `next_after_seq` is where the next part starts (None: the end).
        A large entry's line carries its `blob`, which the host resolves as `large` asks: whole,
        its object counts towards the part's size."""
        whole = check_mode(large) == "whole"
        after = check_count(after_seq, "after_seq")
        parts: list[str] = []
        if after == 0:
            session = summary(self._require(key))
            session["data"] = self.load_data(key)["data"]
            parts.append(doc.header(session))
        else:
            self._require(key)
        size = len(parts[0]) if parts else 0
        while True:
            page = self._sql.execute(q.SELECT_ALL_ENTRIES, (*key.params, after, MAX_PAGE_SIZE))
            for row in page:
                found = entry(row)
                parts.append(doc.line(found))
                size += len(parts[-1]) + (blob_bytes(found) if whole else 0)
                after = row["seq"]
                if size >= EXPORT_PART_CHARS:
                    return {"text": "".join(parts), "next_after_seq": after}
            if len(page) < MAX_PAGE_SIZE:
                return {"text": "".join(parts), "next_after_seq": None}

    # -- the opaque blob (Flue's id, data, updated_at) ---------------------------------------

    def save_data(self, key: SessionKey, data: Any, expected_version: Any = None) -> dict[str, Any]:
        text = None if data is None else encode_json(data, "data", MAX_DATA_BYTES)

        def write() -> dict[str, Any]:
            session = self._require(key)
            check_version(session["version"], expected_version)
            version, updated_at = self._stamp(key, session, "upsert_session")
            self._sql.execute(q.UPDATE_DATA, (text, version, updated_at, *key.params))
            return {
                "id": key.session_id,
                "data": data,
                "updated_at": updated_at,
                "version": version,
            }

        return self._sql.transaction(write)

    def load_data(self, key: SessionKey) -> dict[str, Any]:
        rows = self._sql.execute(q.SELECT_DATA, key.params)
        if not rows:
            raise NotFound(f"session {key.session_id!r} not found")
        row = dict(rows[0])
        row["data"] = decode_json(row["data"], "the data blob")
        return row

    # -- across the store's sessions -----------------------------------------------------

    def sweep(self) -> dict[str, Any]:
        """Apply the lifecycle policy to the sessions of this store: delete those whose
        `expires_at` has passed (D1 follows by tombstone), and mark active ones idle for longer
        than the timeout abandoned. Idempotent, as alarms are at-least-once: what it did is no
        longer due. One transaction: a crash leaves it all to the next alarm. Returns what it
        did and when the next rule falls due (None: never)."""
        now = self._clock()
        idle = self._lifecycle.idle_timeout_ms
        cutoff = None if idle is None else now - idle

        def write() -> dict[str, Any]:
            expired: list[str] = []
            abandoned: list[str] = []
            for row in self._sql.execute(q.SELECT_DUE, (now, cutoff)):
                key = SessionKey(row["tenant_id"], row["id"])
                if row["expires_at"] is not None and row["expires_at"] <= now:
                    self._delete(key)
                    expired.append(key.session_id)
                else:
                    self._update(key, {"status": "abandoned"})
                    abandoned.append(key.session_id)
            return {
                "expired": expired,
                "abandoned": abandoned,
                "next_due_at": self._due(q.SELECT_NEXT_DUE, (idle,)),
            }

        return self._sql.transaction(write)

    def resync_mirror(self, key: SessionKey) -> dict[str, Any]:
        """Queue a rebuild of this session's D1 rows from this store: D1's rows are purged and
        the current ones sent again. For a session that no longer exists, only the purge."""

        def write() -> dict[str, Any]:
            rows = self._sql.execute(q.SELECT_SESSION, key.params)
            now = self._clock()
            version = rows[0]["version"] if rows else self._version_floor(key)
            self._record(key, "resync", version, now)
            if rows:
                last = rows[0]["last_seq"]
                op = "append_entries" if last else "upsert_session"
                self._record(key, op, version, now, 1 if last else None, last or None)
            return {"id": key.session_id, "resync": True, "exists": bool(rows)}

        return self._sql.transaction(write)
