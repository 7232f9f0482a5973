"""The shape of the history: branches (the leaf and the context read along it), compaction's
effect on that read, cutting history (prune, replace), and adopting a fork's copied entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import statements as q
from .batches import prepare_batch, session_columns
from .errors import AlreadyExists, DuplicateEntry, InvalidInput, TooLarge
from .keys import SessionKey
from .large import blob_bytes, check_mode
from .limits import MAX_READ_BYTES
from .log import Log
from .ports import IntegrityViolation, Row
from .rows import entry, summary
from .rules import SESSION_FIELDS, check_version, only
from .values import check_count, check_id


class Branches(Log):
    def set_leaf(
        self, key: SessionKey, entry_id: Any, expected_version: Any = None
    ) -> dict[str, Any]:
        """Move the current leaf to an earlier entry (rewind, regenerate): later appends hang
        off it, and the context read follows the branch that ends there."""
        check_id(entry_id, "entry_id")

        def write() -> dict[str, Any]:
            session = self._require(key)
            check_version(session["version"], expected_version)
            if not self._sql.execute(q.SELECT_ENTRY, (*key.params, entry_id)):
                raise InvalidInput(
                    "entry_id names no entry of this session", {"entry_id": entry_id}
                )
            version, now = self._stamp(key, session, "upsert_session")
            self._sql.execute(q.UPDATE_LEAF, (entry_id, version, now, *key.params))
            return summary(self._require(key))

        return self._sql.transaction(write)

    def read_context(self, key: SessionKey, large: Any = None) -> dict[str, Any]:
        """What an agent loads to continue: the current branch from the root (or from the latest
        compaction's first_kept_seq) to the leaf, with that compaction's summary entry first.
        Whole (the default), its large parts must fit in one answer (MAX_READ_BYTES)."""
        whole = check_mode(large) == "whole"
        session = self._require(key)
        leaf = session["leaf_id"]
        if leaf is None:
            return {"entries": [], "leaf_id": None, "compaction_seq": None}
        params = (*key.params, leaf, *key.params)
        rows = [entry(r) for r in self._sql.execute(q.SELECT_CONTEXT, params)]
        rows.sort(key=lambda e: e["seq"])  # the walk goes leaf to root
        compactions = [e for e in rows if e["type"] == "compaction"]
        latest = compactions[-1] if compactions else None
        if latest is not None:
            rows = [latest, *(e for e in rows if e is not latest)]
        held = sum(blob_bytes(e) for e in rows)
        if whole and held > MAX_READ_BYTES:
            raise TooLarge(
                f"the context's large entries hold {held} bytes, more than one answer carries "
                f"({MAX_READ_BYTES}): read it with large='prefix', then those entries",
                {"limit": MAX_READ_BYTES},
            )
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
            check_version(session["version"], expected_version)
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
        batch = prepare_batch(entries) if entries else []

        def write() -> dict[str, Any]:
            session = self._require(key)
            check_version(session["version"], expected_version)
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
        version, now = self._stamp(key, session, "delete_entries", low, high)
        self._doom_blobs(key, low, high)
        self._sql.execute(q.DELETE_RANGE, (*key.params, low, high))
        self._sql.execute(
            q.UPDATE_AFTER_DELETE,
            (gone["entries"], gone["messages"], leaf, version, now, *key.params),
        )
        return gone["entries"], version, now

    def adopt_entries(
        self, key: SessionKey, origin: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """One page of a fork, written into the child: created from `origin` (parent_id,
        forked_from_seq and the session's fields) on the first call, then filled with the
        source's entries, which keep their ids, seqs and parents.

        Idempotent, so a fork can be retried or resumed: entries the child already holds are
        skipped. A child of another origin under the same id is a conflict.
        """
        only(origin, SESSION_FIELDS | {"parent_id", "forked_from_seq"}, "fork origin")
        parent_id = check_id(origin.get("parent_id"), "parent_id")
        forked_from = check_count(origin.get("forked_from_seq"), "forked_from_seq")
        fields = {k: v for k, v in origin.items() if k not in ("parent_id", "forked_from_seq")}
        columns = session_columns(fields) | {
            "parent_id": parent_id,
            "forked_from_seq": forked_from,
        }
        batch = prepare_batch(entries, limit=None, extra={"created_at", "seq"}) if entries else []
        seqs = [check_count(e.get("seq"), "seq") for e in entries]
        if seqs != sorted(set(seqs)) or any(not 1 <= s <= forked_from for s in seqs):
            raise InvalidInput("copied entries need increasing seqs up to forked_from_seq")
        for item, seq in zip(batch, seqs, strict=True):
            item["seq"] = seq

        def write() -> dict[str, Any]:
            rows = self._sql.execute(q.SELECT_SESSION, key.params)
            if not rows:
                self._insert_session(key, columns, self._clock())
            elif (rows[0]["parent_id"], rows[0]["forked_from_seq"]) != (parent_id, forked_from):
                raise AlreadyExists(f"session {key.session_id!r} already exists")
            session = self._require(key)
            fresh = [e for e in batch if e["seq"] > session["last_seq"]]
            if fresh:
                self._insert_entries(key, session, fresh, copied=True)
            return summary(self._require(key))

        return self._sql.transaction(write)
