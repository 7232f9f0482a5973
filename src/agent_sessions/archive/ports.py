"""What the cold tier needs from object storage: whole objects by key."""

from __future__ import annotations

from typing import Protocol


class ArchivePort(Protocol):
    async def put(self, key: str, body: bytes) -> None:
        """Write (or overwrite) the object; when it returns, the object is durable."""

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None if there is no such object."""

    async def delete(self, key: str) -> None:
        """Remove the object; removing a missing one is not an error."""
