"""History cuts: prune (older entries gone for good) and replace (the tail rewritten)."""

from __future__ import annotations

from typing import Any

import pytest

from agent_sessions.engine import InvalidInput
from agent_sessions.engine.errors import DuplicateEntry

from .paths import Capability, Path, messages, requires


def test_replace_history_rewrites_the_tail_atomically(path: Path, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, [{"type": "message", "id": f"m{i}", "input_tokens": 1} for i in range(1, 7)])
    result = path.replace_history(
        sid, 4, [{"type": "message", "id": "m4", "content": "shorter"}, {"type": "tool_call"}]
    )
    assert (result["removed"], result["first_seq"], result["last_seq"]) == (3, 7, 8)
    stored = path.read_entries(sid)["entries"]
    assert [(e["seq"], e["id"]) for e in stored][:4] == [(1, "m1"), (2, "m2"), (3, "m3"), (7, "m4")]
    assert stored[3]["parent_id"] == "m3", "the new tail hangs off the entry before from_seq"
    session = path.get_session(sid)
    assert (session["entry_count"], session["message_count"], session["last_seq"]) == (5, 4, 8)
    assert session["input_tokens"] == 6, "usage that happened stays counted"
    assert [e["id"] for e in path.read_context(sid)["entries"]][:4] == ["m1", "m2", "m3", "m4"]
    truncated = path.replace_history(sid, 8, [])
    assert truncated["removed"] == 1
    assert path.get_session(sid)["leaf_id"] == "m4"
    before = path.state(sid)
    for bad in (0, 10):
        with pytest.raises(InvalidInput):
            path.replace_history(sid, bad, [])
    with pytest.raises(InvalidInput):
        path.replace_history(sid, 2, [{"role": "no type"}])
    with pytest.raises(DuplicateEntry):
        path.replace_history(sid, 3, [{"type": "message", "id": "m1"}])
    assert path.state(sid) == before


def test_an_id_freed_by_a_prune_and_taken_again_cannot_close_a_cycle(path: Path, sid: str) -> None:
    """c's parent b is pruned; a new b (after c) would make the walk c -> b -> c forever:
    the walk only goes to earlier entries, so the branch ends at c."""
    path.create_session(sid)
    for entry_id in ("a", "b", "c"):
        path.append(sid, [{"type": "message", "id": entry_id}])
    path.set_leaf(sid, "c")
    path.prune(sid, 3)
    path.append(sid, [{"type": "message", "id": "b"}])  # hangs off c
    context = path.read_context(sid)["entries"]
    assert [(e["id"], e["seq"]) for e in context] == [("c", 3), ("b", 4)]


def test_prune_removes_old_entries_and_keeps_counters_exact(path: Path, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, [*messages(5), {"type": "tool_call"}, *messages(4, 5)])
    pruned = path.prune(sid, 7)
    assert pruned == {"id": sid, "pruned": 6, "version": 3}
    session = path.get_session(sid)
    assert (session["entry_count"], session["message_count"], session["last_seq"]) == (4, 4, 10)
    assert [e["seq"] for e in path.read_entries(sid)["entries"]] == [7, 8, 9, 10]
    before = path.state(sid)
    with pytest.raises(InvalidInput):
        path.prune(sid, 11)  # would remove the leaf (seq 10)
    assert path.state(sid) == before


@requires(Capability.TABLES)
def test_a_prune_reaches_the_outbox_as_a_ranged_tombstone(path: Any, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, messages(10))
    path.prune(sid, 7)
    raw = path.backend.raw
    ops = raw.execute("SELECT op, seq_to FROM mirror_outbox ORDER BY id").fetchall()
    assert ops[-1] == ("delete_entries", 6)
