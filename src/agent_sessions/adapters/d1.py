"""`MirrorPort` over the Worker's D1 binding (`env.DB`), inside Pyodide.

The SDK wraps the binding, so parameters go through `python_to_rpc` (every number a REAL:
the mirror binds no number where text is meant) and results come back as Python values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..engine.ports import Row, SqlValue
from ..mirror.ports import Statement


class D1Mirror:
    def __init__(self, db: Any) -> None:
        self._db = db

    async def apply(self, statements: Sequence[Statement]) -> None:
        await self._db.batch([self._db.prepare(sql).bind(*params) for sql, params in statements])

    async def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        result = await self._db.prepare(sql).bind(*params).all()
        rows = result["results"] if isinstance(result, dict) else result.results
        return [r if isinstance(r, dict) else r.to_py() for r in rows]
