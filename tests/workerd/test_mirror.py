"""The D1 mirror in real workerd: the fast path (the drain handed to `waitUntil` after a write,
FAST_PATH_WINDOW_MS later) delivers without waiting for the alarm; with D1 failing, the
write still succeeds and real alarms, firing on their own, retry until D1 has every row; and
another Worker (examples/consumer-worker) reads the result with plain SQL. Each test runs on
a stack with one D1 database and on one with two (the tenant's rows in its own:
`stack.shard_of`)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from agent_sessions.engine.ddl import ENTRY_COLUMNS
from agent_sessions.mirror.limits import FAST_PATH_DELAY_MS, FAST_PATH_WINDOW_MS

from .stack import Stack


@pytest.fixture
def stack(any_stack: Stack) -> Stack:
    return any_stack


def mirror(stack: Stack, session_id: str) -> dict[str, object]:
    return stack.http("GET", f"/v1/sessions/{session_id}/mirror")[1]


def test_the_fast_path_delivers_before_the_safety_alarm(stack: Stack) -> None:
    stack.http("POST", "/v1/sessions", {"id": "fast", "user_id": "ada"})
    status, written = stack.http(
        "POST", "/v1/sessions/fast/entries", {"entries": [{"type": "message", "content": "now"}]}
    )
    assert status == 201, written
    session = stack.http("GET", "/v1/sessions/fast")[1]
    status_after = stack.wait_for(
        "delivery", lambda: (s := mirror(stack, "fast"))["pending"] == 0 and s
    )
    assert (status_after["attempts"], status_after["last_error"]) == (0, None), status_after
    assert status_after["last_success_at"] - session["updated_at"] < FAST_PATH_DELAY_MS, (
        "delivered by the waitUntil drain, not by the alarm set for "
        f"{FAST_PATH_DELAY_MS} ms after the write: {status_after}"
    )
    assert status_after["last_success_at"] - session["created_at"] >= FAST_PATH_WINDOW_MS, (
        f"the drain waits {FAST_PATH_WINDOW_MS} ms after the first write: {status_after}"
    )
    rows = stack.d1(
        f"SELECT {', '.join(ENTRY_COLUMNS)} FROM session_entries "
        "WHERE tenant_id = 'default' AND session_id = 'fast' ORDER BY seq",
        binding=stack.shard_of("default"),
    )
    assert [r["content"] for r in rows] == ["now"], rows
    assert stack.http("POST", "/v1/sessions/fast/mirror/verify")[1]["equal"]


@pytest.fixture
def d1_down(stack: Stack) -> Iterator[None]:
    """D1 refusing every mirror batch: its `sessions` table renamed away, so each batch
    (which always upserts the session row) fails as a whole, as D1 batches do."""
    db = stack.shard_of("default")
    stack.d1("ALTER TABLE sessions RENAME TO sessions_away", binding=db)
    try:
        yield
    finally:
        if stack.d1("SELECT name FROM sqlite_master WHERE name = 'sessions_away'", binding=db):
            stack.d1("ALTER TABLE sessions_away RENAME TO sessions", binding=db)


@pytest.mark.usefixtures("d1_down")
def test_real_alarms_retry_until_d1_has_it(stack: Stack) -> None:
    made = stack.http("POST", "/v1/sessions", {"id": "outage"})
    assert made[0] == 201, "a write succeeds while D1 is down"
    stack.http(
        "POST",
        "/v1/sessions/outage/entries",
        {"entries": [{"type": "message", "content": "during"}]},
    )
    failing = stack.wait_for(
        "a retry by the alarm", lambda: (s := mirror(stack, "outage"))["attempts"] >= 2 and s
    )
    assert failing["pending"] == 2, failing
    assert "no such table: sessions" in failing["last_error"], failing
    assert failing["next_attempt_at"] is not None
    stack.d1("ALTER TABLE sessions_away RENAME TO sessions", binding=stack.shard_of("default"))
    started = time.monotonic()
    done = stack.wait_for(
        "the backlog to drain",
        lambda: (s := mirror(stack, "outage"))["pending"] == 0 and s,
        timeout=30,
    )
    assert (done["attempts"], done["last_error"]) == (0, None), done
    assert time.monotonic() - started < 30
    assert stack.http("POST", "/v1/sessions/outage/mirror/verify")[1]["equal"]
    rows = stack.d1(
        "SELECT entry_count FROM sessions WHERE tenant_id = 'default' AND id = 'outage'",
        binding=stack.shard_of("default"),
    )
    assert rows == [{"entry_count": 1}]


def test_a_consumer_worker_reads_the_mirror_with_sql(stack: Stack) -> None:
    stack.http("POST", "/v1/sessions", {"id": "consumed", "user_id": "linus"})
    turn = [
        {"type": "message", "role": "user", "content": "What is 2+2?"},
        {"type": "tool_call", "payload": {"name": "calc"}},
        {"type": "message", "role": "assistant", "content": "4"},
    ]
    stack.http("POST", "/v1/sessions/consumed/entries", {"entries": turn})
    stack.wait_for("delivery", lambda: mirror(stack, "consumed")["pending"] == 0)
    status, answer = stack.worker_call("CONSUMER", "GET", "/sessions?tenant=default&user=linus")
    assert status == 200, answer
    assert [(s["id"], s["message_count"]) for s in answer["sessions"]] == [("consumed", 2)]
    status, answer = stack.worker_call(
        "CONSUMER", "GET", "/sessions/consumed/messages?tenant=default"
    )
    assert [m["content"] for m in answer["messages"]] == ["What is 2+2?", "4"], answer
    status, answer = stack.worker_call("CONSUMER", "GET", "/sessions?tenant=acme&user=linus")
    assert answer["sessions"] == [], "tenants do not see each other's sessions"
