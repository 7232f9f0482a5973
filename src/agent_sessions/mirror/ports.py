"""The mirror's ports: an asynchronous D1-like target, and the optional change log.

`apply` is all-or-nothing, like `env.DB.batch([...])` (one implicit transaction). It may fail
before the target committed, or after (the acknowledgement was lost): the drain cannot tell,
and does not need to, because every statement it sends is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..engine.ports import Row, SqlValue
from .changes import ChangeRecord

Statement = tuple[str, tuple[SqlValue, ...]]


class MirrorPort(Protocol):
    async def apply(self, statements: Sequence[Statement]) -> None:
        """Run the statements as one atomic batch."""
        ...

    async def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        """Read rows (parity checks)."""
        ...


class ChangeLogPort(Protocol):
    """An append-only sink of change records (mirror/changes.py), one stream per schema.

    Like `MirrorPort.apply`, `send` may fail before the sink took the records or after (the
    acknowledgement was lost); the drain then sends them again, with the same idempotency
    keys, so a sink may hold a record more than once but never miss one it acknowledged.
    """

    async def send(self, stream: str, records: Sequence[ChangeRecord]) -> None:
        """Append the records to `stream`, in order."""
        ...
