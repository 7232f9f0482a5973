"""The gateway's HTTP API in real workerd, as a client on the internet calls it: FastAPI
through the SDK's ASGI bridge, each session's Durable Object over RPC, listing and search
from the local D1 that the objects mirror into."""

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


def test_create_append_read_round_trip(stack: Stack) -> None:
    status, made = stack.http("POST", "/v1/sessions", {"id": "web", "user_id": "ada", "title": "T"})
    assert (status, made["version"]) == (201, 1), made
    status, appended = stack.http("POST", "/v1/sessions/web/entries", TURN)
    assert (status, appended["last_seq"], appended["version"]) == (201, 3, 2), appended
    status, page = stack.http("GET", "/v1/sessions/web/entries?limit=2")
    assert status == 200
    assert [e["seq"] for e in page["entries"]] == [1, 2]
    assert page["entries"][1]["payload"] == {"name": "lookup", "args": {"topic": "refunds"}}
    assert page["next_cursor"] == 2
    status, rest = stack.http("GET", "/v1/sessions/web/entries?after_seq=2")
    assert [e["content"] for e in rest["entries"]] == ["Thirty days."]
    status, session = stack.http("GET", "/v1/sessions/web")
    assert (session["entry_count"], session["message_count"], session["last_seq"]) == (3, 2, 3)
    assert (session["input_tokens"], session["output_tokens"]) == (9, 3)


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


def test_fork_copies_into_a_second_durable_object(stack: Stack) -> None:
    stack.http("POST", "/v1/sessions", {"id": "trunk", "user_id": "ada"})
    stack.http("POST", "/v1/sessions/trunk/entries", TURN)
    status, child = stack.http("POST", "/v1/sessions/trunk/fork", {"id": "branch", "at_seq": 2})
    assert status == 201, child
    assert (child["parent_id"], child["forked_from_seq"], child["entry_count"]) == ("trunk", 2, 2)
    trunk = stack.http("GET", "/v1/sessions/trunk/entries")[1]["entries"]
    branch = stack.http("GET", "/v1/sessions/branch/entries")[1]["entries"]
    assert [(e["id"], e["seq"]) for e in branch] == [(e["id"], e["seq"]) for e in trunk[:2]]
    status, again = stack.http("POST", "/v1/sessions/trunk/fork", {"id": "branch", "at_seq": 2})
    assert (status, again["entry_count"]) == (201, 2), "a repeated fork finishes, never doubles"
    stack.http("POST", "/v1/sessions/branch/entries", {"entries": [{"type": "message"}]})
    assert stack.http("GET", "/v1/sessions/trunk")[1]["entry_count"] == 3, "the source is untouched"


def test_branches_compaction_and_context(stack: Stack) -> None:
    stack.http("POST", "/v1/sessions", {"id": "ctx"})
    stack.http("POST", "/v1/sessions/ctx/entries", TURN)
    first = stack.http("GET", "/v1/sessions/ctx/entries")[1]["entries"][0]["id"]
    status, moved = stack.http("PUT", "/v1/sessions/ctx/leaf", {"entry_id": first})
    assert (status, moved["leaf_id"]) == (200, first), moved
    stack.http(
        "POST", "/v1/sessions/ctx/entries", {"entries": [{"type": "message", "content": "b"}]}
    )
    context = stack.http("GET", "/v1/sessions/ctx/context")[1]["entries"]
    assert [e["seq"] for e in context] == [1, 4]
    summary = {"type": "compaction", "content": "summary", "payload": {"first_kept_seq": 4}}
    stack.http("POST", "/v1/sessions/ctx/entries", {"entries": [summary]})
    context = stack.http("GET", "/v1/sessions/ctx/context")[1]["entries"]
    assert [e["content"] for e in context] == ["summary", "b"]


def test_console_page_is_served(stack: Stack) -> None:
    status, page = stack.http("GET", "/console", token=None)
    assert status == 200
    assert b"<html" in page.lower()
    assert b"/v1/sessions" in page
    status, spec = stack.http("GET", "/openapi.json", token=None)
    assert (status, spec["openapi"][:3]) == (200, "3.1")
