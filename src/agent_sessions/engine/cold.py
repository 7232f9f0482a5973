"""The cold tier's steps, as the engine sees them (archive/tier.py runs them in order).

Two ideas, each with one word: a session is *archived* once its snapshot is in the archive
(R2) and its status says so (its rows may still be here), and *evicted* once its rows have
left this store (`evicted_sessions` notes where its snapshot is). *Hydrating* brings an
evicted session's rows back from its snapshot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import statements as q
from .errors import InvalidInput, Malformed, NotFound
from .keys import SessionKey
from .large import BlobRef
from .limits import INLINE_ENTRY_BYTES, MAX_DATA_BYTES, MAX_METADATA_BYTES, MAX_PAGE_SIZE
from .ports import IntegrityViolation
from .rows import ENTRY_ROW, Rows, entry, summary
from .values import decode_json, encode_json


class ColdSteps(Rows):
    def archive_due(self, now: int, after_ms: int) -> list[SessionKey]:
        """Sessions to archive now: idle for `after_ms`, or marked archived with rows here."""
        rows = self._sql.execute(q.SELECT_ARCHIVE_DUE, (now - after_ms,))
        return [SessionKey(r["tenant_id"], r["id"]) for r in rows]

    def next_archive_at(self, after_ms: int) -> int | None:
        return self._due(q.SELECT_NEXT_ARCHIVE, (after_ms,))

    def mark_archived(self, key: SessionKey, archive_key: str) -> dict[str, Any]:
        """Step 1: status 'archived' and the snapshot's key, mirrored to D1 like any change
        (so listings find the session in the archive). Repeating it changes nothing."""

        def write() -> dict[str, Any]:
            session = self._require(key)
            if session["status"] != "archived":
                version, now = self._stamp(key, session, "upsert_session")
                self._sql.execute(q.MARK_ARCHIVED, (archive_key, now, version, now, *key.params))
            return summary(self._require(key))

        return self._sql.transaction(write)

    def unarchive(self, key: SessionKey) -> None:
        """A write to an archived session brings it back: status 'active' again."""

        def write() -> None:
            session = self._require(key)
            if session["status"] == "archived":
                version, now = self._stamp(key, session, "upsert_session")
                self._sql.execute(q.UNARCHIVE, (now, version, now, *key.params))

        self._sql.transaction(write)

    def snapshot(self, key: SessionKey) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The session (with its data blob) and every entry, as export shows them."""
        session = summary(self._require(key))
        data = self._sql.execute(q.SELECT_DATA, key.params)[0]["data"]
        session["data"] = decode_json(data, "the data blob")
        entries: list[dict[str, Any]] = []
        while True:
            after = entries[-1]["seq"] if entries else 0
            page = self._sql.execute(q.SELECT_ALL_ENTRIES, (*key.params, after, MAX_PAGE_SIZE))
            entries += [entry(r) for r in page]
            if len(page) < MAX_PAGE_SIZE:
                return session, entries

    def evict(self, key: SessionKey, version: int) -> bool:
        """The last step: drop the session's rows here, once its snapshot at `version` is
        verified in the archive and D1 has every change. Nothing goes to the outbox: D1 keeps
        its rows. False, and nothing done, if the session changed meanwhile or D1 lags."""

        def write() -> bool:
            rows = self._sql.execute(q.SELECT_SESSION, key.params)
            if not rows or rows[0]["status"] != "archived" or rows[0]["version"] != version:
                return False
            if self._sql.execute(q.COUNT_OUTBOX_OF, key.params)[0]["pending"]:
                return False
            session = rows[0]
            self._sql.execute(q.DELETE_ALL_ENTRIES, key.params)
            self._sql.execute(q.DELETE_SESSION, key.params)
            self._sql.execute(
                q.INSERT_EVICTED,
                (*key.params, session["archive_key"], version, session["expires_at"]),
            )
            self._sql.execute(q.UPSERT_META, (self._floor_key(key), str(version)))
            return True

        return self._sql.transaction(write)

    def evicted(self, key: SessionKey) -> dict[str, Any] | None:
        """Where an evicted session's snapshot is, or None if the session is not evicted."""
        rows = self._sql.execute(q.SELECT_EVICTED, key.params)
        return dict(rows[0]) if rows else None

    def hydrate(
        self, key: SessionKey, session: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Put an evicted session's rows back from its snapshot, exactly as they were (seqs,
        ids, versions, counters), without outbox work, since D1 has them. Idempotent: a
        session already here is left alone. A snapshot older than this store's version floor
        is refused: it would bring back a session that was deleted or changed since."""
        values = _snapshot_values(key, session, entries)

        def write() -> dict[str, Any]:
            if self._sql.execute(q.SELECT_SESSION, key.params):
                return summary(self._require(key))
            if values["session"]["version"] < self._version_floor(key):
                raise NotFound(f"session {key.session_id!r} has no current snapshot")
            row = values["session"]
            self._sql.execute(q.INSERT_SESSION, [row[c] for c in q.SESSION_COLUMNS])
            self._insert_rows(values["entries"])
            self._sql.execute(q.INSERT_LIVE_BLOBS, (self._clock(), *key.params))
            self._sql.execute(q.DELETE_EVICTED, key.params)
            return summary(self._require(key))

        try:
            return self._sql.transaction(write)
        except IntegrityViolation:
            raise InvalidInput("the snapshot's entries repeat a seq or an id") from None

    def expired_evictions(self) -> list[tuple[SessionKey, str]]:
        now = self._clock()
        rows = self._sql.execute(q.SELECT_EXPIRED_EVICTED, (now,))
        return [(SessionKey(r["tenant_id"], r["session_id"]), r["archive_key"]) for r in rows]

    def next_evicted_expiry(self) -> int | None:
        return self._due(q.SELECT_NEXT_EVICTED_EXPIRY, ())

    def delete_evicted(self, key: SessionKey) -> bool:
        """Delete a session that lives only in the archive (its expiry came): D1 gets the
        tombstone a delete sends, and the version floor moves past the snapshot's."""

        def write() -> bool:
            evicted = self.evicted(key)
            if evicted is None:
                return False
            version = evicted["version"] + 1
            self._sql.execute(q.DOOM_BLOBS_OF_SESSION, (self._clock(), *key.params))
            self._sql.execute(q.DELETE_EVICTED, key.params)
            self._sql.execute(q.UPSERT_META, (self._floor_key(key), str(version)))
            self._record(key, "delete_session", version, self._clock())
            return True

        return self._sql.transaction(write)


def _snapshot_values(
    key: SessionKey, session: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A snapshot's session and entries as the rows that stored them, checked for shape."""
    try:
        row = {c: session.get(c) for c in q.SESSION_COLUMNS}
        row |= {"tenant_id": key.tenant_id, "id": key.session_id}
        row["metadata"] = encode_json(session["metadata"], "metadata", MAX_METADATA_BYTES)
        data = session.get("data")
        row["data"] = None if data is None else encode_json(data, "data", MAX_DATA_BYTES)
        if not isinstance(row["version"], int) or isinstance(row["version"], bool):
            raise TypeError("version")
        rows = []
        for item in entries:
            values = dict(item) | {"tenant_id": key.tenant_id, "session_id": key.session_id}
            payload = item.get("payload")
            values["payload"] = (
                None if payload is None else encode_json(payload, "payload", INLINE_ENTRY_BYTES)
            )
            blob = item.get("blob")
            values["blob"] = None if blob is None else BlobRef(**blob).column()
            rows.append(ENTRY_ROW(values))
    except (KeyError, TypeError, AttributeError):
        raise Malformed("the snapshot is not a complete agent-sessions session") from None
    return {"session": row, "entries": rows}
