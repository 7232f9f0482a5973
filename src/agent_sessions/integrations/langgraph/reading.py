"""Reading checkpoints back: one scan of the thread's log, newest first, in pages that grow.

The latest checkpoint of a namespace, with its values and writes, is usually in the first
page; a checkpoint is handed out once the scan has passed its `writes_after`, so its pending
writes are complete, and a value stored further back is one point read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple, PendingWrite, writes_sort_key
from langgraph.checkpoint.serde.base import SerializerProtocol

from ...engine import NotFound
from ...engine.limits import MAX_PAGE_SIZE
from .._steps import PLAN, Steps
from .records import VALUE, WRITES, Record, load, read


class MissingValue(LookupError):
    """A checkpoint names a value the thread no longer holds (its log was rewritten by other
    means than this saver's prune)."""


@dataclass(frozen=True)
class Found:
    """A checkpoint as read, and where its values are (for the next put's references)."""

    tuple: CheckpointTuple
    record: Record
    newest_seq: int
    """The highest seq the scan saw: every later write lands above it."""


def config_of(thread_id: Any, ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def scan(
    session_id: str,
    thread_id: Any,
    serde: SerializerProtocol,
    matches: Callable[[Record], bool],
    limit: int | None = None,
    first_page: int = 16,
) -> Steps[None]:
    """Yields a `Found` for each checkpoint that `matches`, newest first, up to `limit`."""
    values: dict[int, Record] = {}
    writes: list[Record] = []
    waiting: list[Record] = []
    newest = 0
    emitted = 0
    before: int | None = None
    size = first_page
    while limit is None or emitted < limit:
        try:
            page = yield PLAN.read_entries(session_id, before_seq=before, limit=size, order="desc")
        except NotFound:
            return
        for entry in page.entries:
            newest = max(newest, entry.seq)
            record = read(entry)
            if record is None:
                continue
            if record.role == VALUE:
                values[record.seq] = record
            elif record.role == WRITES:
                writes.append(record)
            elif matches(record):
                waiting.append(record)
        done = not page.has_more
        floor = 0 if done else page.entries[-1].seq - 1
        while waiting and (limit is None or emitted < limit):
            if waiting[0].writes_floor < floor:
                break
            record = waiting.pop(0)
            channel_values = yield from _values(session_id, record, values, serde)
            tuple_ = _tuple(thread_id, record, channel_values, _pending(record, writes, serde))
            yield Found(tuple_, record, newest)
            emitted += 1
        if done:
            return
        before = page.entries[-1].seq
        size = min(MAX_PAGE_SIZE, size * 4)


def _values(
    session_id: str, record: Record, known: dict[int, Record], serde: SerializerProtocol
) -> Steps[dict[str, Any]]:
    """A checkpoint's channel values: from the pages read, or one point read each."""
    values: dict[str, Any] = {}
    for channel, seq in record.value_seqs().items():
        if seq not in known:
            page = yield PLAN.read_entries(session_id, after_seq=seq - 1, before_seq=seq + 1)
            for entry in page.entries:
                found = read(entry)
                if found is not None:
                    known[seq] = found
        value = known.get(seq)
        if value is None or not holds(value, record, channel):
            value = yield from _search(session_id, record, channel)
        values[channel] = load(serde, value.body["value"])
    return values


def holds(value: Record, checkpoint: Record, channel: str) -> bool:
    """Whether `value` is the checkpoint's value of `channel`: a (namespace, channel, version)
    names one value within a thread, as in LangGraph's own savers."""
    version = checkpoint.body["checkpoint"]["channel_versions"].get(channel)
    named = (value.role, value.ns, value.body.get("channel"), value.body.get("version"))
    return named == (VALUE, checkpoint.ns, channel, version)


def _search(session_id: str, checkpoint: Record, channel: str) -> Steps[Record]:
    """The value by its name, when it is not at the seq the checkpoint gives: a prune rewrote
    the log after the saver that put the checkpoint had read it. The latest one stored before
    the checkpoint; never a wrong value: none is a `MissingValue`."""
    latest: Record | None = None
    after = 0
    while True:
        page = yield PLAN.read_entries(
            session_id, after_seq=after, before_seq=checkpoint.seq, limit=MAX_PAGE_SIZE
        )
        for entry in page.entries:
            found = read(entry)
            if found is not None and holds(found, checkpoint, channel):
                latest = found
        if not page.has_more:
            break
        after = page.entries[-1].seq
    if latest is None:
        raise MissingValue(f"checkpoint {checkpoint.checkpoint_id} lost its {channel!r}")
    return latest


def _pending(record: Record, writes: list[Record], serde: SerializerProtocol) -> list[PendingWrite]:
    """The writes of a checkpoint in `writes_sort_key` order. A regular write sent again for
    the same task and index replaces the earlier one; a special one (error, interrupt) keeps
    the first, as LangGraph's own savers do."""
    floor = record.writes_floor
    kept: dict[tuple[str, int], tuple[str, str, int, str, list[str]]] = {}
    for w in reversed(writes):  # scanned newest first
        if w.seq <= floor or w.ns != record.ns or w.checkpoint_id != record.checkpoint_id:
            continue
        task_id, task_path = w.body["task_id"], w.body["task_path"]
        for idx, channel, *stored in w.body["writes"]:
            if idx >= 0 or (task_id, idx) not in kept:
                kept[(task_id, idx)] = (task_path, task_id, idx, channel, stored)
    ordered = sorted(kept.values(), key=lambda w: writes_sort_key(w[0], w[1], w[2]))
    return [(task_id, channel, load(serde, stored)) for _, task_id, _, channel, stored in ordered]


def _tuple(
    thread_id: Any, record: Record, values: dict[str, Any], pending: list[PendingWrite]
) -> CheckpointTuple:
    checkpoint = {**record.body["checkpoint"], "channel_values": values}
    parent = record.body["parent"]
    return CheckpointTuple(
        config=config_of(thread_id, record.ns, record.checkpoint_id),
        checkpoint=checkpoint,  # type: ignore[arg-type]
        metadata=record.body["metadata"],
        parent_config=config_of(thread_id, record.ns, parent) if parent else None,
        pending_writes=pending,
    )
