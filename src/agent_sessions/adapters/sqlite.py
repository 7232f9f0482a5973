"""`SqlPort` over the standard library's sqlite3: local mode, tests and benchmarks.

With `values=None` values pass through as CPython binds them. With a `ValueRules`
(`DURABLE_OBJECT` or `D1`) every value is converted the way the Workers runtime converts it,
so the engine's tests run against the same stored bytes production would see.

A disk that is full, read-only or failing surfaces as `InsufficientStorage` (a 507), from any
statement, from BEGIN and COMMIT, and from opening a file: SQLite's own atomic commit means the
refused write left nothing behind.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..engine.errors import InsufficientStorage
from ..engine.ports import IntegrityViolation, Row, SqlValue
from .runtime_values import ValueRules

T = TypeVar("T")

STORAGE_FAILURES = frozenset({8, 10, 13, 14})
"""SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL and SQLITE_CANTOPEN: the disk refused, not the
statement (primary result codes)."""


def _raise_storage_failure(exc: sqlite3.Error) -> None:
    """Raise the 507 a SQLite error stands for, if the disk refused the work."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in STORAGE_FAILURES:
        raise InsufficientStorage(f"the data directory cannot be written: {exc}") from exc


def connect(path: str | Path, read_only: bool = False) -> sqlite3.Connection:
    """Open a database in autocommit mode: transactions are explicit, as in a DO. A read-only
    connection (of a file some other connection made, in WAL mode) cannot write at all."""
    try:
        if read_only:
            target = f"{Path(path).resolve().as_uri()}?mode=ro"
            return sqlite3.connect(target, uri=True, isolation_level=None, check_same_thread=False)
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        if str(path) != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error as exc:
        _raise_storage_failure(exc)
        raise
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
        cursor = self._run(sql, bound)
        if cursor.description is None:
            return []
        names = [d[0] for d in cursor.description]
        read: Callable[[Any], Any] = rules.read if rules else _same
        return [dict(zip(names, map(read, row), strict=True)) for row in cursor]

    def _run(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise IntegrityViolation(str(exc)) from exc
        except sqlite3.Error as exc:
            _raise_storage_failure(exc)
            raise

    def transaction(self, fn: Callable[[], T]) -> T:
        """Atomic like `transactionSync`; nested calls become savepoints. A COMMIT that fails
        (a full disk) rolls back like any failure, so no transaction is left open."""
        self._depth += 1
        outer = self._depth == 1
        name = f"sp{self._depth}"
        try:
            self._run("BEGIN IMMEDIATE" if outer else f"SAVEPOINT {name}")
            try:
                result = fn()
                self._run("COMMIT" if outer else f"RELEASE {name}")
            except BaseException:
                self._undo(outer, name)
                raise
            return result
        finally:
            self._depth -= 1

    def _undo(self, outer: bool, name: str) -> None:
        """Roll back what is still open: after a full disk or an I/O error SQLite may already
        have rolled the whole transaction back, and the original error is the one to raise."""
        with contextlib.suppress(sqlite3.Error):
            if outer:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            else:
                self._conn.execute(f"ROLLBACK TO {name}")
                self._conn.execute(f"RELEASE {name}")

    def close(self) -> None:
        self._conn.close()


def _same(value: Any) -> Any:
    return value
