"""Fork: a child session holding its source's entries up to a point (the use case), and
adopt_entries, the engine's step that writes each page of the copy into the child."""

from __future__ import annotations

import pytest

from agent_sessions.engine import AlreadyExists, InvalidInput, NotFound

from .paths import Capability, Path, requires

TURN = [
    {"type": "message", "role": "user", "content": "What is the refund policy?", "input_tokens": 9},
    {"type": "tool_call", "payload": {"name": "lookup", "args": {"topic": "refunds"}}},
    {"type": "message", "role": "assistant", "content": "Thirty days.", "output_tokens": 3},
]


@requires(Capability.FORK)
def test_a_fork_copies_up_to_a_point_and_a_repeat_never_doubles(path: Path, sid: str) -> None:
    path.create_session(sid, {"user_id": "u-fork", "data": {"d": 1}})
    path.append(sid, TURN)
    child_id = f"{sid}-child"
    child = path.fork(sid, child_id, at_seq=2)
    assert (child["parent_id"], child["forked_from_seq"], child["entry_count"]) == (sid, 2, 2)
    assert (child["id"], child["user_id"]) == (child_id, "u-fork")
    trunk = path.read_entries(sid)["entries"]
    branch = path.read_entries(child_id)["entries"]
    assert [(e["id"], e["seq"]) for e in branch] == [(e["id"], e["seq"]) for e in trunk[:2]]
    assert path.load_data(child_id)["data"] == {"d": 1}
    again = path.fork(sid, child_id, at_seq=2)
    assert again["entry_count"] == 2, "a repeated fork finishes, never doubles"
    path.append(child_id, [{"type": "message"}])
    assert path.get_session(child_id)["last_seq"] == 3
    assert path.get_session(sid)["entry_count"] == 3, "the source is untouched"


@requires(Capability.FORK)
def test_a_fork_at_an_entry_and_a_bad_fork(path: Path, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, [{"type": "message", "id": f"e{i}"} for i in range(1, 5)])
    child = path.fork(sid, f"{sid}-at", at_entry_id="e3", title="mine")
    assert (child["forked_from_seq"], child["leaf_id"], child["title"]) == (3, "e3", "mine")
    with pytest.raises(InvalidInput):
        path.fork(sid, f"{sid}-bad", at_seq=9)
    with pytest.raises(NotFound):
        path.fork(sid, f"{sid}-bad", at_entry_id="nope")
    with pytest.raises(AlreadyExists):
        path.fork(sid, f"{sid}-at", at_seq=1, title="other")
    assert path.get_session(f"{sid}-at")["title"] == "mine"
    with pytest.raises(NotFound):
        path.get_session(f"{sid}-bad")


@requires(Capability.ADOPT)
@pytest.mark.parametrize("seqs", [[2, 1], [1, 1], [0], [5, 11]])
def test_copied_seqs_must_increase_up_to_the_fork_point(
    path: Path, sid: str, seqs: list[int]
) -> None:
    before = path.state(sid)
    origin = {"parent_id": "src", "forked_from_seq": 10}
    with pytest.raises(InvalidInput):
        path.adopt_entries(sid, origin, [{"type": "message", "seq": s} for s in seqs])
    assert path.state(sid) == before


@requires(Capability.ADOPT)
def test_another_origin_under_the_same_id_is_a_conflict(path: Path, sid: str) -> None:
    path.adopt_entries(sid, {"parent_id": "a", "forked_from_seq": 0}, [])
    assert path.adopt_entries(sid, {"parent_id": "a", "forked_from_seq": 0}, [])["version"] == 1
    with pytest.raises(AlreadyExists):
        path.adopt_entries(sid, {"parent_id": "b", "forked_from_seq": 0}, [])
