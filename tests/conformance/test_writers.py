"""Fenced writers: a claim makes one writer the only one; epochs and writer sequences."""

from __future__ import annotations

import pytest

from agent_sessions.engine import InvalidInput, NotFound
from agent_sessions.engine.errors import Fenced

from .paths import Path, messages, new_id


def test_a_claim_fences_earlier_writers(path: Path, sid: str) -> None:
    path.create_session(sid)
    unclaimed = path.get_writer(sid)
    assert (unclaimed["writer_id"], unclaimed["epoch"], unclaimed["next_seq"]) == (None, 0, 0)
    path.append(sid, messages(2))
    a = path.claim_writer(sid, "proc-a")
    assert (a["epoch"], a["next_seq"], a["head_seq"]) == (1, 0, 2)
    turn = [{"type": "message", "content": "from a"}]
    first = path.append(sid, turn, writer={"writer_id": "proc-a", "epoch": 1, "seq": 0})
    again = path.append(sid, turn, writer={"writer_id": "proc-a", "epoch": 1, "seq": 0})
    assert again["entries"] == first["entries"], "an exact retry returns the original result"
    assert again["replayed"] is True
    b = path.claim_writer(sid, "proc-b")
    assert b["epoch"] == 2
    claimed = path.get_writer(sid)
    assert (claimed["writer_id"], claimed["epoch"], claimed["next_seq"]) == ("proc-b", 2, 0)
    before = path.state(sid)
    stale = {"writer_id": "proc-a", "epoch": 1, "seq": 1}
    with pytest.raises(Fenced) as info:
        path.append(sid, turn, writer=stale)
    assert info.value.details["reason"] == "stale_epoch"
    for seq in (1, 5):  # a gap, and a sequence that was never sent
        with pytest.raises(Fenced):
            path.append(sid, turn, writer={"writer_id": "proc-b", "epoch": 2, "seq": seq})
    assert path.state(sid) == before
    path.append(sid, turn, writer={"writer_id": "proc-b", "epoch": 2, "seq": 0})
    with pytest.raises(Fenced) as conflict:  # the same sequence with another batch
        path.append(sid, messages(1), writer={"writer_id": "proc-b", "epoch": 2, "seq": 0})
    assert conflict.value.details["next_seq"] == 1
    assert path.get_session(sid)["entry_count"] == 4
    fence = path.get_writer(sid)
    assert (fence["writer_id"], fence["epoch"], fence["next_seq"]) == ("proc-b", 2, 1)
    assert fence["head_seq"] == 4


def test_bad_writer_fields(path: Path, sid: str) -> None:
    path.create_session(sid)
    for bad in ({"writer_id": "w"}, {"writer_id": "w", "epoch": 1, "seq": -1}, {"x": 1}):
        with pytest.raises(InvalidInput):
            path.append(sid, messages(1), writer=bad)
    with pytest.raises(Fenced):  # never claimed
        path.append(sid, messages(1), writer={"writer_id": "w", "epoch": 1, "seq": 0})
    with pytest.raises(NotFound):
        path.claim_writer(new_id("missing"), "w")
    assert path.get_session(sid)["entry_count"] == 0
