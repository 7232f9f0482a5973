"""The per-session operations as the API sees them, whatever holds the session.

Every operation is a call of an engine method by name with positional arguments, so one
`Transport` decides where it runs: an engine over a local SQLite file, or a Durable Object
reached over RPC. The names are the same in the engine, the DO's RPC methods and here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..engine import SessionKey

Transport = Callable[[SessionKey, str, tuple[Any, ...]], Awaitable[Any]]
"""(key, operation name, positional arguments) -> the engine's JSON-able result."""


class Sessions:
    def __init__(self, transport: Transport) -> None:
        self._send = transport

    async def create_session(self, key: SessionKey, fields: dict[str, Any]) -> dict[str, Any]:
        return await self._send(key, "create_session", (fields,))

    async def update_session(
        self, key: SessionKey, changes: dict[str, Any], expected_version: int | None
    ) -> dict[str, Any]:
        return await self._send(key, "update_session", (changes, expected_version))

    async def import_session(
        self, key: SessionKey, session: dict[str, Any], entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return await self._send(key, "import_session", (session, entries))

    async def get_session(self, key: SessionKey) -> dict[str, Any]:
        return await self._send(key, "get_session", ())

    async def delete_session(self, key: SessionKey) -> dict[str, Any]:
        return await self._send(key, "delete_session", ())

    async def save_data(
        self, key: SessionKey, data: Any, expected_version: int | None
    ) -> dict[str, Any]:
        return await self._send(key, "save_data", (data, expected_version))

    async def load_data(self, key: SessionKey) -> dict[str, Any]:
        return await self._send(key, "load_data", ())

    async def append(
        self,
        key: SessionKey,
        entries: list[dict[str, Any]],
        expected_version: int | None,
        writer: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return await self._send(key, "append", (entries, expected_version, writer))

    async def claim_writer(self, key: SessionKey, writer_id: str) -> dict[str, Any]:
        return await self._send(key, "claim_writer", (writer_id,))

    async def get_writer(self, key: SessionKey) -> dict[str, Any]:
        return await self._send(key, "get_writer", ())

    async def read_entries(
        self,
        key: SessionKey,
        after_seq: int,
        before_seq: int | None,
        types: Sequence[str] | None,
        limit: int,
        order: str,
    ) -> dict[str, Any]:
        args = (after_seq, before_seq, None if types is None else list(types), limit, order)
        return await self._send(key, "read_entries", args)

    async def set_leaf(
        self, key: SessionKey, entry_id: str, expected_version: int | None
    ) -> dict[str, Any]:
        return await self._send(key, "set_leaf", (entry_id, expected_version))

    async def read_context(self, key: SessionKey) -> dict[str, Any]:
        return await self._send(key, "read_context", ())

    async def prune(
        self, key: SessionKey, before_seq: int, expected_version: int | None
    ) -> dict[str, Any]:
        return await self._send(key, "prune", (before_seq, expected_version))

    async def find_entry(self, key: SessionKey, entry_id: str) -> dict[str, Any]:
        return await self._send(key, "find_entry", (entry_id,))

    async def adopt_entries(
        self, key: SessionKey, origin: dict[str, Any], entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return await self._send(key, "adopt_entries", (origin, entries))

    async def replace_history(
        self,
        key: SessionKey,
        from_seq: int,
        entries: list[dict[str, Any]],
        expected_version: int | None,
    ) -> dict[str, Any]:
        return await self._send(key, "replace_history", (from_seq, entries, expected_version))

    async def mirror_status(self, key: SessionKey) -> dict[str, Any]:
        return await self._send(key, "mirror_status", ())

    async def verify_mirror(self, key: SessionKey) -> dict[str, Any]:
        return await self._send(key, "verify_mirror", ())

    async def resync_mirror(self, key: SessionKey) -> dict[str, Any]:
        return await self._send(key, "resync_mirror", ())
