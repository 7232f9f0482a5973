"""The export document is built by the session's store, in parts of about EXPORT_PART_CHARS:
one RPC answer each, so a session of any size leaves its Durable Object in bounded answers."""

from __future__ import annotations

import json

import pytest

from agent_sessions.engine import NotFound, SessionEngine, SessionKey
from agent_sessions.engine import snapshot as doc
from agent_sessions.engine.limits import EXPORT_PART_CHARS
from agent_sessions.service.transfer import parse_import


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


SEPARATORS = "a\u2028b\u2029c\u0085d\x1ce\x0bf\r\ng"
"""Characters str.splitlines() splits at, which JSON leaves unescaped (or escapes: \\x1c)."""


def test_text_with_line_separators_survives_export_and_import(
    engine: SessionEngine, key: SessionKey
) -> None:
    """An export line holds them raw (ensure_ascii=False): the document splits at "\\n" only,
    or the session could not be imported again, nor restored from the cold tier."""
    engine.create_session(key, {"title": SEPARATORS})
    engine.append(key, [{"type": "message", "content": SEPARATORS, "payload": {"p": SEPARATORS}}])
    text = engine.export_session(key, 0)["text"]
    assert "\u2028" in text, "the document holds the character itself"
    _, fields, entries = parse_import(doc.compress(text))  # a cold-tier snapshot
    assert fields["title"] == SEPARATORS
    assert (entries[0]["content"], entries[0]["payload"]) == (SEPARATORS, {"p": SEPARATORS})
    copy = SessionKey(key.tenant_id, key.session_id + "-copy")
    engine.import_session(copy, fields, entries)
    assert engine.read_entries(copy)["entries"][0]["content"] == SEPARATORS
