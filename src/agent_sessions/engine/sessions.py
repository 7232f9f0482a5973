"""The session engine: one session row plus an append-only log of entries.

Every write is one transaction that changes the entries, the session row (counters, version,
updated_at) and the mirror outbox together, and writes only what is new: an append costs a
few statements whatever the length of the history.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

from . import statements as q
from .errors import (
    AlreadyExists,
    DuplicateEntry,
    Fenced,
    InvalidInput,
    Malformed,
    NotFound,
    TooLarge,
    VersionConflict,
)
from .lifecycle import NO_LIFECYCLE, Lifecycle
from .limits import (
    DEFAULT_PAGE_SIZE,
    MAX_APPEND_BYTES,
    MAX_DATA_BYTES,
    MAX_ENTRIES_PER_APPEND,
    MAX_ENTRY_BYTES,
    MAX_METADATA_BYTES,
    MAX_PAGE_SIZE,
)
from .ports import IntegrityViolation, Row, SqlPort
from .schema import ensure_schema
from .values import (
    check_count,
    check_id,
    check_optional_int,
    check_size,
    check_text,
    decode_json,
    encode_json,
    new_id,
)

STATUSES = ("active", "completed", "abandoned", "archived")
TRANSITIONS = {
    "active": {"completed", "abandoned"},
    "completed": {"active"},
    "abandoned": {"active"},
    "archived": set(),
}
"""Allowed status changes. 'archived' is entered and left by the cold tier only."""
UPDATABLE = frozenset({"user_id", "agent_name", "title", "metadata", "status", "expires_at"})
ENTRY_TYPES = frozenset({"message", "tool_call", "tool_result", "compaction", "metadata", "custom"})
SESSION_FIELDS = frozenset({"user_id", "agent_name", "title", "metadata", "data", "expires_at"})
ENTRY_FIELDS = frozenset(
    {"id", "type", "role", "parent_id", "content", "payload", "input_tokens", "output_tokens"}
)
ORDERS = ("asc", "desc")
_ENTRY_ROW = itemgetter(*q.ENTRY_COLUMNS)
"""An entry's values in the column order of the INSERT."""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class SessionKey:
    """Which session: the tenant is part of every key, so tenants can never meet."""

    tenant_id: str
    session_id: str

    def __post_init__(self) -> None:
        check_id(self.tenant_id, "tenant_id")
        check_id(self.session_id, "session_id")

    @property
    def params(self) -> tuple[str, str]:
        return (self.tenant_id, self.session_id)

    @property
    def object_name(self) -> str:
        """The Durable Object name; ids cannot contain ':', so the name is unambiguous."""
        return f"{self.tenant_id}:{self.session_id}"


def _check_version(current: int, expected: Any) -> None:
    expected = check_optional_int(expected, "expected_version")
    if expected is not None and expected != current:
        raise VersionConflict(
            f"the session is at version {current}, not {expected}",
            {"current_version": current, "expected_version": expected},
        )


def _only(fields: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    if type(fields) is not dict and not isinstance(fields, Mapping):
        raise InvalidInput(f"{what} must be an object")
    if fields.keys() <= allowed:
        return
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise InvalidInput(f"unknown {what} field(s): {', '.join(unknown)}", {"fields": unknown})


def _summary(row: Row) -> dict[str, Any]:
    session = dict(row)
    session["metadata"] = decode_json(session["metadata"], f"the metadata of {session['id']!r}")
    return session


def _entry(row: Row) -> dict[str, Any]:
    entry = dict(row)
    entry["payload"] = decode_json(entry["payload"], f"the payload of entry {entry['seq']}")
    return entry


class SessionEngine:
    """Operations on sessions stored through a `SqlPort`.

    One instance may serve one session (a Durable Object) or many (tests, a local file):
    every operation names its `SessionKey`.
    """

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

    # -- sessions -----------------------------------------------------------------------

    def create_session(
        self, key: SessionKey, fields: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        fields = fields or {}
        _only(fields, SESSION_FIELDS, "session")
        columns = _session_columns(fields)

        def write() -> dict[str, Any]:
            return self._insert_session(key, columns, self._clock())

        return self._sql.transaction(write)

    def update_session(
        self, key: SessionKey, changes: Mapping[str, Any], expected_version: Any = None
    ) -> dict[str, Any]:
        """Change who/what fields, metadata (replaced whole) or status (see TRANSITIONS)."""
        _only(changes, UPDATABLE, "update")
        if not changes:
            raise InvalidInput("nothing to update", {"fields": sorted(UPDATABLE)})
        columns = _session_columns(changes)
        return self._sql.transaction(lambda: self._update(key, columns, expected_version))

    def _update(
        self, key: SessionKey, columns: dict[str, Any], expected_version: Any = None
    ) -> dict[str, Any]:
        session = dict(self._require(key))
        _check_version(session["version"], expected_version)
        status = columns.get("status", session["status"])
        if status != session["status"] and status not in TRANSITIONS[session["status"]]:
            raise InvalidInput(
                f"status cannot change from {session['status']!r} to {status!r}",
                {"from": session["status"], "to": status},
            )
        merged = session | columns  # the row's own values are already encoded
        version = session["version"] + 1
        now = max(self._clock(), session["updated_at"])
        changed_at = now if status != session["status"] else session["status_changed_at"]
        self._sql.execute(
            q.UPDATE_FIELDS,
            (
                merged["user_id"], merged["agent_name"], merged["title"], status,
                merged["metadata"], merged["expires_at"], changed_at, version, now,
                *key.params,
            ),
        )  # fmt: skip
        self._record(key, "upsert_session", version, now)
        return _summary(self._require(key))

    def import_session(
        self, key: SessionKey, session: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Create a session from an export: its fields, data and entries in one transaction.

        Entries keep their ids, parents, content and timestamps and are numbered 1..n in the
        given order; counters are recomputed from the entries, never trusted.
        """
        _only(session, SESSION_FIELDS | {"status", "created_at"}, "imported session")
        columns = _session_columns(session)
        status = session.get("status", "active")
        if status not in TRANSITIONS or status == "archived":
            raise InvalidInput("status must be active, completed or abandoned", {"field": "status"})
        created_at = check_optional_int(session.get("created_at"), "created_at")
        batch = _prepare_batch(entries, limit=None, extra={"created_at"}) if entries else []

        def write() -> dict[str, Any]:
            now = self._clock()
            self._insert_session(key, columns | {"status": status}, created_at or now, now)
            if batch:
                self._insert_entries(key, self._require(key), batch, now)
            return _summary(self._require(key))

        try:
            return self._sql.transaction(write)
        except IntegrityViolation:
            raise InvalidInput("entry ids repeat within the import") from None

    def get_session(self, key: SessionKey) -> dict[str, Any]:
        return _summary(self._require(key))

    def delete_session(self, key: SessionKey) -> dict[str, Any]:
        return self._sql.transaction(lambda: self._delete(key))

    def _delete(self, key: SessionKey) -> dict[str, Any]:
        session = self._require(key)
        version = session["version"] + 1
        self._sql.execute(q.DELETE_ENTRIES, key.params)
        self._sql.execute(q.DELETE_SESSION, key.params)
        # Remember the version, so a re-created session starts above the tombstone's.
        self._sql.execute(q.UPSERT_META, (self._floor_key(key), str(version)))
        self._record(key, "delete_session", version, self._clock())
        return {"id": key.session_id, "deleted": True, "version": version}

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

    # -- the cold tier: the steps of an archive, which host.ColdTier runs in order --------------

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
                version = session["version"] + 1
                now = max(self._clock(), session["updated_at"])
                self._sql.execute(q.MARK_ARCHIVED, (archive_key, now, version, now, *key.params))
                self._record(key, "upsert_session", version, now)
            return _summary(self._require(key))

        return self._sql.transaction(write)

    def snapshot(self, key: SessionKey) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The session (with its data blob) and every entry, as export shows them."""
        session = _summary(self._require(key))
        data = self._sql.execute(q.SELECT_DATA, key.params)[0]["data"]
        session["data"] = decode_json(data, "the data blob")
        entries: list[dict[str, Any]] = []
        while True:
            after = entries[-1]["seq"] if entries else 0
            page = self._sql.execute(q.SELECT_ALL_ENTRIES, (*key.params, after, MAX_PAGE_SIZE))
            entries += [_entry(r) for r in page]
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
            self._sql.execute(q.DELETE_ENTRIES, key.params)
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

    def restore(
        self, key: SessionKey, session: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Hydrate: put a snapshot's rows back exactly as they were (seqs, ids, versions,
        counters), without outbox work, since D1 has them. Idempotent: a session already here
        is left alone. A snapshot older than this store's version floor is refused: it would
        bring back a session that was deleted or changed since."""
        values = _snapshot_values(key, session, entries)

        def write() -> dict[str, Any]:
            if self._sql.execute(q.SELECT_SESSION, key.params):
                return _summary(self._require(key))
            if values["session"]["version"] < self._version_floor(key):
                raise NotFound(f"session {key.session_id!r} has no current snapshot")
            row = values["session"]
            self._sql.execute(q.INSERT_SESSION, [row[c] for c in q.SESSION_COLUMNS])
            self._insert_rows(values["entries"])
            self._sql.execute(q.DELETE_EVICTED, key.params)
            return _summary(self._require(key))

        try:
            return self._sql.transaction(write)
        except IntegrityViolation:
            raise InvalidInput("the snapshot's entries repeat a seq or an id") from None

    def unarchive(self, key: SessionKey) -> None:
        """A write to an archived session brings it back: status 'active' again."""

        def write() -> None:
            session = self._require(key)
            if session["status"] == "archived":
                version = session["version"] + 1
                now = max(self._clock(), session["updated_at"])
                self._sql.execute(q.UNARCHIVE, (now, version, now, *key.params))
                self._record(key, "upsert_session", version, now)

        self._sql.transaction(write)

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
            self._sql.execute(q.DELETE_EVICTED, key.params)
            self._sql.execute(q.UPSERT_META, (self._floor_key(key), str(version)))
            self._record(key, "delete_session", version, self._clock())
            return True

        return self._sql.transaction(write)

    # -- the opaque blob (Flue's id, data, updated_at) ---------------------------------------

    def save_data(self, key: SessionKey, data: Any, expected_version: Any = None) -> dict[str, Any]:
        text = None if data is None else encode_json(data, "data", MAX_DATA_BYTES)

        def write() -> dict[str, Any]:
            session = self._require(key)
            _check_version(session["version"], expected_version)
            version = session["version"] + 1
            updated_at = max(self._clock(), session["updated_at"])
            self._sql.execute(q.UPDATE_DATA, (text, version, updated_at, *key.params))
            self._record(key, "upsert_session", version, updated_at)
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

    # -- the entry log ------------------------------------------------------------------

    def append(
        self,
        key: SessionKey,
        entries: Sequence[Mapping[str, Any]],
        expected_version: Any = None,
        writer: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append a batch of entries atomically; returns their ids and seqs and the new version.

        Idempotent by entry id: re-sending a batch whose entries all exist with the same content
        returns the original seqs (`replayed: true`) and writes nothing, even with a stale
        `expected_version`, so a client can retry after a lost answer. The same id with other
        content is a 409 `duplicate_entry`. The check runs only when the write was refused, so
        it costs nothing on the happy path.

        `writer` ({writer_id, epoch, seq}) fences the append to the writer that claimed the
        session (`claim_writer`): see `_fence`.
        """
        batch = _prepare_batch(entries)
        claim = _writer(writer)
        digest = _digest(entries) if claim else None

        def write() -> dict[str, Any]:
            session = self._require(key, q.SELECT_HEAD)
            if claim is not None:
                earlier = self._fence(key, claim, digest)
                if earlier is not None:
                    return earlier
            _check_version(session["version"], expected_version)
            result = self._insert_entries(key, session, batch, self._clock())
            if claim is not None:
                self._sql.execute(q.ADVANCE_WRITER, (digest, json.dumps(result), *key.params))
            return result

        try:
            return self._sql.transaction(write)
        except (IntegrityViolation, VersionConflict) as refused:
            replay = self._replay(key, batch)
            if replay is not None:
                return replay
            if isinstance(refused, VersionConflict):
                raise
            raise DuplicateEntry("entry id(s) already exist in this session") from None

    def claim_writer(self, key: SessionKey, writer_id: Any) -> dict[str, Any]:
        """Make `writer_id` the session's only writer: the epoch goes up by one, which fences
        every earlier writer, and the writer sequence starts again at 0. Returns what the
        writer needs to resume: its epoch and the head of the log."""
        check_id(writer_id, "writer_id")

        def write() -> dict[str, Any]:
            session = self._require(key)
            self._sql.execute(q.CLAIM_WRITER, (*key.params, writer_id))
            fence = self._sql.execute(q.SELECT_WRITER, key.params)[0]
            return {
                "writer_id": writer_id,
                "epoch": fence["epoch"],
                "next_seq": 0,
                "head_seq": session["last_seq"],
                "version": session["version"],
            }

        return self._sql.transaction(write)

    def get_writer(self, key: SessionKey) -> dict[str, Any]:
        """The session's writer fence as a writer resumes from it: who holds the claim, its
        epoch and the writer sequence the next append must carry (no claim yet: epoch 0)."""
        session = self._require(key)
        rows = self._sql.execute(q.SELECT_WRITER, key.params)
        fence = rows[0] if rows else {"writer_id": None, "epoch": 0, "next_seq": 0}
        return {
            "writer_id": fence["writer_id"],
            "epoch": fence["epoch"],
            "next_seq": fence["next_seq"],
            "head_seq": session["last_seq"],
            "version": session["version"],
        }

    def _fence(self, key: SessionKey, claim: dict[str, Any], digest: str | None) -> Any:
        """Check a writer's append: the current epoch and writer, and the next writer
        sequence. The previous sequence again with the same batch is an exact retry and
        returns the original result; anything else out of order is a 409 `fenced`."""
        rows = self._sql.execute(q.SELECT_WRITER, key.params)
        fence = rows[0] if rows else None
        if fence is None or (fence["epoch"], fence["writer_id"]) != (
            claim["epoch"],
            claim["writer_id"],
        ):
            raise Fenced(
                "this writer's claim is not the current one: claim the session again",
                {"epoch": fence["epoch"] if fence else 0, "reason": "stale_epoch"},
            )
        if claim["seq"] == fence["next_seq"]:
            return None
        if claim["seq"] == fence["next_seq"] - 1 and fence["last_digest"] == digest:
            return json.loads(fence["last_result"]) | {"replayed": True}
        raise Fenced(
            f"writer sequence {claim['seq']} is out of order; the next is {fence['next_seq']}",
            {"epoch": fence["epoch"], "next_seq": fence["next_seq"], "reason": "sequence"},
        )

    def set_leaf(
        self, key: SessionKey, entry_id: Any, expected_version: Any = None
    ) -> dict[str, Any]:
        """Move the current leaf to an earlier entry (rewind, regenerate): later appends hang
        off it, and the context read follows the branch that ends there."""
        check_id(entry_id, "entry_id")

        def write() -> dict[str, Any]:
            session = self._require(key)
            _check_version(session["version"], expected_version)
            if not self._sql.execute(q.SELECT_ENTRY, (*key.params, entry_id)):
                raise InvalidInput(
                    "entry_id names no entry of this session", {"entry_id": entry_id}
                )
            version = session["version"] + 1
            now = max(self._clock(), session["updated_at"])
            self._sql.execute(q.UPDATE_LEAF, (entry_id, version, now, *key.params))
            self._record(key, "upsert_session", version, now)
            return _summary(self._require(key))

        return self._sql.transaction(write)

    def find_entry(self, key: SessionKey, entry_id: Any) -> dict[str, Any]:
        check_id(entry_id, "entry_id")
        self._require(key)
        rows = self._sql.execute(q.SELECT_ENTRIES_BY_ID, (*key.params, json.dumps([entry_id])))
        if not rows:
            raise NotFound(f"entry {entry_id!r} not found in this session")
        return _entry(rows[0])

    def adopt_entries(
        self, key: SessionKey, origin: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """One page of a fork, written into the child: created from `origin` (parent_id,
        forked_from_seq and the session's fields) on the first call, then filled with the
        source's entries, which keep their ids, seqs and parents.

        Idempotent, so a fork can be retried or resumed: entries the child already holds are
        skipped. A child of another origin under the same id is a conflict.
        """
        _only(origin, SESSION_FIELDS | {"parent_id", "forked_from_seq"}, "fork origin")
        parent_id = check_id(origin.get("parent_id"), "parent_id")
        forked_from = check_count(origin.get("forked_from_seq"), "forked_from_seq")
        fields = {k: v for k, v in origin.items() if k not in ("parent_id", "forked_from_seq")}
        columns = _session_columns(fields) | {
            "parent_id": parent_id,
            "forked_from_seq": forked_from,
        }
        batch = _prepare_batch(entries, limit=None, extra={"created_at", "seq"}) if entries else []
        seqs = [check_count(e.get("seq"), "seq") for e in entries]
        if seqs != sorted(set(seqs)) or any(not 1 <= s <= forked_from for s in seqs):
            raise InvalidInput("copied entries need increasing seqs up to forked_from_seq")
        for entry, seq in zip(batch, seqs, strict=True):
            entry["seq"] = seq

        def write() -> dict[str, Any]:
            rows = self._sql.execute(q.SELECT_SESSION, key.params)
            if not rows:
                self._insert_session(key, columns, self._clock())
            elif (rows[0]["parent_id"], rows[0]["forked_from_seq"]) != (parent_id, forked_from):
                raise AlreadyExists(f"session {key.session_id!r} already exists")
            session = self._require(key)
            fresh = [e for e in batch if e["seq"] > session["last_seq"]]
            if fresh:
                self._insert_entries(key, session, fresh, self._clock(), copied=True)
            return _summary(self._require(key))

        return self._sql.transaction(write)

    def read_context(self, key: SessionKey) -> dict[str, Any]:
        """What an agent loads to continue: the current branch from the root (or from the latest
        compaction's first_kept_seq) to the leaf, with that compaction's summary entry first."""
        session = self._require(key)
        leaf = session["leaf_id"]
        if leaf is None:
            return {"entries": [], "leaf_id": None, "compaction_seq": None}
        params = (*key.params, leaf, *key.params)
        rows = [_entry(r) for r in self._sql.execute(q.SELECT_CONTEXT, params)]
        rows.sort(key=lambda e: e["seq"])  # the walk goes leaf to root
        compactions = [e for e in rows if e["type"] == "compaction"]
        latest = compactions[-1] if compactions else None
        if latest is not None:
            rows = [latest, *(e for e in rows if e is not latest)]
        return {
            "entries": rows,
            "leaf_id": leaf,
            "compaction_seq": latest["seq"] if latest else None,
        }

    def prune(
        self, key: SessionKey, before_seq: Any, expected_version: Any = None
    ) -> dict[str, Any]:
        """Delete the entries before `before_seq` for good (D1 follows by tombstone). The leaf
        must survive: prune what a compaction made unnecessary, not the current branch's end."""
        before = check_count(before_seq, "before_seq")

        def write() -> dict[str, Any]:
            session = self._require(key)
            _check_version(session["version"], expected_version)
            leaf = session["leaf_id"]
            if leaf is not None:
                leaf_seq = self._sql.execute(q.SELECT_ENTRY, (*key.params, leaf))[0]["seq"]
                if leaf_seq < before:
                    raise InvalidInput(
                        "prune would remove the current leaf; move the leaf first",
                        {"leaf_seq": leaf_seq, "before_seq": before},
                    )
            gone, version, _ = self._delete_range(key, session, 0, before - 1, leaf)
            return {"id": key.session_id, "pruned": gone, "version": version}

        return self._sql.transaction(write)

    def replace_history(
        self,
        key: SessionKey,
        from_seq: Any,
        entries: Sequence[Mapping[str, Any]],
        expected_version: Any = None,
    ) -> dict[str, Any]:
        """Replace the log from `from_seq` on with `entries`, atomically: for SDKs that rewrite
        history (overflow recovery). The old entries are deleted (D1 follows by tombstone) and
        the new ones appended after them with fresh seqs, hanging off the entry before
        `from_seq`; seqs are never reused. An empty `entries` truncates."""
        start = check_count(from_seq, "from_seq")
        batch = _prepare_batch(entries) if entries else []

        def write() -> dict[str, Any]:
            session = self._require(key)
            _check_version(session["version"], expected_version)
            if not 1 <= start <= session["last_seq"] + 1:
                raise InvalidInput(
                    f"from_seq must be from 1 to {session['last_seq'] + 1}", {"field": "from_seq"}
                )
            base = self._sql.execute(q.SELECT_LAST_BEFORE, (*key.params, start))
            leaf = base[0]["id"] if base else None
            gone, version, now = self._delete_range(key, session, start, session["last_seq"], leaf)
            result: dict[str, Any] = {"id": key.session_id, "removed": gone, "version": version}
            if batch:
                after = self._require(key)
                result |= self._insert_entries(key, after, batch, now) | {"removed": gone}
            return result

        try:
            return self._sql.transaction(write)
        except IntegrityViolation:
            raise DuplicateEntry("a new entry's id is taken by an entry that stays") from None

    def _delete_range(
        self, key: SessionKey, session: Row, low: int, high: int, leaf: str | None
    ) -> tuple[int, int, int]:
        """Delete entries low..high, keep the counters exact, set the leaf, record a tombstone.
        Token counters stay: they account for usage that happened."""
        gone = self._sql.execute(q.COUNT_RANGE, (*key.params, low, high))[0]
        version = session["version"] + 1
        now = max(self._clock(), session["updated_at"])
        self._sql.execute(q.DELETE_RANGE, (*key.params, low, high))
        self._sql.execute(
            q.UPDATE_AFTER_DELETE,
            (gone["entries"], gone["messages"], leaf, version, now, *key.params),
        )
        self._record(key, "delete_entries", version, now, low, high)
        return gone["entries"], version, now

    def read_entries(
        self,
        key: SessionKey,
        after_seq: Any = 0,
        before_seq: Any = None,
        types: Sequence[str] | None = None,
        limit: Any = DEFAULT_PAGE_SIZE,
        order: str = "asc",
    ) -> dict[str, Any]:
        """Entries with after_seq < seq < before_seq, filtered by type, in seq order.

        `has_more` says whether another page exists in the same direction.
        """
        after = check_count(after_seq, "after_seq")
        before = check_optional_int(before_seq, "before_seq")
        size = check_count(limit, "limit")
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidInput(f"limit must be from 1 to {MAX_PAGE_SIZE}", {"field": "limit"})
        if order not in ORDERS:
            raise InvalidInput("order must be 'asc' or 'desc'", {"field": "order"})
        type_filter = None
        if types is not None:
            if not isinstance(types, list | tuple) or not set(types) <= ENTRY_TYPES:
                raise InvalidInput(
                    f"types must be a list of {sorted(ENTRY_TYPES)}", {"field": "types"}
                )
            type_filter = json.dumps(list(types))
        self._require(key)
        statement = q.SELECT_ENTRIES_ASC if order == "asc" else q.SELECT_ENTRIES_DESC
        params = (*key.params, after, before, before, type_filter, type_filter, size + 1)
        rows = self._sql.execute(statement, params)
        return {"entries": [_entry(r) for r in rows[:size]], "has_more": len(rows) > size}

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
        return _summary({c: row[c] for c in q.SUMMARY_COLUMNS})

    def _insert_entries(
        self,
        key: SessionKey,
        session: Row,
        batch: list[dict[str, Any]],
        clock: int,
        copied: bool = False,
    ) -> dict[str, Any]:
        """Insert a validated batch, update the counters, record the mirror work.

        New entries get the next seqs and default to hanging off the leaf; `copied` entries
        (a fork) keep the seqs and parents they had in their source session.
        """
        if not copied:
            self._check_parents(key, batch)
        now = max(clock, session["updated_at"])
        seqs = (
            [e["seq"] for e in batch]
            if copied
            else list(range(session["last_seq"] + 1, session["last_seq"] + 1 + len(batch)))
        )
        leaf = session["leaf_id"]
        rows: list[tuple[Any, ...]] = []
        messages = input_tokens = output_tokens = 0
        for entry, seq in zip(batch, seqs, strict=True):
            parent = entry["parent_id"] if copied or entry["parent_id"] is not None else leaf
            leaf = entry["id"]
            messages += entry["type"] == "message"
            input_tokens += entry["input_tokens"]
            output_tokens += entry["output_tokens"]
            row = {
                "created_at": now,
                **entry,
                "tenant_id": key.tenant_id,
                "session_id": key.session_id,
                "seq": seq,
                "parent_id": parent,
            }
            rows.append(_ENTRY_ROW(row))
        compacted = _compaction_floor(batch, seqs)
        if compacted is not None and compacted > session["compacted_through_seq"]:
            self._sql.execute(q.UPDATE_COMPACTED, (compacted, *key.params))
        self._insert_rows(rows)
        version = session["version"] + 1
        self._sql.execute(
            q.UPDATE_AFTER_APPEND,
            (
                len(batch),
                messages,
                input_tokens,
                output_tokens,
                seqs[-1],
                leaf,
                version,
                now,
                *key.params,
            ),
        )
        self._record(key, "append_entries", version, now, seqs[0], seqs[-1])
        return {
            "entries": [{"id": e["id"], "seq": seq} for e, seq in zip(batch, seqs, strict=True)],
            "first_seq": seqs[0],
            "last_seq": seqs[-1],
            "version": version,
        }

    # -- helpers ------------------------------------------------------------------------

    def _insert_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        """Entry rows (in ENTRY_COLUMNS order) as multi-row INSERTs within the bind limit."""
        per = q.ENTRY_ROWS_PER_INSERT
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            self._sql.execute(q.insert_entries(len(chunk)), list(chain.from_iterable(chunk)))

    def _due(self, statement: str, params: Sequence[Any]) -> int | None:
        """A `min(...) AS due` time: a REAL in a Durable Object, where every bound number is
        one, so it comes back as an int here."""
        due = self._sql.execute(statement, params)[0]["due"]
        return None if due is None else int(due)

    def _require(self, key: SessionKey, statement: str = q.SELECT_SESSION) -> Row:
        rows = self._sql.execute(statement, key.params)
        if not rows:
            raise NotFound(f"session {key.session_id!r} not found")
        return rows[0]

    @staticmethod
    def _floor_key(key: SessionKey) -> str:
        return f"version_floor:{key.object_name}"

    def _version_floor(self, key: SessionKey) -> int:
        rows = self._sql.execute(q.SELECT_META, (self._floor_key(key),))
        return int(rows[0]["value"]) if rows else 0

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

    def _replay(self, key: SessionKey, batch: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The original result if `batch` was already applied exactly; None if none of its ids
        exist; DuplicateEntry if some exist, or exist with other content."""
        ids = [e["id"] for e in batch]
        rows = {
            r["id"]: r
            for r in self._sql.execute(q.SELECT_ENTRIES_BY_ID, (*key.params, json.dumps(ids)))
        }
        if not rows:
            return None
        compared = ("type", "role", "content", "payload", "input_tokens", "output_tokens")
        differ = sorted(
            e["id"]
            for e in batch
            if e["id"] in rows
            and (
                any(rows[e["id"]][f] != e[f] for f in compared)
                or (e["parent_id"] is not None and rows[e["id"]]["parent_id"] != e["parent_id"])
            )
        )
        missing = sorted(set(ids) - set(rows))
        if differ or missing:
            raise DuplicateEntry(
                "entry id(s) already exist in this session with other content"
                if differ
                else "part of this batch was applied before, part was not",
                {"ids": sorted(set(ids) & set(rows)), "different": differ, "missing": missing},
            )
        seqs = [rows[i]["seq"] for i in ids]
        return {
            "entries": [{"id": i, "seq": rows[i]["seq"]} for i in ids],
            "first_seq": min(seqs),
            "last_seq": max(seqs),
            "version": self._require(key)["version"],
            "replayed": True,
        }

    def _existing_ids(self, key: SessionKey, ids: list[str]) -> set[str]:
        rows = self._sql.execute(q.SELECT_EXISTING_ENTRY_IDS, (*key.params, json.dumps(ids)))
        return {r["id"] for r in rows}

    def _check_parents(self, key: SessionKey, batch: list[dict[str, Any]]) -> None:
        """An explicit parent must be an earlier entry: in the session or earlier in the batch."""
        seen: set[str] = set()
        outside: list[str] = []
        for entry in batch:
            parent = entry["parent_id"]
            if parent is not None and parent not in seen:
                outside.append(parent)
            seen.add(entry["id"])
        if outside:
            missing = sorted(set(outside) - self._existing_ids(key, outside))
            if missing:
                raise InvalidInput("parent_id refers to no earlier entry", {"parent_ids": missing})


def _writer(writer: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if writer is None:
        return None
    _only(writer, frozenset({"writer_id", "epoch", "seq"}), "writer")
    missing = sorted(
        {"writer_id", "epoch", "seq"} - {k for k, v in writer.items() if v is not None}
    )
    if missing:
        raise InvalidInput(f"writer needs {', '.join(missing)}", {"fields": missing})
    return {
        "writer_id": check_id(writer.get("writer_id"), "writer.writer_id"),
        "epoch": check_count(writer.get("epoch"), "writer.epoch"),
        "seq": check_count(writer.get("seq"), "writer.seq"),
    }


def _digest(entries: Sequence[Mapping[str, Any]]) -> str:
    """A batch as sent, before ids are generated: what an exact retry must repeat."""
    text = json.dumps(list(entries), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _compaction_floor(batch: list[dict[str, Any]], seqs: list[int]) -> int | None:
    """The compacted_through_seq that the batch's compaction entries imply, after checking each:
    its payload must name a first_kept_seq from 1 up to the compaction's own seq."""
    floor = None
    for entry, own_seq in zip(batch, seqs, strict=True):
        if entry["type"] != "compaction":
            continue
        payload = decode_json(entry["payload"], f"the payload of {entry['id']!r}")
        kept = payload.get("first_kept_seq") if isinstance(payload, dict) else None
        if isinstance(kept, bool) or not isinstance(kept, int) or not 1 <= kept <= own_seq:
            raise InvalidInput(
                "a compaction entry needs payload.first_kept_seq, from 1 to its own seq",
                {"id": entry["id"], "seq": own_seq},
            )
        floor = max(floor or 0, kept - 1)
    return floor


def _session_columns(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The given session fields, checked and encoded as the columns store them."""
    columns: dict[str, Any] = {}
    for name in ("user_id", "agent_name", "title"):
        if name in fields:
            columns[name] = check_text(fields[name], name)
    if "metadata" in fields:
        metadata = fields["metadata"] if fields["metadata"] is not None else {}
        if not isinstance(metadata, dict):
            raise InvalidInput("metadata must be an object", {"field": "metadata"})
        columns["metadata"] = encode_json(metadata, "metadata", MAX_METADATA_BYTES)
    if "data" in fields:
        data = fields["data"]
        columns["data"] = None if data is None else encode_json(data, "data", MAX_DATA_BYTES)
    if "expires_at" in fields:
        columns["expires_at"] = check_optional_int(fields["expires_at"], "expires_at")
    if "status" in fields:
        if fields["status"] not in STATUSES:
            raise InvalidInput(f"status must be one of {list(STATUSES)}", {"field": "status"})
        columns["status"] = fields["status"]
    return columns


def _prepare_batch(
    entries: Sequence[Mapping[str, Any]],
    limit: int | None = MAX_ENTRIES_PER_APPEND,
    extra: frozenset[str] | set[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Validate and encode a batch before the transaction, so bad input writes nothing.

    `limit` caps the entries of one append (None for an import, bounded by the body size);
    `extra` admits more fields (an import keeps `created_at`).
    """
    if not isinstance(entries, list | tuple) or not entries:
        raise InvalidInput("entries must be a non-empty list", {"field": "entries"})
    if limit is not None and len(entries) > limit:
        raise TooLarge(
            f"{len(entries)} entries in one append; the limit is {limit}", {"limit": limit}
        )
    batch: list[dict[str, Any]] = []
    ids: set[str] = set()
    total = 0
    allowed = ENTRY_FIELDS | extra
    for index, raw in enumerate(entries):
        where = f"entries[{index}]"
        _only(raw, allowed, "entry")
        kind = raw.get("type")
        if kind not in ENTRY_TYPES:
            raise InvalidInput(
                f"{where}.type must be one of {sorted(ENTRY_TYPES)}", {"field": f"{where}.type"}
            )
        entry_id = new_id() if raw.get("id") is None else check_id(raw["id"], f"{where}.id")
        if entry_id in ids:
            raise InvalidInput(f"{where}.id repeats an id of this batch", {"id": entry_id})
        ids.add(entry_id)
        parent = raw.get("parent_id")
        content = check_text(raw.get("content"), f"{where}.content", None)
        payload = None
        if raw.get("payload") is not None:
            payload = encode_json(raw["payload"], f"{where}.payload", MAX_ENTRY_BYTES)
        size = check_size((content or "") + (payload or ""), where, MAX_ENTRY_BYTES)
        total += size
        prepared = {
            "id": entry_id,
            "type": kind,
            "role": check_text(raw.get("role"), f"{where}.role"),
            "parent_id": None if parent is None else check_id(parent, f"{where}.parent_id"),
            "content": content,
            "payload": payload,
            "input_tokens": check_count(raw.get("input_tokens"), f"{where}.input_tokens"),
            "output_tokens": check_count(raw.get("output_tokens"), f"{where}.output_tokens"),
        }
        if "created_at" in extra and raw.get("created_at") is not None:
            prepared["created_at"] = check_count(raw["created_at"], f"{where}.created_at")
        batch.append(prepared)
    if total > MAX_APPEND_BYTES:
        raise TooLarge(
            f"the batch holds {total} bytes; the limit is {MAX_APPEND_BYTES}",
            {"limit": MAX_APPEND_BYTES},
        )
    return batch


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
        for entry in entries:
            values = dict(entry) | {"tenant_id": key.tenant_id, "session_id": key.session_id}
            payload = entry.get("payload")
            values["payload"] = (
                None if payload is None else encode_json(payload, "payload", MAX_ENTRY_BYTES)
            )
            rows.append(_ENTRY_ROW(values))
    except (KeyError, TypeError, AttributeError):
        raise Malformed("the snapshot is not a complete agent-sessions session") from None
    return {"session": row, "entries": rows}
