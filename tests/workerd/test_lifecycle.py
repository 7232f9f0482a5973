"""The Durable Object's one alarm in real workerd, firing on its own at real times, with the
lifecycle policy and the cold tier switched on through the Worker's vars (as `wrangler secret`
or `[vars]` give them): quiet sessions are marked abandoned, expired ones deleted, idle ones
moved to R2 and out of the object, and D1 follows each change."""

from __future__ import annotations

import gzip
import json

from .conftest import POLICY
from .stack import Stack

IDLE_S = int(POLICY["IDLE_TIMEOUT_SECONDS"])
ARCHIVE_S = int(POLICY["ARCHIVE_AFTER_SECONDS"])


def session_of(stack: Stack, session_id: str) -> dict[str, object] | None:
    status, body = stack.http("GET", f"/v1/sessions/{session_id}")
    return body if status == 200 else None


def d1_row(stack: Stack, session_id: str) -> list[dict[str, object]]:
    return stack.d1(
        "SELECT status, archive_key, entry_count FROM sessions "
        "WHERE tenant_id = 'default' AND id = ?",
        session_id,
    )


def count(stack: Stack, table: str) -> int:
    """Rows of session 'cold' in a table of the Durable Objects' own files."""
    sql = f"SELECT count(*) FROM {table} WHERE session_id = 'cold'"
    return sum(n for (n,) in stack.object_rows(sql))


def test_ttl_idle_and_expiry_run_by_real_alarms(policy_stack: Stack) -> None:
    stack = policy_stack
    status, quiet = stack.http("POST", "/v1/sessions", {"id": "quiet"})
    assert status == 201, quiet
    assert quiet["expires_at"] == quiet["created_at"] + 3_600_000, "SESSION_TTL_SECONDS applies"
    doomed = {"id": "doomed", "expires_at": quiet["created_at"] + 500}
    assert stack.http("POST", "/v1/sessions", doomed)[0] == 201
    stack.http(
        "POST", "/v1/sessions/doomed/entries", {"entries": [{"type": "message", "content": "bye"}]}
    )
    gone = stack.wait_for("the expiry", lambda: session_of(stack, "doomed") is None)
    assert gone
    abandoned = stack.wait_for(
        "the idle timeout",
        lambda: (s := session_of(stack, "quiet")) and s["status"] == "abandoned" and s,
    )
    assert abandoned["status_changed_at"] >= quiet["created_at"] + IDLE_S * 1000
    assert stack.wait_for(
        "D1 to follow", lambda: d1_row(stack, "doomed") == [] and d1_row(stack, "quiet")
    )
    assert d1_row(stack, "quiet")[0]["status"] in ("abandoned", "archived")


def test_the_cold_tier_archives_to_r2_and_hydrates(policy_stack: Stack) -> None:
    stack = policy_stack
    stack.http("POST", "/v1/sessions", {"id": "cold", "title": "Q"})
    stack.http(
        "POST", "/v1/sessions/cold/entries", {"entries": [{"type": "message", "content": "kept"}]}
    )
    key = "agent-sessions/default/sessions/cold.json.gz"
    body = stack.wait_for("the snapshot in R2", lambda: stack.r2(key), timeout=ARCHIVE_S + 15)
    lines = [json.loads(line) for line in gzip.decompress(body).splitlines()]
    assert (lines[0]["session"]["status"], [e["content"] for e in lines[1:]]) == (
        "archived",
        ["kept"],
    )
    rows = stack.wait_for(
        "D1 to list it as archived",
        lambda: (r := d1_row(stack, "cold")) and r[0]["status"] == "archived" and r,
    )
    assert rows == [{"status": "archived", "archive_key": key, "entry_count": 1}]
    assert stack.wait_for("the eviction", lambda: count(stack, "evicted_sessions") == 1)
    assert count(stack, "session_entries") == 0, "the object holds none of its rows"
    back = session_of(stack, "cold")
    assert back is not None
    assert (back["status"], back["entry_count"]) == ("archived", 1)
    assert stack.http("GET", "/v1/sessions/cold/entries")[1]["entries"][0]["content"] == "kept"
    stack.http(
        "POST", "/v1/sessions/cold/entries", {"entries": [{"type": "message", "content": "again"}]}
    )
    assert session_of(stack, "cold")["status"] == "active", "a write makes it active again"
    assert stack.wait_for(
        "parity", lambda: stack.http("POST", "/v1/sessions/cold/mirror/verify")[1]["equal"]
    )
