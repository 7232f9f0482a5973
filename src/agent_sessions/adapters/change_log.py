"""The change log's streams as the Worker binds them, and a local change log of JSON lines.

Apart from adapters/pipelines.py (which needs the runtime's `js`), so that CPython runs both
parts: which streams `env` binds, and the local stand-in whose files the cookbook's queries
read (cookbook/changes.sql).

Each stream is its own Pipelines binding, and each is optional: a Worker that binds neither
(the default wrangler.toml) has no change log and runs as before; one that binds only
SESSION_CHANGES logs session rows and not entries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..mirror.changes import ENTRY_STREAM, SESSION_STREAM, ChangeRecord

BINDINGS = {SESSION_STREAM: "SESSION_CHANGES", ENTRY_STREAM: "ENTRY_CHANGES"}
"""The binding of each stream (wrangler.toml `[[pipelines]]`, README: "The change log")."""


def bound_streams(env: Any) -> dict[str, Any]:
    """The streams `env` binds, each with its binding (an object with `send`)."""
    found = {stream: getattr(env, name, None) for stream, name in BINDINGS.items()}
    return {stream: b for stream, b in found.items() if b is not None and hasattr(b, "send")}


class StreamsChangeLog:
    """A `ChangeLogPort` over one sender per stream; a stream with none is not logged."""

    def __init__(self, senders: dict[str, Any]) -> None:
        self._senders = senders

    async def send(self, stream: str, records: Sequence[ChangeRecord]) -> None:
        sender = self._senders.get(stream)
        if sender is not None:
            await sender(records)


class JsonLinesChangeLog:
    """A `ChangeLogPort` appending each stream to `<directory>/<stream>.jsonl`, one record a
    line, as an append-only sink would: resent records are appended again."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, stream: str) -> Path:
        return self.directory / f"{stream}.jsonl"

    async def send(self, stream: str, records: Sequence[ChangeRecord]) -> None:
        lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        with self.path(stream).open("a", encoding="utf-8") as out:
            out.write(lines)

    def records(self, stream: str) -> list[ChangeRecord]:
        """What the stream holds, in the order it was appended."""
        path = self.path(stream)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines()]
