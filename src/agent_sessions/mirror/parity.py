"""Checking one session's rows in D1 against its Durable Object, column by column.

The DO is the source of truth: a difference is D1 missing a row, holding an extra one, or
holding a different value. `SessionEngine.resync_mirror` repairs whatever this finds. Rows
are compared by a hash of all their shared columns, so memory stays small for long sessions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..engine import SessionKey
from ..engine.ddl import ENTRY_COLUMNS, SESSION_COLUMNS
from ..engine.ports import Row, SqlPort
from . import statements as q
from .ports import MirrorPort

PAGE = 500
MAX_REPORTED = 50
"""Seqs listed per kind of difference; the counts are always complete."""


def _values(row: Row | None, columns: tuple[str, ...]) -> tuple[Any, ...] | None:
    return None if row is None else tuple(row[c] for c in columns)


async def _entry_hashes(fetch: Callable[[int], Awaitable[list[Row]]]) -> dict[int, int]:
    hashes: dict[int, int] = {}
    after = 0
    while True:
        page = await fetch(after)
        hashes.update((r["seq"], hash(_values(r, ENTRY_COLUMNS))) for r in page)
        if len(page) < PAGE:
            return hashes
        after = page[-1]["seq"]


async def verify(sql: SqlPort, mirror: MirrorPort, key: SessionKey) -> dict[str, Any]:
    """Compare the session row and every entry; returns counts and the first differences."""
    params = key.params
    mine = sql.execute(q.PARITY_SESSION, params)
    theirs = await mirror.query(q.PARITY_SESSION, params)
    session_equal = _values(mine[0] if mine else None, SESSION_COLUMNS) == _values(
        theirs[0] if theirs else None, SESSION_COLUMNS
    )

    async def from_do(after: int) -> list[Row]:
        return sql.execute(q.PARITY_ENTRIES, (*params, after, PAGE))

    async def from_d1(after: int) -> list[Row]:
        return await mirror.query(q.PARITY_ENTRIES, (*params, after, PAGE))

    do_rows, d1_rows = await _entry_hashes(from_do), await _entry_hashes(from_d1)
    differences = {
        "missing": sorted(set(do_rows) - set(d1_rows)),
        "extra": sorted(set(d1_rows) - set(do_rows)),
        "different": sorted(s for s in set(do_rows) & set(d1_rows) if do_rows[s] != d1_rows[s]),
    }
    return {
        "id": key.session_id,
        "equal": session_equal and not any(differences.values()),
        "session_equal": session_equal,
        "counts": {kind: len(seqs) for kind, seqs in differences.items()},
        "entries": {kind: seqs[:MAX_REPORTED] for kind, seqs in differences.items()},
    }
