"""Appending entries: seqs, counters, parents, limits, idempotent retries, versions."""

from __future__ import annotations

from typing import Any

import pytest

from agent_sessions.engine import InvalidInput, TooLarge, VersionConflict
from agent_sessions.engine.errors import DuplicateEntry
from agent_sessions.engine.limits import (
    INLINE_ENTRY_BYTES,
    MAX_ENTRIES_PER_APPEND,
    MAX_ENTRY_BYTES,
)

from .paths import Capability, Path, messages, requires


def test_append_assigns_seqs_and_keeps_counters_exact(path: Path, sid: str) -> None:
    path.create_session(sid)
    result = path.append(
        sid,
        [
            {"type": "message", "role": "user", "content": "q", "input_tokens": 7},
            {"type": "tool_call", "payload": {"name": "f"}, "id": "call-1"},
            {"type": "message", "role": "assistant", "content": "a", "output_tokens": 11},
        ],
    )
    assert [e["seq"] for e in result["entries"]] == [1, 2, 3]
    assert result["entries"][1]["id"] == "call-1"
    assert (result["first_seq"], result["last_seq"], result["version"]) == (1, 3, 2)
    session = path.get_session(sid)
    assert session["entry_count"] == 3
    assert session["message_count"] == 2
    assert session["last_seq"] == 3
    assert (session["input_tokens"], session["output_tokens"]) == (7, 11)
    assert session["version"] == 2
    assert session["updated_at"] >= session["created_at"]
    assert session["leaf_id"] == result["entries"][2]["id"]
    path.append(sid, messages(2))
    session = path.get_session(sid)
    assert (session["entry_count"], session["message_count"], session["last_seq"]) == (5, 4, 5)
    assert session["version"] == 3


def test_entries_chain_to_the_leaf_unless_a_parent_is_given(path: Path, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, [{"type": "message", "id": "a"}, {"type": "message", "id": "b"}])
    path.append(sid, [{"type": "message", "id": "c", "parent_id": "a"}])
    parents = {e["id"]: e["parent_id"] for e in path.read_entries(sid)["entries"]}
    assert parents == {"a": None, "b": "a", "c": "a"}


@requires(Capability.TABLES)
def test_append_writes_only_the_new_rows(path: Any, sid: str) -> None:
    """O(delta): the same statements and rows per turn at 10 and at 1,000 entries."""
    backend = path.backend
    path.create_session(sid)

    def cost_of_a_turn() -> tuple[int, int]:
        statements = backend.sql.statements if hasattr(backend.sql, "statements") else 0
        changes = backend.raw.total_changes
        path.append(sid, messages(2))
        now = backend.sql.statements if hasattr(backend.sql, "statements") else 0
        return now - statements, backend.raw.total_changes - changes

    path.append(sid, messages(8))
    small = cost_of_a_turn()
    for start in range(0, 1000, 250):
        path.append(sid, messages(250, start))
    large = cost_of_a_turn()
    assert small == large
    assert large[1] == 4, "2 entries + the session row + 1 outbox row"


BAD_BATCHES = [
    ([], InvalidInput),
    ([{"role": "user"}], InvalidInput),
    ([{"type": "chat"}], InvalidInput),
    ([{"type": "message", "colour": "red"}], InvalidInput),
    ([{"type": "message", "id": "x"}, {"type": "message", "id": "x"}], InvalidInput),
    ([{"type": "message", "id": "bad id"}], InvalidInput),
    ([{"type": "message", "parent_id": "nobody"}], InvalidInput),
    ([{"type": "message", "input_tokens": True}], InvalidInput),
    ([{"type": "message", "input_tokens": -1}], InvalidInput),
    ([{"type": "message", "output_tokens": 2**60}], InvalidInput),
    ([{"type": "message", "content": 5}], InvalidInput),
    ([{"type": "message", "content": "x" * (MAX_ENTRY_BYTES + 1)}], TooLarge),
    ([{"type": "message", "payload": "é" * (MAX_ENTRY_BYTES // 2)}], TooLarge),
    ([{"type": "message"}] * (MAX_ENTRIES_PER_APPEND + 1), TooLarge),
    ([*messages(1), {"type": "message", "parent_id": "missing"}], InvalidInput),
]


def test_bad_batches_write_nothing(path: Path, sid: str, subtests: pytest.Subtests) -> None:
    path.create_session(sid)
    path.append(sid, messages(2))
    before = path.state(sid)
    for number, (entries, error) in enumerate(BAD_BATCHES):
        with subtests.test(batch=number, first=str(entries)[:60]):
            with pytest.raises(error):
                path.append(sid, entries)
            assert path.state(sid) == before


@requires(Capability.LOOSE_ARGUMENTS)
def test_entries_that_are_not_a_list_write_nothing(path: Path, sid: str) -> None:
    path.create_session(sid)
    before = path.state(sid)
    with pytest.raises(InvalidInput):
        path.append(sid, "not a list")
    assert path.state(sid) == before


@requires(Capability.NATIVE_VALUES)
def test_a_payload_json_cannot_carry_writes_nothing(path: Path, sid: str) -> None:
    path.create_session(sid)
    before = path.state(sid)
    with pytest.raises(InvalidInput):
        path.append(sid, [{"type": "message", "payload": {1, 2}}])
    assert path.state(sid) == before


def test_an_entry_at_the_row_limit_is_accepted(path: Path, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, [{"type": "message", "content": "x" * INLINE_ENTRY_BYTES}])
    assert len(path.read_entries(sid)["entries"][0]["content"]) == INLINE_ENTRY_BYTES


def test_an_existing_id_is_a_conflict_and_writes_nothing(path: Path, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, [{"type": "message", "id": "m1"}])
    before = path.state(sid)
    with pytest.raises(DuplicateEntry) as info:
        path.append(sid, [{"type": "message", "id": "m2"}, {"type": "message", "id": "m1"}])
    assert info.value.details == {"ids": ["m1"], "different": [], "missing": ["m2"]}
    assert path.state(sid) == before


def test_resending_a_batch_returns_the_original_seqs_and_writes_nothing(
    path: Path, sid: str
) -> None:
    path.create_session(sid)
    turn = [
        {"type": "message", "id": "q1", "role": "user", "content": "hi", "payload": {"a": 1}},
        {"type": "message", "id": "a1", "role": "assistant", "content": "yo", "output_tokens": 2},
    ]
    first = path.append(sid, turn, expected_version=1)
    path.append(sid, [{"type": "message", "id": "later"}])
    before = path.state(sid)
    again = path.append(sid, turn, expected_version=1)  # a retry after a lost answer
    assert path.state(sid) == before
    assert again["entries"] == first["entries"]
    assert (again["first_seq"], again["last_seq"], again["replayed"]) == (1, 2, True)
    assert again["version"] == 3, "the current version, not the one the retry expected"


RETRIES = [
    ([{"type": "message", "id": "q1", "content": "other"}], ["q1"]),
    ([{"type": "tool_call", "id": "q1", "content": "hi"}], ["q1"]),
    ([{"type": "message", "id": "q1", "content": "hi", "input_tokens": 1}], ["q1"]),
    ([{"type": "message", "id": "q1", "content": "hi"}, {"type": "message", "id": "n"}], []),
]


def test_same_id_with_other_content_is_a_conflict(
    path: Path, sid: str, subtests: pytest.Subtests
) -> None:
    path.create_session(sid)
    path.append(sid, [{"type": "message", "id": "q1", "content": "hi"}])
    before = path.state(sid)
    for retry, different in RETRIES:
        with subtests.test(retry=retry):
            with pytest.raises(DuplicateEntry) as info:
                path.append(sid, retry)
            assert info.value.details["different"] == different
            assert path.state(sid) == before


def test_stale_expected_version_writes_nothing(path: Path, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, messages(1), expected_version=1)
    before = path.state(sid)
    with pytest.raises(VersionConflict) as info:
        path.append(sid, messages(1), expected_version=1)
    assert info.value.details["current_version"] == 2
    assert path.state(sid) == before
