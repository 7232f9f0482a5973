"""The one port the engine needs: synchronous SQL with atomic groups.

Adapters (sqlite3, Durable Object `ctx.storage.sql`) implement it; the engine never sees
which one it runs on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")

SqlValue = str | int | float | bytes | None
Row = dict[str, Any]


class IntegrityViolation(Exception):
    """A constraint (primary key, unique, not null) refused a write.

    Adapters translate their native error to this, so the engine can tell "the client sent a
    duplicate" from "the storage failed" without knowing the backend.
    """


class SqlPort(Protocol):
    def execute(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        """Run one statement and return all its rows (consumed before returning)."""
        ...

    def transaction(self, fn: Callable[[], T]) -> T:
        """Run `fn` atomically: all of its statements commit, or none do.

        An exception raised by `fn` rolls back and propagates unchanged.
        """
        ...


@runtime_checkable
class ScriptPort(Protocol):
    """A store that runs several statements binding nothing (DDL) in one call: a Durable
    Object, where each call is a crossing into JavaScript and a new store's layout is about
    twenty statements. Stores without it run them one by one (engine/schema.py)."""

    def execute_script(self, statements: Sequence[str]) -> None:
        """Run `statements` in order, in the caller's transaction."""
        ...


def run_all(sql: SqlPort, statements: Sequence[str]) -> None:
    """`statements` (binding nothing) in order: in one call where the store has it."""
    if isinstance(sql, ScriptPort):
        sql.execute_script(statements)
    else:
        for statement in statements:
            sql.execute(statement)
