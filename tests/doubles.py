"""A CPython double of a Durable Object's `ctx.storage`, for the `DurableObjectSql` adapter.

It imitates what the adapter relies on in workerd: `sql.exec(sql, *params)` returning a cursor
with `toArray()`, `transactionSync(fn)` that commits or rolls back, values converted by the
DO's rules, and SQLite errors surfacing as plain JS-style errors (no sqlite3 types), so the
adapter's own translation is what is tested. The runtime tier checks the real thing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from agent_sessions.adapters.runtime_values import DURABLE_OBJECT


class JsError(Exception):
    """What a failed `exec` raises inside Pyodide: an error carrying only a message."""


class _Cursor:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows

    def toArray(self) -> list[dict[str, Any]]:
        return self._rows


class _Sql:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.statements = 0

    def exec(self, sql: str, *params: Any) -> _Cursor:
        if sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "ROLLBACK")):
            raise JsError("Error: use ctx.storage.transactionSync() instead of BEGIN/COMMIT")
        self.statements += 1
        try:
            cursor = self._conn.execute(sql, [DURABLE_OBJECT.bind(p) for p in params])
        except sqlite3.Error as exc:
            raise JsError(f"Error: {exc}: SQLITE_ERROR") from None
        names = [d[0] for d in cursor.description or ()]
        return _Cursor(
            [{n: DURABLE_OBJECT.read(v) for n, v in zip(names, r, strict=False)} for r in cursor]
        )


class FakeDurableObjectStorage:
    def __init__(self, path: str = ":memory:") -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.sql = _Sql(self.conn)

    def transactionSync(self, fn: Callable[[], Any]) -> Any:
        self.conn.execute("BEGIN")
        try:
            result = fn()
        except BaseException as exc:
            self.conn.execute("ROLLBACK")
            raise JsError(f"Error: {exc}") from None
        self.conn.execute("COMMIT")
        return result
