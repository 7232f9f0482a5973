"""Entries larger than a row holds (engine/large.py, archive/blobs.py): their large part in
the blob store, whole on every read unless a prefix is asked for, in every operation that
copies, moves or removes entries, and refused whole (no rows, no objects) past the limits."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from agent_sessions.engine import InvalidInput, TooLarge, VersionConflict
from agent_sessions.engine import snapshot as document
from agent_sessions.engine.errors import DuplicateEntry
from agent_sessions.engine.limits import (
    INLINE_ENTRY_BYTES,
    MAX_APPEND_BYTES,
    MAX_ENTRY_BYTES,
    PREFIX_CHARS,
)
from agent_sessions.service.transfer import ENTRY_FIELDS as IMPORTED

from .paths import Capability, Path, new_id, requires

MB8 = 8 * 1024 * 1024


def tool_output(size: int = MB8, seed: str = "a") -> str:
    """A tool's output of `size` characters, not one repeated letter (so a prefix or a part
    in the wrong place shows), with a quote to escape, a non-ASCII character and U+2028 (a
    line separator to splitlines(), text to JSON Lines)."""
    line = f'{seed} "line" é\u2028{hashlib.sha256(seed.encode()).hexdigest()}\n'
    return (line * (size // len(line) + 1))[:size]


def big_result(content: str, **fields: Any) -> dict[str, Any]:
    return {"type": "tool_result", "role": "tool", "content": content, **fields}


def objects(path: Path, sid: str) -> list[str] | None:
    """The session's objects where the path shows them, else None."""
    return path.objects(sid) if Capability.OBJECTS in path.capabilities else None


@requires(Capability.LARGE)
def test_an_8_mb_tool_output_round_trips(path: Path, sid: str) -> None:
    path.create_session(sid)
    output = tool_output()
    made = path.append(
        sid,
        [
            {"type": "tool_call", "id": "call", "payload": {"name": "read_file"}},
            big_result(output, id="out", payload={"call_id": "call"}, output_tokens=3),
            {"type": "message", "id": "after", "content": "done"},
        ],
    )
    assert [e["seq"] for e in made["entries"]] == [1, 2, 3]
    read = path.read_entries(sid)["entries"]
    assert [e["id"] for e in read] == ["call", "out", "after"]
    assert read[1]["content"] == output
    assert read[1]["payload"] == {"call_id": "call"}
    assert read[1]["output_tokens"] == 3
    assert "blob" not in read[1]
    context = path.read_context(sid)["entries"]
    assert [e["content"] for e in context][1] == output
    session = path.get_session(sid)
    assert (session["entry_count"], session["output_tokens"]) == (3, 3)


@requires(Capability.LARGE)
def test_a_large_payload_round_trips(path: Path, sid: str) -> None:
    path.create_session(sid)
    payload = {"pages": [tool_output(MB8 // 4, str(i)) for i in range(4)], "n": 4}
    path.append(sid, [{"type": "tool_result", "id": "p", "content": "4 pages", "payload": payload}])
    (found,) = path.read_entries(sid)["entries"]
    assert (found["content"], found["payload"]) == ("4 pages", payload)
    (short,) = path.read_entries(sid, large="prefix")["entries"]
    assert (short["content"], short["payload"]) == ("4 pages", None)
    assert short["blob"]["fields"] == ["payload"]


@requires(Capability.LARGE)
def test_a_prefix_read_answers_the_row_and_what_is_left_out(path: Path, sid: str) -> None:
    path.create_session(sid)
    output = tool_output(INLINE_ENTRY_BYTES * 2)
    path.append(sid, [big_result(output, id="out"), {"type": "message", "content": "small"}])
    page = path.read_entries(sid, large="prefix")
    large, small = page["entries"]
    assert large["content"] == output[:PREFIX_CHARS]
    body = json.dumps({"content": output}, separators=(",", ":"), ensure_ascii=False).encode()
    assert large["blob"] == {
        "bytes": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "fields": ["content"],
    }
    assert "blob" not in small
    assert small["content"] == "small"
    context = path.read_context(sid, large="prefix")["entries"]
    assert context[0]["content"] == output[:PREFIX_CHARS]
    assert "blob" in context[0]
    with pytest.raises(InvalidInput):
        path.read_entries(sid, large="some")


@requires(Capability.LARGE)
def test_a_prefix_read_entry_cannot_be_written_back(path: Path, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, [big_result(tool_output(INLINE_ENTRY_BYTES + 10), id="out")])
    (short,) = path.read_entries(sid, large="prefix")["entries"]
    other = new_id()
    path.create_session(other)
    fields = ("type", "content", "blob")
    with pytest.raises(InvalidInput):
        path.append(other, [{f: short[f] for f in fields}])
    assert path.get_session(other)["entry_count"] == 0


@requires(Capability.LARGE)
def test_an_entry_just_over_the_row_limit_goes_out_and_back(path: Path, sid: str) -> None:
    path.create_session(sid)
    at, over = "a" * INLINE_ENTRY_BYTES, "o" * (INLINE_ENTRY_BYTES + 1)  # bytes: ASCII
    path.append(sid, [big_result(at, id="at"), big_result(over, id="over")])
    first, second = path.read_entries(sid, large="prefix")["entries"]
    assert "blob" not in first
    assert first["content"] == at
    assert second["blob"]["fields"] == ["content"]
    assert [e["content"] for e in path.read_entries(sid)["entries"]] == [at, over]


OVER_LIMITS = [
    pytest.param([big_result("x" * (MAX_ENTRY_BYTES + 1))], id="an entry over the maximum"),
    pytest.param(
        [big_result("y" * (MAX_ENTRY_BYTES // 2 + 1), payload="z" * (MAX_ENTRY_BYTES // 2))],
        id="content and payload over it together",
    ),
    pytest.param(
        [big_result("w" * (MAX_APPEND_BYTES // 2 + 1), id=f"w{i}") for i in range(2)],
        id="an append over the maximum",
    ),
]


@requires(Capability.LARGE)
@pytest.mark.parametrize("entries", OVER_LIMITS)
def test_past_the_maxima_nothing_is_written(path: Path, sid: str, entries: list[Any]) -> None:
    path.create_session(sid)
    path.append(sid, [big_result(tool_output(INLINE_ENTRY_BYTES * 2), id="kept")])
    before, stored = path.state(sid), objects(path, sid)
    with pytest.raises(TooLarge):
        path.append(sid, entries)
    assert path.state(sid) == before
    assert objects(path, sid) == stored


@requires(Capability.LARGE)
def test_a_refused_large_write_leaves_no_object(path: Path, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, [big_result(tool_output(INLINE_ENTRY_BYTES * 2), id="one")])
    before, stored = path.state(sid), objects(path, sid)
    version = path.get_session(sid)["version"]
    big = big_result(tool_output(INLINE_ENTRY_BYTES * 3, "b"), id="two")
    with pytest.raises(VersionConflict):
        path.append(sid, [big], expected_version=version - 1)
    with pytest.raises(DuplicateEntry):
        path.append(sid, [big_result(tool_output(INLINE_ENTRY_BYTES * 3, "c"), id="one")])
    with pytest.raises(InvalidInput):
        path.append(sid, [big, {"type": "message", "parent_id": "nobody"}])
    assert path.state(sid) == before
    assert objects(path, sid) == stored


@requires(Capability.LARGE)
def test_a_resent_large_batch_is_a_replay(path: Path, sid: str) -> None:
    path.create_session(sid)
    batch = [big_result(tool_output(INLINE_ENTRY_BYTES * 2), id="out")]
    first = path.append(sid, batch)
    stored = objects(path, sid)
    again = path.append(sid, batch, expected_version=first["version"] - 1)
    assert again["replayed"] is True
    assert again["entries"] == first["entries"]
    assert objects(path, sid) == stored
    assert stored is None or len(stored) == 1


@requires(Capability.LARGE)
def test_prune_replace_and_delete_remove_the_objects(path: Path, sid: str) -> None:
    def count() -> int | None:
        stored = objects(path, sid)
        return None if stored is None else len(stored)

    seen = objects(path, sid) is not None
    path.create_session(sid)
    path.append(sid, [big_result(tool_output(INLINE_ENTRY_BYTES * 2, str(i))) for i in range(4)])
    assert count() == (4 if seen else None)
    path.prune(sid, 2)
    assert count() == (3 if seen else None)
    output = tool_output(INLINE_ENTRY_BYTES * 2, "new")
    replaced = path.replace_history(sid, 3, [big_result(output, id="new")])
    assert replaced["removed"] == 2
    assert count() == (2 if seen else None)
    contents = [e["content"] for e in path.read_entries(sid)["entries"]]
    assert contents == [tool_output(INLINE_ENTRY_BYTES * 2, "1"), output]
    path.delete_session(sid)
    assert count() == (0 if seen else None)


@requires(Capability.LARGE)
def test_export_and_import_carry_whole_entries(path: Path, sid: str) -> None:
    path.create_session(sid, {"title": "big"})
    output = tool_output()
    path.append(sid, [{"type": "message", "content": "read it"}, big_result(output, id="out")])
    text = path.export(sid)
    session, entries = document.parse(text)
    assert [e["content"] for e in entries] == ["read it", output]
    assert all("blob" not in e for e in entries)
    copy = new_id()
    kept = [{f: e[f] for f in IMPORTED if e.get(f) is not None} for e in entries]
    path.import_session(copy, {"title": session["title"]}, kept)
    assert [e["content"] for e in path.read_entries(copy)["entries"]] == ["read it", output]
    mine, theirs = objects(path, sid), objects(path, copy)
    assert mine is None or (len(mine) == len(theirs or []) == 1 and mine != theirs)


@requires(Capability.LARGE, Capability.FORK)
def test_a_fork_keeps_its_large_entries_when_the_parent_goes(path: Path, sid: str) -> None:
    path.create_session(sid)
    output = tool_output()
    path.append(sid, [big_result(output, id="out"), {"type": "message", "id": "m"}])
    child = new_id()
    path.fork(sid, child)
    path.delete_session(sid)
    assert objects(path, sid) in (None, [])
    read = path.read_entries(child)["entries"]
    assert [e["id"] for e in read] == ["out", "m"]
    assert read[0]["content"] == output
    stored = objects(path, child)
    assert stored is None or len(stored) == 1


@requires(Capability.LARGE)
def test_a_page_of_whole_entries_ends_before_it_grows_past_the_read_limit(
    path: Path, sid: str
) -> None:
    path.create_session(sid)
    for i in range(3):  # three appends: 3 x 6 MiB is more than one page (or append) holds
        path.append(sid, [big_result(tool_output(6 * 1024 * 1024, str(i)), id=f"e{i}")])
    first = path.read_entries(sid)
    assert [e["id"] for e in first["entries"]] == ["e0", "e1"]
    assert first["has_more"]
    rest = path.read_entries(sid, after_seq=2)
    assert [e["id"] for e in rest["entries"]] == ["e2"]
    assert not rest["has_more"]
    short = path.read_entries(sid, large="prefix")
    assert len(short["entries"]) == 3
    assert not short["has_more"]
    with pytest.raises(TooLarge):
        path.read_context(sid)
    assert len(path.read_context(sid, large="prefix")["entries"]) == 3
