"""One measurement: a system at a history length. Counted turns and loads on one copy of the
session, timed turns on another, so that both start from exactly N entries of history."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .probe import measure, quiet
from .systems import FACTORIES, System
from .workload import Conversation

KEEP = 20
"""Messages a compaction keeps after its summary."""


def scratch_root() -> Path:
    """tmpfs when there is one: every system then pays CPU and SQLite's own work, not fsync
    latency, which would flatten the differences into the disk's."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() else Path(tempfile.gettempdir())


@contextmanager
def seeded(system_id: str, history: int) -> Iterator[tuple[System, Conversation]]:
    directory = Path(tempfile.mkdtemp(prefix="agent-sessions-bench-", dir=scratch_root()))
    try:
        conversation = Conversation()
        system = FACTORIES[system_id](directory)
        system.seed(conversation.take(history))
        yield system, conversation
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def measure_system(system_id: str, history: int, turns: int) -> dict[str, Any]:
    with seeded(system_id, history) as (system, conversation):
        result = {"system": system_id, "name": system.name, "history": history, "turns": turns}
        result |= _counted(system, conversation, turns)
    with seeded(system_id, history) as (system, conversation):
        result["appends_per_second"] = _timed(system, conversation, turns)
    return result


def _counted(system: System, conversation: Conversation, turns: int) -> dict[str, Any]:
    """A load of the N entries, then the counted turns, then a compaction and a load."""
    load = system.reader()
    with measure(system.database) as loading:
        rows = load()
    content = 0
    with measure(system.database) as writes:
        for _ in range(turns):
            messages = conversation.turn()
            content += sum(len(json.dumps(m)) for m in messages)
            system.turn(messages)
    result: dict[str, Any] = {
        "bytes_per_turn": writes.wal_bytes / turns,
        "logical_bytes_per_turn": writes.write_bytes / turns,
        "content_bytes_per_turn": content / turns,
        "write_amplification": writes.write_bytes / content,
        "statements_per_turn": writes.statements / turns,
        "rows_per_turn": writes.rows_written / turns,
        "load_rows": rows,
        "load_bytes": loading.read_bytes,
        "load_ms": loading.seconds * 1000,
        "compacted_load_rows": None,
        "compacted_load_bytes": None,
    }
    if system.compact("A summary of the conversation so far.", KEEP):
        load = system.reader()
        with measure(system.database) as loading:
            result["compacted_load_rows"] = load()
        result["compacted_load_bytes"] = loading.read_bytes
    return result


def _timed(system: System, conversation: Conversation, turns: int) -> float:
    """Turns per second, untraced: the best of three runs of `turns` turns (the usual guard
    against a busy machine; later runs start from a longer history, which only the layouts
    that rewrite it feel)."""
    best = 0.0
    with quiet():
        for _ in range(3):
            batch = [conversation.turn() for _ in range(turns)]
            started = time.perf_counter()
            for messages in batch:
                system.turn(messages)
            best = max(best, turns / (time.perf_counter() - started))
    return best
