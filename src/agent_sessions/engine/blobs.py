"""The blob ledger: which objects of the blob store this store's rows may refer to.

The host writes a large entry in three steps (host.py): `stage` records its object's key as
pending (committed before the put), the put, then the operation's own transaction, which
marks the key live (`Rows._keep_blobs`, where every row that refers to an object is inserted)
and refuses to commit if the key is no longer pending. A transaction that removes such rows
dooms their keys in the same transaction (`Rows._doom_blobs`). What is pending after the
operation (refused, replayed, already held) and what is doomed is garbage: the host deletes
the objects and then their records (`forget_blobs`); the alarm does it for what is left
(`blob_garbage`), including keys pending for longer than BLOB_STALE_MS, the writes that
crashed between put and commit. So an acknowledged write is never missing an object, and no
object outlives the rows that refer to it by more than an alarm.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from . import statements as q
from .keys import SessionKey
from .limits import BLOB_STALE_MS
from .rows import Rows

GARBAGE_PAGE = 100
"""Objects one collection deletes at most; the alarm comes back for the rest."""


class BlobLedger(Rows):
    def stage_blobs(self, key: SessionKey, keys: Sequence[str]) -> None:
        """Record `keys` as pending, before their objects are put."""

        def write() -> None:
            now = self._clock()
            for name in keys:
                self._sql.execute(q.INSERT_PENDING_BLOB, (name, *key.params, now))

        self._sql.transaction(write)

    def pending_blobs(self, keys: Sequence[str]) -> list[str]:
        """Of `keys`, those no committed write took: the host deletes their objects."""
        return [r["key"] for r in self._sql.execute(q.SELECT_PENDING_BLOBS, (json.dumps(keys),))]

    def blob_garbage(self) -> list[str]:
        """Objects to delete now: doomed ones, and pending ones of writes that crashed."""
        stale = self._clock() - BLOB_STALE_MS
        return [r["key"] for r in self._sql.execute(q.SELECT_BLOB_GARBAGE, (stale, GARBAGE_PAGE))]

    def forget_blobs(self, keys: Sequence[str]) -> None:
        """Once their objects are deleted: their records go (a live one stays)."""
        if keys:
            self._sql.transaction(
                lambda: self._sql.execute(q.DELETE_BLOB_RECORDS, (json.dumps(list(keys)),))
            )

    def next_blob_due(self) -> int | None:
        return self._due(q.SELECT_NEXT_BLOB_DUE, (BLOB_STALE_MS,))
