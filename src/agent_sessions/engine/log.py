"""The entry log: appending batches (atomic, idempotent by entry id, optionally fenced and
guarded by version) and reading entries back."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from . import statements as q
from .batches import prepare_batch
from .errors import DuplicateEntry, InvalidInput, NotFound, VersionConflict
from .fence import Fencing, batch_digest, writer_claim
from .keys import SessionKey
from .large import check_mode, row_bytes, same_blob
from .limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_READ_BYTES
from .ports import IntegrityViolation
from .rows import entry
from .rules import ENTRY_TYPES, ORDERS, check_version
from .values import check_count, check_id, check_optional_int

_COMPARED = ("type", "role", "content", "payload", "input_tokens", "output_tokens")
"""What must be equal for a re-sent entry to count as the same entry."""


class Log(Fencing):
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
        session (`claim_writer`): see `Fencing._fence`.
        """
        batch = prepare_batch(entries)
        claim = writer_claim(writer)
        digest = batch_digest(entries) if claim else None

        def write() -> dict[str, Any]:
            session = self._require(key, q.SELECT_HEAD)
            if claim is not None:
                earlier = self._fence(key, claim, digest)
                if earlier is not None:
                    return earlier
            check_version(session["version"], expected_version)
            result = self._insert_entries(key, session, batch)
            if claim is not None:
                self._advance_writer(key, digest, result)
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
        differ = sorted(
            e["id"]
            for e in batch
            if e["id"] in rows
            and (
                any(rows[e["id"]][f] != e[f] for f in _COMPARED)
                or not same_blob(rows[e["id"]]["blob"], e["blob"])
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

    def read_entries(
        self,
        key: SessionKey,
        after_seq: Any = 0,
        before_seq: Any = None,
        types: Sequence[str] | None = None,
        limit: Any = DEFAULT_PAGE_SIZE,
        order: str = "asc",
        large: Any = None,
    ) -> dict[str, Any]:
        """Entries with after_seq < seq < before_seq, filtered by type, in seq order.

        `has_more` says whether another page exists in the same direction. `large` says how
        the host answers large entries (engine/large.py); read whole, a page ends before the
        entry that would take it past MAX_READ_BYTES (it holds one at least).
        """
        whole = check_mode(large) == "whole"
        after = check_count(after_seq, "after_seq")
        before = check_optional_int(before_seq, "before_seq")
        size = DEFAULT_PAGE_SIZE if limit is None else check_count(limit, "limit")
        order = order or "asc"  # None: left out before a given `large`
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidInput(f"limit must be from 1 to {MAX_PAGE_SIZE}", {"field": "limit"})
        if order not in ORDERS:
            raise InvalidInput("order must be 'asc' or 'desc'", {"field": "order"})
        type_filter = None
        if types is not None:
            if not isinstance(types, list | tuple) or not set(types) <= set(ENTRY_TYPES):
                raise InvalidInput(
                    f"types must be a list of {sorted(ENTRY_TYPES)}", {"field": "types"}
                )
            type_filter = json.dumps(list(types))
        session = self._require(key, q.SELECT_HEAD)
        statement = q.SELECT_ENTRIES_ASC if order == "asc" else q.SELECT_ENTRIES_DESC
        params = (*key.params, after, before, before, type_filter, type_filter, size + 1)
        rows = self._sql.execute(statement, params)
        page, held = rows[:size], 0
        for index, row in enumerate(page if whole else ()):
            held += row_bytes(row)
            if held > MAX_READ_BYTES and index:
                page = page[:index]
                break
        has_more = len(rows) > len(page)
        return {
            "entries": [entry(r) for r in page],
            "has_more": has_more,
            "next_cursor": page[-1]["seq"] if has_more else None,
            "version": session["version"],
            "entry_count": session["entry_count"],
            "last_seq": session["last_seq"],
        }

    def find_entry(self, key: SessionKey, entry_id: Any) -> dict[str, Any]:
        check_id(entry_id, "entry_id")
        self._require(key)
        rows = self._sql.execute(q.SELECT_ENTRIES_BY_ID, (*key.params, json.dumps([entry_id])))
        if not rows:
            raise NotFound(f"entry {entry_id!r} not found in this session")
        return entry(rows[0])
