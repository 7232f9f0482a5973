"""How a thread's checkpoints, channel values and pending writes are entries of its session.

Every entry is `custom`, its role naming the kind, its payload marked `{"langgraph": 1, ...}`:

- `langgraph.value`: one channel's value at one version, `[type, base64]` as the saver's serde
  dumps it. A put stores only the channels it changed (or, when it cannot tell where an
  unchanged one is, that one too), so a step writes what is new, not the whole state again.
- `langgraph.checkpoint`: the checkpoint without its values, its metadata (JSON, so it can be
  filtered, and read in D1), its parent, and where each channel's value is: a seq, or a
  negative offset from its own seq for the values appended with it. LangGraph sends a
  checkpoint's writes without waiting for its put, so some may land before it: then
  `writes_after` is a seq below all of them (else null: they all follow the checkpoint).
- `langgraph.writes`: one `put_writes` call: the task, its path and its `[idx, channel, type,
  base64]` writes.

Entries never name their thread, so a fork of the session (copy_thread) is the same thread's
history under another id.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import WRITES_IDX_MAP, Checkpoint
from langgraph.checkpoint.serde.base import SerializerProtocol

from ...engine.values import ID_PATTERN
from ...wire import Entry

MARK = "langgraph"
FORMAT = 1
CHECKPOINT, VALUE, WRITES = "langgraph.checkpoint", "langgraph.value", "langgraph.writes"
_SESSION_ID = re.compile(ID_PATTERN)


def session_of(thread_id: Any) -> str:
    """The session that keeps a thread: the thread id itself when it is a valid session id,
    else a digest of it (the thread id is kept in the session's metadata)."""
    thread = str(thread_id)
    if _SESSION_ID.match(thread):
        return thread
    return "lg-" + hashlib.sha256(thread.encode()).hexdigest()[:40]


def thread_metadata(thread_id: Any) -> dict[str, Any]:
    """The session metadata that names the thread it keeps (what D1 queries filter on)."""
    return {MARK: {"thread_id": str(thread_id)}}


def session_fields(thread_id: Any, user_id: str | None, agent_name: str | None) -> dict[str, Any]:
    """What a thread's session is created with: who, what, and which thread it is."""
    return {"user_id": user_id, "agent_name": agent_name, "metadata": thread_metadata(thread_id)}


def dump(serde: SerializerProtocol, value: Any) -> list[str]:
    kind, data = serde.dumps_typed(value)
    return [kind, base64.b64encode(data).decode("ascii")]


def load(serde: SerializerProtocol, stored: list[str]) -> Any:
    return serde.loads_typed((stored[0], base64.b64decode(stored[1])))


def _entry(role: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"type": "custom", "role": role, "payload": {MARK: FORMAT, **body}}


def value_entry(ns: str, channel: str, version: Any, stored: list[str]) -> dict[str, Any]:
    return _entry(VALUE, {"ns": ns, "channel": channel, "version": version, "value": stored})


def checkpoint_entry(
    ns: str,
    checkpoint: Checkpoint,
    metadata: dict[str, Any],
    parent: str | None,
    values: dict[str, int],
    writes_after: int | None,
) -> dict[str, Any]:
    bare = {k: v for k, v in checkpoint.items() if k != "channel_values"}
    body = {"ns": ns, "checkpoint": bare, "metadata": metadata, "parent": parent}
    return _entry(CHECKPOINT, body | {"values": values, "writes_after": writes_after})


def writes_entry(
    ns: str, checkpoint_id: str, task_id: str, task_path: str, writes: list[list[Any]]
) -> dict[str, Any]:
    body = {"ns": ns, "checkpoint_id": checkpoint_id, "task_id": task_id, "task_path": task_path}
    return _entry(WRITES, body | {"writes": writes})


def write_rows(serde: SerializerProtocol, writes: Any) -> list[list[Any]]:
    """`[idx, channel, type, base64]` per write; special channels take LangGraph's negative
    indexes, so a retried error or interrupt never counts twice."""
    return [
        [WRITES_IDX_MAP.get(channel, index), channel, *dump(serde, value)]
        for index, (channel, value) in enumerate(writes)
    ]


@dataclass(frozen=True)
class Record:
    """One entry of a thread, as this saver reads it."""

    seq: int
    role: str
    body: dict[str, Any]

    @property
    def ns(self) -> str:
        return self.body["ns"]

    @property
    def checkpoint_id(self) -> str:
        """The checkpoint this record is (a checkpoint) or belongs to (writes)."""
        if self.role == CHECKPOINT:
            return self.body["checkpoint"]["id"]
        return self.body["checkpoint_id"]

    @property
    def writes_floor(self) -> int:
        """A checkpoint's pending writes all have higher seqs than this."""
        after = self.body["writes_after"]
        return self.seq if after is None else after

    def value_seqs(self) -> dict[str, int]:
        """A checkpoint's channels and the seqs of their values."""
        return {ch: at if at > 0 else self.seq + at for ch, at in self.body["values"].items()}


def read(entry: Entry) -> Record | None:
    """The record an entry is, or None for an entry this saver did not write."""
    payload = entry.payload
    if (
        entry.type != "custom"
        or entry.role not in (CHECKPOINT, VALUE, WRITES)
        or not isinstance(payload, dict)
        or payload.get(MARK) != FORMAT
    ):
        return None
    return Record(entry.seq, entry.role, payload)
