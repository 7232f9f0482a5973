"""The gateway's HTTP API in real workerd, as a client on the internet calls it: FastAPI
through our ASGI bridge (worker/http_bridge.py), each session's Durable Object over RPC,
listing and search from the local D1 that the objects mirror into."""

from __future__ import annotations

import gzip
import json

from agent_sessions.engine.limits import MAX_ENTRY_BYTES

from .stack import OTHER_TENANT_TOKEN, READ_ONLY_TOKEN, Stack

TURN = {
    "entries": [
        {
            "type": "message",
            "role": "user",
            "content": "What is the refund policy?",
            "input_tokens": 9,
        },
        {"type": "tool_call", "payload": {"name": "lookup", "args": {"topic": "refunds"}}},
        {"type": "message", "role": "assistant", "content": "Thirty days.", "output_tokens": 3},
    ]
}


def error_code(answer: tuple[int, object]) -> tuple[int, str]:
    status, body = answer
    assert isinstance(body, dict), body
    assert set(body) == {"error"}, body
    assert body["error"]["message"], body
    return status, body["error"]["code"]


def test_each_route_answers_with_its_status(stack: Stack) -> None:
    """The gateway's statuses and its cursor; what the operations answer is the conformance
    suite's (tests/conformance/, run here by test_conformance.py over HTTP and RPC)."""
    status, made = stack.http("POST", "/v1/sessions", {"id": "web", "user_id": "ada", "title": "T"})
    assert status == 201, made
    status, appended = stack.http("POST", "/v1/sessions/web/entries", TURN)
    assert status == 201, appended
    status, page = stack.http("GET", "/v1/sessions/web/entries?limit=2")
    assert (status, page["next_cursor"]) == (200, 2), page
    first = page["entries"][0]["id"]
    status, moved = stack.http("PUT", "/v1/sessions/web/leaf", {"entry_id": first})
    assert status == 200, moved
    for _ in range(2):  # a repeated fork finishes: 201 again
        status, child = stack.http("POST", "/v1/sessions/web/fork", {"id": "web-fork", "at_seq": 2})
        assert status == 201, child
    status, queued = stack.http("POST", "/v1/sessions/web/mirror/resync")
    assert status == 202, queued


def test_bad_input_is_refused_with_its_code_and_changes_nothing(stack: Stack) -> None:
    stack.http("POST", "/v1/sessions", {"id": "strict"})
    assert error_code(stack.http("GET", "/v1/sessions/nope")) == (404, "not_found")
    assert error_code(stack.http("POST", "/v1/sessions", {"id": "strict"})) == (
        409,
        "already_exists",
    )
    bad = stack.http("POST", "/v1/sessions/strict/entries", {"entries": [{}]})
    assert error_code(bad) == (422, "invalid")
    broken = stack.http("PUT", "/v1/sessions/strict/data", raw=b'{"data": ')
    assert error_code(broken) == (400, "malformed")
    big = {"entries": [{"type": "message", "content": "x" * (MAX_ENTRY_BYTES + 1)}]}
    assert error_code(stack.http("POST", "/v1/sessions/strict/entries", big)) == (413, "too_large")
    stale = stack.http("PUT", "/v1/sessions/strict/data", {"data": {}, "expected_version": 9})
    assert error_code(stale) == (409, "version_conflict")
    assert stale[1]["error"]["details"]["current_version"] == 1
    session = stack.http("GET", "/v1/sessions/strict")[1]
    assert (session["version"], session["entry_count"]) == (1, 0), "refused writes wrote nothing"


def test_tokens_decide_the_tenant_and_the_scope(stack: Stack) -> None:
    stack.http("POST", "/v1/sessions", {"id": "mine"})
    assert error_code(stack.http("GET", "/v1/sessions/mine", token=None)) == (401, "unauthorized")
    wrong = stack.http("GET", "/v1/sessions/mine", token="not-a-token-of-this-worker")
    assert error_code(wrong) == (401, "unauthorized")
    status, _ = stack.http("GET", "/v1/sessions/mine", token=READ_ONLY_TOKEN)
    assert status == 200, "a read-only token reads"
    refused = stack.http("POST", "/v1/sessions/mine/entries", TURN, token=READ_ONLY_TOKEN)
    assert error_code(refused) == (403, "forbidden")
    elsewhere = stack.http("GET", "/v1/sessions/mine", token=OTHER_TENANT_TOKEN)
    assert error_code(elsewhere) == (404, "not_found"), "another tenant's session is not found"
    assert stack.http("GET", "/v1/sessions/mine")[1]["version"] == 1


def test_listing_and_search_read_d1(stack: Stack) -> None:
    stack.http("POST", "/v1/sessions", {"id": "listed", "user_id": "grace", "agent_name": "a"})
    stack.http("POST", "/v1/sessions/listed/entries", TURN)

    def listed() -> list[str]:
        page = stack.http("GET", "/v1/sessions?user_id=grace")[1]
        return [s["id"] for s in page["sessions"] if s["entry_count"] == 3]

    assert stack.wait_for("the mirror to list the session", listed) == ["listed"]
    status, found = stack.http("GET", "/v1/search?q=refund%20policy")
    assert status == 200, found
    assert ("listed", 1) in [(h["session_id"], h["seq"]) for h in found["hits"]], found
    other = stack.http("GET", "/v1/search?q=refund", token=OTHER_TENANT_TOKEN)[1]
    assert all(h["session_id"] != "listed" for h in other["hits"]), "search is per tenant"


def test_export_and_import_round_trip(stack: Stack) -> None:
    stack.http("POST", "/v1/sessions", {"id": "exported", "user_id": "ada"})
    stack.http("POST", "/v1/sessions/exported/entries", TURN)
    status, lines = stack.http("GET", "/v1/sessions/exported/export")
    assert status == 200
    assert lines[0]["format"] == "agent-sessions.v1"
    assert [e["seq"] for e in lines[1:]] == [1, 2, 3]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    status, copy = stack.http(
        "POST",
        "/v1/sessions/import?session_id=imported",
        headers={"content-type": "application/x-ndjson"},
        raw=body,
    )
    assert (status, copy["entry_count"]) == (201, 3), copy
    status, snapshot = stack.http("GET", "/v1/sessions/exported/export?snapshot=true")
    assert status == 200
    assert json.loads(gzip.decompress(snapshot).splitlines()[0])["format"] == "agent-sessions.v1"
    imported = stack.http("GET", "/v1/sessions/imported/entries")[1]["entries"]
    original = stack.http("GET", "/v1/sessions/exported/entries")[1]["entries"]
    assert [(e["id"], e["content"]) for e in imported] == [
        (e["id"], e["content"]) for e in original
    ]


def test_console_page_is_served(stack: Stack) -> None:
    status, page = stack.http("GET", "/console", token=None)
    assert status == 200
    assert b"<html" in page.lower()
    assert b"/v1/sessions" in page
    status, spec = stack.http("GET", "/openapi.json", token=None)
    assert (status, spec["openapi"][:3]) == (200, "3.1")


def test_a_streamed_answer_arrives_whole_and_in_order(stack: Stack) -> None:
    """An export is streamed (one chunk per line) through the bridge's TransformStream while
    the app keeps writing: every line arrives, in order, and the connection serves on."""
    stack.http("POST", "/v1/sessions", {"id": "streamed"})
    turns = [
        {"type": "message", "role": "user", "content": f"line {i} " + "z" * 900} for i in range(300)
    ]
    for start in range(0, len(turns), 100):
        status, _ = stack.http(
            "POST", "/v1/sessions/streamed/entries", {"entries": turns[start : start + 100]}
        )
        assert status == 201
    status, lines = stack.http("GET", "/v1/sessions/streamed/export")
    assert status == 200
    assert [e["seq"] for e in lines[1:]] == list(range(1, 301))
    assert [e["content"] for e in lines[1:]] == [t["content"] for t in turns]
    assert stack.http("GET", "/v1/sessions/streamed")[1]["entry_count"] == 300
