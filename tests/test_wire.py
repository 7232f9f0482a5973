"""The wire models describe what the engine answers, key for key: the HTTP API sends its
largest reads (the context, entry pages) as the Durable Object wrote them, without validating
them against the models again, so a key the engine adds or drops must show up here."""

from __future__ import annotations

from agent_sessions.engine import SessionEngine, SessionKey
from agent_sessions.engine.large import public, split
from agent_sessions.engine.statements import ENTRY_READ_COLUMNS
from agent_sessions.wire import Appended, AppendResult, BlobInfo, Context, Entry, EntryPage, Session


def test_an_entry_has_the_models_fields(engine: SessionEngine, key: SessionKey) -> None:
    engine.create_session(key, {})
    engine.append(key, [{"type": "message", "content": "hi", "payload": {"p": 1}}])
    (read,) = engine.read_entries(key)["entries"]
    assert set(read) == set(Entry.model_fields) - {"blob"} == set(ENTRY_READ_COLUMNS) - {"blob"}


def test_a_large_entry_read_as_a_prefix_has_the_models_fields(
    engine: SessionEngine, key: SessionKey
) -> None:
    """`blob` is there only for a large entry read with large="prefix" (without its key,
    which the host strips: engine/large.py `public`)."""
    engine.create_session(key, {})
    entries, objects = split([{"type": "tool_result", "content": "x" * 300_000}], "e", "k/")
    engine.stage_blobs(key, [name for name, _ in objects])
    engine.append(key, entries)
    (read,) = engine.read_entries(key, large="prefix")["entries"]
    shown = public(read)
    assert set(shown) == set(Entry.model_fields)
    assert set(shown["blob"]) == set(BlobInfo.model_fields)


def test_a_page_and_a_context_have_the_models_fields(
    engine: SessionEngine, key: SessionKey
) -> None:
    engine.create_session(key, {})
    engine.append(key, [{"type": "message", "content": str(n)} for n in range(3)])
    page = engine.read_entries(key, limit=2)
    assert set(page) == set(EntryPage.model_fields)
    assert (page["has_more"], page["next_cursor"]) == (True, 2)
    last = engine.read_entries(key, after_seq=2)
    assert (last["has_more"], last["next_cursor"]) == (False, None)
    backwards = engine.read_entries(key, order="desc", limit=2)
    assert backwards["next_cursor"] == 2, "the last seq of the page, going down"
    assert set(engine.read_context(key)) == set(Context.model_fields)


def test_a_session_and_an_append_have_the_models_fields(
    engine: SessionEngine, key: SessionKey
) -> None:
    """Creating, reading and appending to a session are answered as the object wrote them
    too: the turn's requests, sent on unread (http/routes.py `JsonText`)."""
    made = engine.create_session(key, {"title": "t", "metadata": {"a": 1}})
    assert set(made) == set(Session.model_fields)
    assert set(engine.get_session(key)) == set(Session.model_fields)
    appended = engine.append(key, [{"type": "message", "content": "hi"}])
    assert set(appended) == set(AppendResult.model_fields)
    assert set(appended["entries"][0]) == set(Appended.model_fields)
