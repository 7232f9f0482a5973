"""Branches and context: the leaf, rewinds, the context read, compaction."""

from __future__ import annotations

from typing import Any

import pytest

from agent_sessions.engine import InvalidInput, SessionKey, statements

from .paths import Capability, Path, messages, requires


def test_rewind_moves_the_leaf_and_new_entries_branch_from_it(path: Path, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, [{"type": "message", "id": i} for i in ("q", "a1")])
    moved = path.set_leaf(sid, "q", expected_version=2)
    assert (moved["leaf_id"], moved["version"]) == ("q", 3)
    path.append(sid, [{"type": "message", "id": "a2"}])  # regenerate the answer
    context = path.read_context(sid)
    assert [e["id"] for e in context["entries"]] == ["q", "a2"]
    assert [e["seq"] for e in context["entries"]] == [1, 3]
    path.set_leaf(sid, "a1")
    assert [e["id"] for e in path.read_context(sid)["entries"]] == ["q", "a1"]
    assert [e["id"] for e in path.read_entries(sid)["entries"]] == ["q", "a1", "a2"]


def test_set_leaf_refuses_an_unknown_entry(path: Path, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, messages(1))
    before = path.state(sid)
    for bad in ("nope", 5, "bad id"):
        with pytest.raises(InvalidInput):
            path.set_leaf(sid, bad)
    assert path.state(sid) == before


def test_context_after_compaction_is_the_summary_plus_the_kept_entries(
    path: Path, sid: str
) -> None:
    path.create_session(sid)
    path.append(sid, messages(100))
    summary = {"type": "compaction", "content": "so far: 90 greetings",
               "payload": {"first_kept_seq": 91}}  # fmt: skip
    path.append(sid, [summary])
    path.append(sid, messages(2, 100))
    context = path.read_context(sid)
    assert context["entries"][0]["content"] == "so far: 90 greetings"
    assert context["compaction_seq"] == 101
    assert [e["seq"] for e in context["entries"][1:]] == [*range(91, 101), 102, 103]
    assert path.get_session(sid)["compacted_through_seq"] == 90
    assert len(path.read_entries(sid, limit=1000)["entries"]) == 103, "history stays"


def test_a_compaction_on_a_rewound_branch(path: Path, sid: str) -> None:
    """After a rewind, the compaction summarizes that branch: the context is the summary,
    then the branch from first_kept_seq on."""
    path.create_session(sid)
    path.append(sid, [{"type": "message", "id": f"m{i}", "content": str(i)} for i in range(1, 7)])
    assert path.set_leaf(sid, "m4")["leaf_id"] == "m4"
    summary = {"type": "compaction", "content": "m1..m2", "payload": {"first_kept_seq": 3}}
    path.append(sid, [summary, {"type": "message", "id": "n", "content": "b"}])
    context = path.read_context(sid)["entries"]
    assert context[0]["content"] == "m1..m2"
    assert [e["id"] for e in context][1:] == ["m3", "m4", "n"]
    assert [e["content"] for e in context] == ["m1..m2", "3", "4", "b"]
    assert path.get_session(sid)["compacted_through_seq"] == 2
    assert path.prune(sid, 3)["pruned"] == 2, "what the summary holds can go"
    assert path.read_context(sid)["entries"] == context


BAD_COMPACTIONS = [
    None,
    {},
    {"first_kept_seq": 0},
    {"first_kept_seq": 99},
    {"first_kept_seq": True},
]


def test_a_compaction_needs_a_valid_first_kept_seq(
    path: Path, sid: str, subtests: pytest.Subtests
) -> None:
    path.create_session(sid)
    path.append(sid, messages(3))
    before = path.state(sid)
    for payload in BAD_COMPACTIONS:
        with subtests.test(payload=payload):
            with pytest.raises(InvalidInput):
                path.append(sid, [{"type": "compaction", "payload": payload}])
            assert path.state(sid) == before


@requires(Capability.TABLES)
def test_a_compacted_load_does_not_grow_with_history(path: Any) -> None:
    """The context walk stops at the compaction's floor: loading the same 10 kept entries
    costs the same after 200 or 2,000 entries of history (SQLite VM steps, counted)."""
    raw = path.backend.raw

    def load_cost(session_id: str, history: int) -> int:
        key = SessionKey(path.tenant, session_id)
        path.create_session(session_id)
        for start in range(0, history, 500):
            path.append(session_id, messages(min(500, history - start), start))
        kept = {"type": "compaction", "payload": {"first_kept_seq": history - 9}}
        path.append(session_id, [kept])
        params = (*key.params, path.get_session(session_id)["leaf_id"], *key.params)
        steps = [0]

        def count() -> int:
            steps[0] += 1
            return 0

        raw.set_progress_handler(count, 1)
        rows = raw.execute(statements.SELECT_CONTEXT, params).fetchall()
        raw.set_progress_handler(None, 1)
        assert len(rows) == 11
        return steps[0]

    if not hasattr(raw, "set_progress_handler"):  # Pyodide: the plan must search
        key = SessionKey(path.tenant, "p")
        path.create_session("p")
        path.append("p", messages(3))
        params = (*key.params, "x", *key.params)
        explain = "EXPLAIN QUERY PLAN " + statements.SELECT_CONTEXT
        plan = str(raw.execute(explain, params).fetchall())
        assert "SEARCH e USING" in plan, plan
        return
    small, large = load_cost("small", 200), load_cost("large", 2000)
    assert large < small * 1.2, (small, large)
