"""Reading entries: order, pages forward and back, the type filter, bad queries."""

from __future__ import annotations

from typing import Any

import pytest

from agent_sessions.engine import InvalidInput

from .paths import Capability, Path, messages, requires


@pytest.fixture
def filled(path: Path, sid: str) -> Path:
    path.create_session(sid)
    path.append(sid, messages(3))
    path.append(sid, [{"type": "tool_call", "payload": {"n": 1}}, *messages(2, 3)])
    path.append(sid, [{"type": "tool_result", "content": "42"}])
    return path


def test_everything_in_order(filled: Path, sid: str) -> None:
    page = filled.read_entries(sid)
    assert [e["seq"] for e in page["entries"]] == [1, 2, 3, 4, 5, 6, 7]
    assert page["has_more"] is False
    first = page["entries"][0]
    assert first["payload"] == {"i": 0}
    assert first["content"] == "hello 0"
    assert set(first) == {
        "seq", "id", "parent_id", "type", "role", "content", "payload",
        "input_tokens", "output_tokens", "created_at",
    }  # fmt: skip
    assert (page["entries"][3]["payload"], page["entries"][3]["content"]) == ({"n": 1}, None)


def test_after_seq_and_limit_page_forward(filled: Path, sid: str) -> None:
    page = filled.read_entries(sid, after_seq=2, limit=3)
    assert [e["seq"] for e in page["entries"]] == [3, 4, 5]
    assert page["has_more"] is True
    page = filled.read_entries(sid, after_seq=5, limit=3)
    assert [e["seq"] for e in page["entries"]] == [6, 7]
    assert page["has_more"] is False


def test_desc_gives_the_latest_first(filled: Path, sid: str) -> None:
    page = filled.read_entries(sid, limit=2, order="desc")
    assert [e["seq"] for e in page["entries"]] == [7, 6]
    page = filled.read_entries(sid, before_seq=6, limit=10, order="desc")
    assert [e["seq"] for e in page["entries"]] == [5, 4, 3, 2, 1]


def test_types_filter(filled: Path, sid: str) -> None:
    page = filled.read_entries(sid, types=["tool_call", "tool_result"])
    assert [(e["seq"], e["type"]) for e in page["entries"]] == [
        (4, "tool_call"),
        (7, "tool_result"),
    ]
    page = filled.read_entries(sid, types=["message"], order="desc", limit=2)
    assert [e["seq"] for e in page["entries"]] == [6, 5]


BAD_QUERIES: list[dict[str, Any]] = [
    {"limit": 0},
    {"limit": 10_000},
    {"after_seq": -1},
    {"order": "sideways"},
    {"types": ["chat"]},
]


def test_bad_queries(filled: Path, sid: str, subtests: pytest.Subtests) -> None:
    for query in BAD_QUERIES:
        with subtests.test(query=query), pytest.raises(InvalidInput):
            filled.read_entries(sid, **query)


@requires(Capability.LOOSE_ARGUMENTS)
def test_queries_of_another_type(filled: Path, sid: str, subtests: pytest.Subtests) -> None:
    for query in ({"after_seq": "3"}, {"types": "message"}):
        with subtests.test(query=query), pytest.raises(InvalidInput):
            filled.read_entries(sid, **query)
