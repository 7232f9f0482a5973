"""The mirror's port: an asynchronous D1-like target.

`apply` is all-or-nothing, like `env.DB.batch([...])` (one implicit transaction). It may fail
before the target committed, or after (the acknowledgement was lost): the drain cannot tell,
and does not need to, because every statement it sends is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..engine.ports import Row, SqlValue

Statement = tuple[str, tuple[SqlValue, ...]]


class MirrorPort(Protocol):
    async def apply(self, statements: Sequence[Statement]) -> None:
        """Run the statements as one atomic batch."""
        ...

    async def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        """Read rows (parity checks)."""
        ...
