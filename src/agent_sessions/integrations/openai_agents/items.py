"""How an SDK item is stored as an entry, and read back.

An item becomes one entry: messages as `message`, tool calls as `tool_call`, their outputs as
`tool_result`, anything else as `custom`. Its text (a message's content, a tool's output) is
the entry's `content`, so D1 and search see the conversation; the payload holds the rest of
the item with those strings emptied, plus where they go back. The text is stored once: an item
may use the whole per-entry limit.

The payload is `{"openai_agents": {...}, "item": {...}}`. The marker is what tells this
adapter's entries from other clients' (which `get_items` and `pop_item` skip, as
`SQLiteSession` never sees them). An `add_items` call too large for one append is written in
parts whose items name their call (`"batch"`), and counts only once its commit record (an entry
whose marker says `"commit"`) is stored: it is all or nothing for readers.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from ...wire import Entry

MARK = "openai_agents"
FORMAT = 1
ROLES = frozenset({"user", "assistant", "system", "developer"})
TEXT_FIELDS = ("content", "output")

Path = tuple[str | int, ...]


def _texts(item: dict[str, Any]) -> list[tuple[Path, str]]:
    """Where the item's text is: a string field, or the `text` of each part of a list."""
    for field in TEXT_FIELDS:
        if field not in item:
            continue
        value = item[field]
        if isinstance(value, str):
            return [((field,), value)]
        if isinstance(value, list):
            return [
                ((field, index, "text"), part["text"])
                for index, part in enumerate(value)
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            ]
        return []
    return []


def _put(item: Any, path: Path, value: str) -> None:
    for step in path[:-1]:
        item = item[step]
    item[path[-1]] = value


def _entry_type(item: dict[str, Any]) -> str:
    kind = str(item.get("type") or "")
    if kind == "message" or (not kind and item.get("role") in ROLES):
        return "message"
    if kind.endswith("_call_output"):
        return "tool_result"
    if kind.endswith("_call"):
        return "tool_call"
    return "custom"


def to_entry(item: Any, batch: str | None = None) -> dict[str, Any]:
    """The entry that stores one SDK item (of the add_items call `batch`, if it has parts)."""
    # The SDK's own store keeps json.dumps(item): the same normalisation, and a deep copy.
    stored = json.loads(json.dumps(item))
    texts = _texts(stored)
    for path, _ in texts:
        _put(stored, path, "")
    mark: dict[str, Any] = {"v": FORMAT}
    if texts:
        mark["text"] = [[list(path), len(text)] for path, text in texts]
    if batch is not None:
        mark["batch"] = batch
    role = stored.get("role")
    return {
        "type": _entry_type(stored),
        "role": role if isinstance(role, str) else None,
        "content": "\n".join(text for _, text in texts) if texts else None,
        "payload": {MARK: mark, "item": stored},
    }


def commit_entry(batch: str) -> dict[str, Any]:
    """The record that makes the parts of the add_items call `batch` count."""
    return {"type": "metadata", "payload": {MARK: {"v": FORMAT, "commit": batch}}}


@dataclass(frozen=True)
class Stored:
    """What one entry is to this adapter."""

    entry: Entry
    item: Any = None
    """The SDK item, or None: another client's entry, or a commit record."""
    batch: str | None = None
    commits: str | None = None


def read(entry: Entry) -> Stored:
    payload = entry.payload
    mark = payload.get(MARK) if isinstance(payload, dict) else None
    if not isinstance(mark, dict) or mark.get("v") != FORMAT:
        return Stored(entry)
    if "commit" in mark:
        return Stored(entry, commits=mark["commit"])
    if not isinstance(payload.get("item"), dict):
        return Stored(entry)
    item = copy.deepcopy(payload["item"])
    content = entry.content or ""
    start = 0
    for path, length in mark.get("text", []):
        _put(item, tuple(path), content[start : start + length])
        start += length + 1
    return Stored(entry, item=item, batch=mark.get("batch"))


class Visibility:
    """Which items count, seen newest first: a part of an add_items call counts once its
    commit record (always stored after the parts) has been seen."""

    def __init__(self) -> None:
        self.committed: set[str] = set()

    def counts(self, stored: Stored) -> bool:
        if stored.commits is not None:
            self.committed.add(stored.commits)
        return stored.item is not None and (stored.batch is None or stored.batch in self.committed)
