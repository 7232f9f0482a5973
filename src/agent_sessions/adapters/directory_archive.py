"""`ArchivePort` over a local directory: local mode's stand-in for R2, same keys and bytes.

A put writes a temporary file, flushes it to disk and renames it over the old one, so a crash
leaves the old object or the new one, never a torn one (as an R2 put is atomic).
"""

from __future__ import annotations

import os
from pathlib import Path


class DirectoryArchive:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"not an archive key: {key!r}")
        return self.root.joinpath(*parts)

    async def put(self, key: str, body: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.tmp")
        with scratch.open("wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        scratch.replace(path)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.exists() else None

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
