"""`MirrorPort` over one of the Worker's D1 bindings (`env.DB`, or a shard's), inside Pyodide.

It speaks to the runtime's own D1 object, not the SDK's wrapper, for the reason
adapters/durable_object.py does: the wrapper converts every value crossing, both ways,
including the result objects of a batch that the mirror never reads. Here parameters go in
as they are (strings and numbers; None as JavaScript null; every number binds as a REAL, so
the mirror binds no number where text is meant), a batch's results stay in JavaScript, and a
query's rows come back as one JSON text.
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


def _bound(db: Any, sql: str, params: Sequence[SqlValue]) -> Any:
    return db.prepare(sql).bind(*(jsnull if p is None else p for p in params))


class D1Mirror:
    def __init__(self, db: Any) -> None:
        self._db = python_to_rpc(db)  # the runtime's object, wrapped by the SDK or not

    async def apply(self, statements: Sequence[Statement]) -> None:
        await self._db.batch(to_js([_bound(self._db, sql, params) for sql, params in statements]))

    async def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        result = await _bound(self._db, sql, params).all()
        return json.loads(JSON.stringify(result.results))
