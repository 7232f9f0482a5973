"""`MirrorPort` over a local SQLite file holding D1's schema (local mode, tests, benchmarks).

`sqlite3 data/d1.sqlite 'select ...'` then answers like D1 would. Values go through D1's
binding rules by default, so the local mirror stores what D1 would store.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..engine.ports import Row, SqlValue
from ..engine.schema import ensure_mirror_schema
from ..mirror.ports import Statement
from .runtime_values import D1, ValueRules
from .sqlite import SqliteSql, connect


class SqliteMirror:
    def __init__(self, path: str | Path, values: ValueRules | None = D1) -> None:
        self.sql = SqliteSql(connect(path), values)
        ensure_mirror_schema(self.sql)
        self.batches = 0
        """Batches applied: with `sql.statements`, what the benchmarks count."""

    async def apply(self, statements: Sequence[Statement]) -> None:
        def run() -> None:
            for sql, params in statements:
                self.sql.execute(sql, params)

        self.sql.transaction(run)
        self.batches += 1

    async def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        return self.sql.execute(sql, params)

    def close(self) -> None:
        self.sql.close()
