"""`SqlPort` over a Durable Object's `ctx.storage.sql` (inside Pyodide, in workerd).

The SDK wraps `ctx.storage`, so arguments go through `python_to_rpc` and rows come back as
dicts. Cursors are consumed at once (`toArray`), before any other await can run. The callable
given to `transactionSync` is a once-callable: freed after its one call, not leaked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..engine.errors import InsufficientStorage
from ..engine.ports import IntegrityViolation, Row, SqlValue

T = TypeVar("T")

STORAGE_FULL = ("SQLITE_FULL", "database or disk is full")
"""How a full store shows in workerd's error text (a Durable Object holds at most 10 GB)."""


try:
    from pyodide.ffi import create_once_callable
except ImportError:  # CPython: a test double of the storage takes the callable as it is

    def create_once_callable(fn: Callable[[], None]) -> Any:  # type: ignore[misc]
        return fn


def _row(row: Any) -> Row:
    return row if isinstance(row, dict) else row.to_py()


class DurableObjectSql:
    def __init__(self, storage: Any) -> None:
        self._storage = storage
        self._sql = storage.sql

    def execute(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        try:
            rows = self._sql.exec(sql, *params).toArray()
        except Exception as exc:
            text = str(exc)
            if "constraint failed" in text.lower():
                raise IntegrityViolation(text) from exc
            if any(sign in text for sign in STORAGE_FULL):
                raise InsufficientStorage(f"the Durable Object's storage is full: {text}") from exc
            raise
        return [_row(r) for r in rows]

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
