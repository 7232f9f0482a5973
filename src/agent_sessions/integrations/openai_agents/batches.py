"""Cutting an add_items call into appends the server accepts: by count and by bytes, as the
engine measures them (content plus compact payload JSON, UTF-8) and as the request carries
them (JSON with ASCII escapes: no smaller than the client's UTF-8), so no append is refused
for its size."""

from __future__ import annotations

import json
from typing import Any

from ...engine.limits import MAX_APPEND_BYTES, MAX_ENTRIES_PER_APPEND

MAX_BODY_BYTES = 2 * MAX_APPEND_BYTES
"""The server's request-body limit (`http.app.MAX_REQUEST_BYTES`; a test keeps them equal)."""
ENVELOPE_BYTES = 1024
"""Room for the rest of a request body: its keys, an expected_version, an import header."""


def stored_bytes(entry: dict[str, Any]) -> int:
    """The size the engine counts against its limits."""
    payload = entry.get("payload")
    text = entry.get("content") or ""
    if payload is not None:
        text += json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode())


def wire_bytes(entry: dict[str, Any]) -> int:
    """The size of the entry in the request body (plus its separator)."""
    return len(json.dumps(entry)) + 2


def split(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive runs of `entries`, each within one append's limits."""
    parts: list[list[dict[str, Any]]] = []
    part: list[dict[str, Any]] = []
    stored = wire = 0
    for entry in entries:
        size, sent = stored_bytes(entry), wire_bytes(entry)
        full = len(part) == MAX_ENTRIES_PER_APPEND or stored + size > MAX_APPEND_BYTES
        if part and (full or wire + sent > MAX_BODY_BYTES - ENVELOPE_BYTES):
            parts.append(part)
            part, stored, wire = [], 0, 0
        part.append(entry)
        stored += size
        wire += sent
    if part:
        parts.append(part)
    return parts
