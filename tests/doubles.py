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
        self.calls = 0
        """`exec` calls: in workerd, each is a crossing from Python into JavaScript."""

    def exec(self, sql: str, *params: Any) -> _Cursor:
        """As workerd's: a text of several statements runs each, the parameters bound to the
        last one, whose rows the cursor holds."""
        self.calls += 1
        *before, last = _statements(sql)
        for statement in before:
            self._run(statement, ())
        cursor = self._run(last, params)
        names = [d[0] for d in cursor.description or ()]
        return _Cursor(
            [{n: DURABLE_OBJECT.read(v) for n, v in zip(names, r, strict=False)} for r in cursor]
        )

    def _run(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        if sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "ROLLBACK")):
            raise JsError("Error: use ctx.storage.transactionSync() instead of BEGIN/COMMIT")
        self.statements += 1
        try:
            return self._conn.execute(sql, [DURABLE_OBJECT.bind(p) for p in params])
        except sqlite3.Error as exc:
            raise JsError(f"Error: {exc}: SQLITE_ERROR") from None


def _statements(text: str) -> list[str]:
    """The statements of a text, split where SQLite says one is complete."""
    found: list[str] = []
    current = ""
    for piece in text.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current) and current.strip(" \n;"):
            found.append(current)
            current = ""
    return found or [text]


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
