"""`ArchivePort` over the Worker's R2 binding (`env.ARCHIVE`), inside Pyodide.

The SDK wraps the binding: Python bytes go out as a typed array, and what comes back may be a
Python value or still a JS proxy, so `_bytes` accepts either.
"""

from __future__ import annotations

from typing import Any


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if hasattr(value, "to_bytes"):  # a JsProxy of an ArrayBuffer
        return bytes(value.to_bytes())
    return bytes(value.to_py())


class R2Archive:
    def __init__(self, bucket: Any) -> None:
        self._bucket = bucket

    async def put(self, key: str, body: bytes) -> None:
        await self._bucket.put(key, body)

    async def get(self, key: str) -> bytes | None:
        found = await self._bucket.get(key)
        if found is None:
            return None
        return _bytes(await found.arrayBuffer())

    async def delete(self, key: str) -> None:
        await self._bucket.delete(key)
