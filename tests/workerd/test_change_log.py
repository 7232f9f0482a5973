"""The change log and D1's retention in real workerd (conftest.CHANGES): the Durable Object's
drain sends its records through the Worker's bindings (miniflare's local Pipelines binding
for sessions, a recording entrypoint of the same kind for entries), and the gateway's cron
handler (`scheduled`, called through the gateway's service binding with a cron event's
`scheduledTime`) removes from local D1 what retention says and no more.

What only a deployed account shows (the records landing in Iceberg tables, R2 SQL's answers)
is not here: miniflare's Pipelines binding accepts records and drops them.
"""

from __future__ import annotations

import time

from agent_sessions.mirror.changes import ENTRY_FIELDS, entry_key
from agent_sessions.mirror.retention import DAY_MS

from .stack import TOKEN, Stack


def delivered(stack: Stack, sid: str) -> dict:
    """The session's mirror status once its outbox is empty (the last error, if it is not)."""
    seen: list[dict] = []

    def check() -> dict | None:
        seen.append(stack.http("GET", f"/v1/sessions/{sid}/mirror")[1])
        return seen[-1] if seen[-1]["pending"] == 0 else None

    try:
        return stack.wait_for(f"{sid} delivered", check)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {seen[-1]['last_error']}") from None


def test_the_drain_sends_its_records_through_the_bindings(changes_stack: Stack) -> None:
    stack, sid = changes_stack, "logged"
    assert stack.http("POST", "/v1/sessions", {"id": sid, "title": "x"}, TOKEN)[0] == 201
    entries = [{"type": "message", "content": f"line {i}"} for i in range(3)]
    assert stack.http("POST", f"/v1/sessions/{sid}/entries", {"entries": entries})[0] == 201
    status = delivered(stack, sid)
    assert status["attempts"] == 0, "both bindings took their records"
    assert status["last_error"] is None
    sent = [r for batch in stack._driver("/changes", None) for r in batch]
    mine = [r for r in sent if r["session_id"] == sid]
    assert [r["seq"] for r in mine] == [1, 2, 3]
    for r in mine:
        assert tuple(r) == ENTRY_FIELDS, "every field crossed, nulls as null"
        assert isinstance(r["seq"], int), "an integer stays an integer"
        assert isinstance(r["version"], int)
        assert r["op"] == "append"
        assert r["parent_id"] is None or isinstance(r["parent_id"], str)
        assert r["idempotency_key"] == entry_key("default", sid, r["seq"], r["id"])


def test_the_cron_removes_what_retention_says_from_d1(changes_stack: Stack) -> None:
    stack = changes_stack
    for sid in ("old-done", "old-active"):
        assert stack.http("POST", "/v1/sessions", {"id": sid}, TOKEN)[0] == 201
        body = {"entries": [{"type": "message", "content": "kept in the object"}]}
        assert stack.http("POST", f"/v1/sessions/{sid}/entries", body)[0] == 201
    assert stack.http("PATCH", "/v1/sessions/old-done", {"status": "completed"})[0] == 200
    for sid in ("old-done", "old-active"):
        delivered(stack, sid)
    later = int(time.time() * 1000) + 2 * DAY_MS  # a cron two days on: both are a day old
    stack._driver("/scheduled/GATEWAY", {"scheduledTime": later, "cron": "*/15 * * * *"})
    held = {
        r["id"] for r in stack.d1("SELECT id FROM sessions WHERE id IN ('old-done', 'old-active')")
    }
    assert held == {"old-active"}, "a completed session left D1; an active one stayed"
    rows = stack.d1("SELECT count(*) AS n FROM session_entries WHERE session_id = 'old-done'")
    assert rows[0]["n"] == 0
    status, session = stack.http("GET", "/v1/sessions/old-done")
    assert status == 200, "its Durable Object still has it"
    assert session["status"] == "completed"
    listed = stack.http("GET", "/v1/sessions?status=completed")[1]
    assert "old-done" not in {s["id"] for s in listed["sessions"]}, "listings read D1"
