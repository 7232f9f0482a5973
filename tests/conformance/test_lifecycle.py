"""Lifecycle: a default time to live, expiry and idle sessions, applied by a sweep. Only a path
whose clock the test sets and whose policy it chooses can drive them (the engine's); the
Worker's real alarms are proven in tests/workerd/test_lifecycle.py, the local server's in
tests/test_local_server.py."""

from __future__ import annotations

from typing import Any

import pytest

from agent_sessions.engine import NotFound
from agent_sessions.engine.lifecycle import Lifecycle

from .paths import Capability, messages, new_id, requires

POLICY_AND_CLOCK = requires(Capability.LIFECYCLE, Capability.CLOCK)


@POLICY_AND_CLOCK
def test_a_default_ttl_unless_the_session_says_otherwise(path: Any) -> None:
    clock, ttl = path.clock, path.with_lifecycle(Lifecycle(ttl_ms=60_000))
    assert ttl.create_session(new_id())["expires_at"] == clock.now + 60_000
    assert ttl.create_session(new_id(), {"expires_at": None})["expires_at"] is None
    own = ttl.create_session(new_id(), {"expires_at": clock.now + 5})
    assert own["expires_at"] == clock.now + 5
    imported = ttl.import_session(new_id(), {"created_at": 1}, [])
    assert imported["expires_at"] == clock.now + 60_000, "from the import, not created_at"


@POLICY_AND_CLOCK
@requires(Capability.TABLES)
def test_sweep_expires_and_abandons_once(path: Any) -> None:
    clock, idle = path.clock, path.with_lifecycle(Lifecycle(idle_timeout_ms=1_000))
    raw = path.backend.raw
    start = clock.now
    doomed, quiet, done = new_id("doomed"), new_id("quiet"), new_id("done")
    idle.create_session(doomed, {"expires_at": start + 500})
    idle.append(doomed, messages(3))
    idle.create_session(quiet)
    idle.create_session(done)
    idle.update_session(done, {"status": "completed"})
    nothing = {"expired": [], "abandoned": []}
    assert idle.sweep() == nothing | {"next_due_at": start + 500}
    clock.now = start + 500
    assert idle.sweep() == {"expired": [doomed], "abandoned": [], "next_due_at": start + 1_000}
    with pytest.raises(NotFound):
        idle.get_session(doomed)
    assert raw.execute("SELECT count(*) FROM session_entries").fetchone() == (0,)
    tombstone = "SELECT op FROM mirror_outbox WHERE session_id = ? ORDER BY id DESC"
    assert raw.execute(tombstone, (doomed,)).fetchone() == ("delete_session",)
    clock.now = start + 1_000
    assert idle.sweep() == nothing | {"abandoned": [quiet], "next_due_at": None}
    abandoned = idle.get_session(quiet)
    assert (abandoned["status"], abandoned["status_changed_at"]) == ("abandoned", clock.now)
    assert idle.get_session(done)["status"] == "completed", "only active sessions go idle"
    before = idle.snapshot()
    clock.now += 10_000
    assert idle.sweep() == nothing | {"next_due_at": None}, "alarms are at-least-once"
    assert idle.snapshot() == before


@POLICY_AND_CLOCK
def test_activity_postpones_the_idle_deadline(path: Any, sid: str) -> None:
    clock, idle = path.clock, path.with_lifecycle(Lifecycle(idle_timeout_ms=1_000))
    idle.create_session(sid)
    clock.now += 900
    idle.append(sid, messages(1))
    clock.now += 900
    assert idle.sweep() == {"expired": [], "abandoned": [], "next_due_at": clock.now + 100}
    assert idle.get_session(sid)["status"] == "active"
