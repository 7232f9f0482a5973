"""The D1 mirror of one session: its status, a parity check against D1, a resync. The engine
only queues what D1 must receive (its outbox, seen where tables are visible); the status and
the parity check are the host's, beside a real mirror (local D1 file, D1 in workerd)."""

from __future__ import annotations

import time
from typing import Any

from .paths import Capability, Path, messages, requires


def mirrored(path: Path, session_id: str, timeout: float = 20) -> dict[str, Any]:
    """The mirror's status once D1 has everything (drains run after each write)."""
    deadline = time.monotonic() + timeout
    while (status := path.mirror_status(session_id))["pending"]:
        assert time.monotonic() < deadline, f"the mirror did not catch up: {status}"
        time.sleep(0.05)
    return status


def test_a_resync_is_queued_also_for_a_session_that_is_gone(path: Path, sid: str) -> None:
    """D1 may still hold rows of a deleted session: a resync purges them."""
    path.create_session(sid)
    assert path.resync_mirror(sid) == {"id": sid, "resync": True, "exists": True}
    path.delete_session(sid)
    assert path.resync_mirror(sid) == {"id": sid, "resync": True, "exists": False}


def test_a_resync_of_an_id_never_used(path: Path, sid: str) -> None:
    """The purge is queued whatever the store knows of the id (D1 may hold rows the store never
    had, e.g. from an earlier deployment's store), on every path."""
    assert path.resync_mirror(sid) == {"id": sid, "resync": True, "exists": False}


@requires(Capability.TABLES)
def test_a_resync_queues_a_purge_then_the_current_rows(path: Any, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, messages(2))
    path.resync_mirror(sid)
    raw = path.backend.raw
    ops = "SELECT op, ifnull(seq_from, 0), ifnull(seq_to, 0) FROM mirror_outbox "
    assert raw.execute(ops + "WHERE session_id = ? ORDER BY id", (sid,)).fetchall()[-2:] == [
        ("resync", 0, 0),
        ("append_entries", 1, 2),
    ]


@requires(Capability.MIRROR)
def test_writes_reach_d1_and_verify_equal(path: Path, sid: str) -> None:
    path.create_session(sid, {"user_id": "u-mirror"})
    path.append(sid, [{"type": "message", "content": "a"}])
    path.save_data(sid, {"k": 1})
    status = mirrored(path, sid)
    assert (status["attempts"], status["last_error"]) == (0, None)
    assert status["delivered"] >= 3
    assert status["lag_ms"] == 0
    report = path.verify_mirror(sid)
    assert report == {
        "id": sid,
        "equal": True,
        "session_equal": True,
        "counts": {"missing": 0, "extra": 0, "different": 0},
        "entries": {"missing": [], "extra": [], "different": []},
    }


@requires(Capability.MIRROR)
def test_a_resync_leaves_d1_equal(path: Path, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, messages(3))
    path.prune(sid, 2)
    mirrored(path, sid)
    assert path.resync_mirror(sid)["exists"] is True
    mirrored(path, sid)
    report = path.verify_mirror(sid)
    assert (report["equal"], report["counts"]) == (True, {"missing": 0, "extra": 0, "different": 0})
