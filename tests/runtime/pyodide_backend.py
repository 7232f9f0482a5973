"""The engine suite's backend inside Pyodide: the real `DurableObjectSql` adapter on the
workerd stand-in of `ctx.storage`, reached through the real SDK's `DurableObjectContext`
wrapper and unwrapped exactly as `SessionObject` does in production."""

from __future__ import annotations

from typing import Any

import js  # type: ignore[import-not-found]  # Pyodide only
from pyodide.ffi import to_js  # type: ignore[import-not-found]
from workers import python_to_rpc
from workers.entrypoints import DurableObjectContext

from agent_sessions.adapters.durable_object import DurableObjectSql


class _Rows:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def __iter__(self) -> Any:
        return iter(self._rows)


class RawView:
    """The tests' unconverted view of the same database (sqlite3-like, read-mostly)."""

    def __init__(self, storage: Any) -> None:
        self._storage = storage

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> _Rows:
        rows = self._storage.rawQuery(sql, to_js(list(params))).to_py()
        return _Rows([tuple(r) for r in rows])

    @property
    def total_changes(self) -> int:
        return self.execute("SELECT total_changes()").fetchone()[0]  # type: ignore[index]

    def close(self) -> None:
        pass


def durable_object_in_pyodide() -> tuple[DurableObjectSql, RawView]:
    state = js.__harness.newState()
    storage = DurableObjectContext(state).storage  # the SDK's _BindingWrapper
    return DurableObjectSql(python_to_rpc(storage)), RawView(state.storage)
