"""The one port the engine needs: synchronous SQL with atomic groups.

Adapters (sqlite3, Durable Object `ctx.storage.sql`) implement it; the engine never sees
which one it runs on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

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
