"""`SqlPort` over the standard library's sqlite3: local mode, tests and benchmarks.

With `values=None` values pass through as CPython binds them. With a `ValueRules`
(`DURABLE_OBJECT` or `D1`) every value is converted the way the Workers runtime converts it,
so the engine's tests run against the same stored bytes production would see.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..engine.ports import IntegrityViolation, Row, SqlValue
from .runtime_values import ValueRules

T = TypeVar("T")


def connect(path: str | Path) -> sqlite3.Connection:
    """Open a database in autocommit mode: transactions are explicit, as in a DO."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


class SqliteSql:
    def __init__(self, conn: sqlite3.Connection, values: ValueRules | None = None) -> None:
        self._conn = conn
        self._values = values
        self._depth = 0
        self.statements = 0
        """Statements run so far: the benchmarks' and tests' view of the work a call does."""

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def execute(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        rules = self._values
        bound = list(map(rules.bind, params)) if rules else list(params)
        self.statements += 1
        try:
            cursor = self._conn.execute(sql, bound)
        except sqlite3.IntegrityError as exc:
            raise IntegrityViolation(str(exc)) from exc
        if cursor.description is None:
            return []
        names = [d[0] for d in cursor.description]
        read: Callable[[Any], Any] = rules.read if rules else _same
        return [dict(zip(names, map(read, row), strict=True)) for row in cursor]

    def transaction(self, fn: Callable[[], T]) -> T:
        """Atomic like `transactionSync`; nested calls become savepoints."""
        self._depth += 1
        name = f"sp{self._depth}"
        self._conn.execute("BEGIN IMMEDIATE" if self._depth == 1 else f"SAVEPOINT {name}")
        try:
            result = fn()
        except BaseException:
            if self._depth == 1:
                self._conn.execute("ROLLBACK")
            else:
                self._conn.execute(f"ROLLBACK TO {name}")
                self._conn.execute(f"RELEASE {name}")
            raise
        else:
            self._conn.execute("COMMIT" if self._depth == 1 else f"RELEASE {name}")
            return result
        finally:
            self._depth -= 1

    def close(self) -> None:
        self._conn.close()


def _same(value: Any) -> Any:
    return value
