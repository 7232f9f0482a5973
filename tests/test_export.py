"""The export document is built by the session's store, in parts of about EXPORT_PART_CHARS:
one RPC answer each, so a session of any size leaves its Durable Object in bounded answers."""

from __future__ import annotations

import json

import pytest

from agent_sessions.engine import NotFound, SessionEngine, SessionKey
from agent_sessions.engine import snapshot as doc
from agent_sessions.engine.limits import EXPORT_PART_CHARS


def test_a_large_session_leaves_in_parts_that_join_into_the_document(
    engine: SessionEngine, key: SessionKey
) -> None:
    engine.create_session(key, {"title": "big", "data": {"k": 1}})
    big = "x" * 200_000
    for _ in range(50):  # about 10 MB of content, over two parts
        engine.append(key, [{"type": "message", "content": big}] * 5)
    parts, after = [], 0
    while after is not None:
        part = engine.export_session(key, after)
        parts.append(part["text"])
        after = part["next_after_seq"]
    assert len(parts) >= 3
    assert all(len(p) < EXPORT_PART_CHARS + 300_000 for p in parts), "a part is bounded"
    session, entries = doc.parse("".join(parts))
    assert (session["title"], session["data"], len(entries)) == ("big", {"k": 1}, 250)
    assert [e["seq"] for e in entries] == list(range(1, 251)), "nothing twice, nothing missed"
    assert json.loads(parts[0].splitlines()[0])["format"] == doc.FORMAT
    assert not parts[1].startswith('{"format"'), "only the first part has the session line"


def test_an_export_of_a_missing_session_is_not_found(
    engine: SessionEngine, key: SessionKey
) -> None:
    with pytest.raises(NotFound):
        engine.export_session(key, 0)
