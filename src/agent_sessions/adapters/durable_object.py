"""`SqlPort` over a Durable Object's `ctx.storage.sql` (inside Pyodide, in workerd).

It is given the runtime's own JavaScript storage object (worker/session_object.py unwraps the
SDK's), and every crossing is paid once per statement rather than per value: parameters go
in as they are (strings, numbers; None as JavaScript null, which the runtime binds as NULL),
and a statement's rows come back as one JSON text (`JSON.stringify` of the cursor's array,
parsed by Python's json), not as a proxy per row and column converted one by one, which is
what the SDK's wrapper does and what made reading a long history cost more than the SQL.
Cursors are consumed at once (`toArray`), before any other await can run. The callable
given to `transactionSync` is a once-callable: freed after its one call, not leaked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from ..engine.errors import InsufficientStorage
from ..engine.ports import IntegrityViolation, Row, SqlValue

T = TypeVar("T")

STORAGE_FULL = ("SQLITE_FULL", "database or disk is full")
"""How a full store shows in workerd's error text (a Durable Object holds at most 10 GB)."""


try:
    from js import JSON
    from pyodide.ffi import create_once_callable, jsnull

    def _rows(cursor: Any) -> list[Row]:
        return json.loads(JSON.stringify(cursor.toArray()))

    def _param(value: SqlValue) -> Any:
        return jsnull if value is None else value

except ImportError:  # CPython: a test double of the storage, which speaks Python

    def create_once_callable(fn: Callable[[], None]) -> Any:  # type: ignore[misc]
        return fn

    def _rows(cursor: Any) -> list[Row]:
        return [dict(row) for row in cursor.toArray()]

    def _param(value: SqlValue) -> Any:
        return value


@contextmanager
def _engine_errors() -> Iterator[None]:
    """workerd's errors as the engine's, where it has one for them."""
    try:
        yield
    except Exception as exc:
        text = str(exc)
        if "constraint failed" in text.lower():
            raise IntegrityViolation(text) from exc
        if any(sign in text for sign in STORAGE_FULL):
            raise InsufficientStorage(f"the Durable Object's storage is full: {text}") from exc
        raise


class DurableObjectSql:
    def __init__(self, storage: Any) -> None:
        self._storage = storage
        self._sql = storage.sql

    def execute(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        with _engine_errors():
            return _rows(self._sql.exec(sql, *map(_param, params)))

    def execute_script(self, statements: Sequence[str]) -> None:
        """One `exec` of statements binding nothing (workerd runs each of a multi-statement
        text; its cursor, consumed here, is the last one's)."""
        with _engine_errors():
            _rows(self._sql.exec(";\n".join(statements)))

    def transaction(self, fn: Callable[[], T]) -> T:
        """`transactionSync`, re-raising the Python exception that rolled it back.

        An exception leaving `fn` crosses into JavaScript and back, and arrives as a generic
        JS error; the original is kept aside and raised instead, so typed errors survive.
        """
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = fn()
            except BaseException as exc:
                outcome["error"] = exc
                raise

        try:
            self._storage.transactionSync(create_once_callable(run))
        except BaseException:
            if "error" in outcome:
                raise outcome["error"] from None
            raise
        return outcome["result"]
