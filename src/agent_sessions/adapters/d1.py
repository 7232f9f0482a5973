"""`MirrorPort` over one of the Worker's D1 bindings (`env.DB`, or a shard's), inside Pyodide.

It speaks to the runtime's own D1 object, not the SDK's wrapper, for the reason
adapters/durable_object.py does: the wrapper converts every value crossing, both ways,
including the result objects of a batch that the mirror never reads. Here parameters go in
as they are (strings and numbers; None as JavaScript null; every number binds as a REAL, so
the mirror binds no number where text is meant), a batch's results stay in JavaScript, and a
query's rows come back as one JSON text.

Batches and cross-session reads go through D1's Sessions API (mirror/reads.py): a batch in a
`first-primary` session, whose bookmark the port keeps (the session's mirror status shows it),
and a read in a session started from what its caller asked for, so that D1 may serve it from
a read replica. Local D1 (miniflare) has the same API, with bookmarks of its own making: it
accepts any string as one, and a read with it succeeds. What D1 proper does with a bookmark it
cannot honour (one of another database, as a caller may hold across a move of its tenant,
service/moves.py) cannot be seen here; a read refused with a caller's bookmark is made again
from the primary, which is at least as fresh as any bookmark of its own database, so such a
bookmark costs the replica, never the read. A read refused from the primary fails as before.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from js import JSON
from pyodide.ffi import jsnull, to_js
from workers import python_to_rpc

from ..engine.ports import Row, SqlValue
from ..mirror.ports import Statement
from ..mirror.reads import CONSTRAINTS, PRIMARY, UNCONSTRAINED, Read


def _bound(db: Any, sql: str, params: Sequence[SqlValue]) -> Any:
    return db.prepare(sql).bind(*(jsnull if p is None else p for p in params))


def _rows(result: Any) -> list[Row]:
    return json.loads(JSON.stringify(result.results))


def _bookmark(session: Any) -> str | None:
    """`getBookmark()`: a string, or JavaScript null before the session has read anything."""
    value = session.getBookmark()
    return value if isinstance(value, str) else None


class D1Mirror:
    def __init__(self, db: Any) -> None:
        self._db = python_to_rpc(db)  # the runtime's object, wrapped by the SDK or not
        self._written: str | None = None

    async def apply(self, statements: Sequence[Statement]) -> None:
        session = self._db.withSession(PRIMARY)
        await session.batch(to_js([_bound(session, sql, params) for sql, params in statements]))
        self._written = _bookmark(session)

    def written(self) -> str | None:
        """Kept in memory, per Durable Object instance: an evicted object forgets it, and its
        next batch makes a new one."""
        return self._written

    async def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        """Outside any session, so from the primary: the parity checks and a move's pages
        compare with what was just written."""
        return _rows(await _bound(self._db, sql, params).all())

    async def read(self, sql: str, params: Sequence[SqlValue], bookmark: str | None) -> Read:
        asked = bookmark or UNCONSTRAINED
        session = self._db.withSession(asked)
        try:
            result = await _bound(session, sql, params).all()
        except Exception:
            if asked in CONSTRAINTS:
                raise
            session = self._db.withSession(PRIMARY)
            result = await _bound(session, sql, params).all()
        return Read(_rows(result), _bookmark(session))
