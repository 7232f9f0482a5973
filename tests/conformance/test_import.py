"""Import: a session made from an export, its entries' ids, parents and times kept, its
counters recomputed. Over HTTP and RPC the import is an export document (JSON Lines)."""

from __future__ import annotations

from typing import Any

import pytest

from agent_sessions.engine import AlreadyExists, InvalidInput

from .paths import Capability, Path, new_id, requires


def test_import_keeps_content_and_timestamps_and_recounts(path: Path, sid: str) -> None:
    session = {"title": "T", "status": "completed", "created_at": 1000, "data": {"d": 1}}
    entries = [
        {"id": "a", "type": "message", "content": "q", "created_at": 1001, "input_tokens": 2},
        {"id": "b", "type": "tool_call", "parent_id": "a", "payload": {"n": 1}},
        {"id": "c", "type": "message", "parent_id": "a", "created_at": 1003},
    ]
    made = path.import_session(sid, session, entries)
    assert (made["title"], made["status"], made["created_at"]) == ("T", "completed", 1000)
    assert (made["entry_count"], made["message_count"], made["input_tokens"]) == (3, 2, 2)
    assert made["leaf_id"] == "c"
    read = path.read_entries(sid)["entries"]
    assert [(e["seq"], e["id"], e["parent_id"]) for e in read] == [
        (1, "a", None), (2, "b", "a"), (3, "c", "a"),
    ]  # fmt: skip
    assert (read[0]["created_at"], read[2]["created_at"]) == (1001, 1003)
    assert path.load_data(sid)["data"] == {"d": 1}


BAD_IMPORTS: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
    ({"title": 1}, []),
    ({}, [{"type": "message", "parent_id": "later"}, {"type": "message", "id": "later"}]),
    ({}, [{"type": "message", "id": "x"}, {"type": "message", "id": "x"}]),
    ({}, [{"type": "message"}, {"role": "user"}]),
]


def test_bad_imports_write_nothing(path: Path, sid: str, subtests: pytest.Subtests) -> None:
    other = new_id("other")
    path.create_session(other)
    before = (path.state(other), path.state(sid))
    for session, entries in BAD_IMPORTS:
        with subtests.test(session=session, entries=entries):
            with pytest.raises(InvalidInput):
                path.import_session(sid, session, entries)
            assert (path.state(other), path.state(sid)) == before


@requires(Capability.RAW_IMPORT)
def test_an_archived_status_is_not_imported(path: Path, sid: str) -> None:
    before = path.state(sid)
    with pytest.raises(InvalidInput):
        path.import_session(sid, {"status": "archived"}, [])
    assert path.state(sid) == before


def test_import_onto_an_existing_id_is_a_conflict(path: Path, sid: str) -> None:
    path.create_session(sid)
    with pytest.raises(AlreadyExists):
        path.import_session(sid, {}, [{"type": "message"}])
    assert path.get_session(sid)["entry_count"] == 0
