"""Large entries in real workerd: an 8 MB tool output over HTTP and over RPC, its object in
the local R2 (the ARCHIVE bucket) and only its row's prefix in D1, and the cold tier with it
(evicted, hydrated exact, deleted with its object). The conformance suite's large-entry specs
run here too (test_conformance.py); these see what only this tier can: R2, D1, the objects'
own SQLite files. Times are printed (pytest -s) for the README's Limits."""

from __future__ import annotations

import hashlib
import json
import time

from agent_sessions.engine.limits import PREFIX_CHARS

from .conftest import POLICY
from .stack import Stack

MB8 = 8 * 1024 * 1024
OUTPUT = ('{"line": "a fetched file é"}\n' * (MB8 // 29 + 1))[:MB8]


def blob_of(stack: Stack, session_id: str) -> dict[str, object]:
    """The `blob` column of the session's one large entry, in its Durable Object's file."""
    rows = stack.object_rows(
        "SELECT blob FROM session_entries WHERE session_id = ? AND blob IS NOT NULL", session_id
    )
    assert len(rows) == 1
    return json.loads(rows[0][0])


def timed(what: str, call: object) -> object:
    start = time.perf_counter()
    result = call()  # type: ignore[operator]
    print(f"{what}: {time.perf_counter() - start:.2f} s")
    return result


def test_an_8_mb_entry_over_http(stack: Stack) -> None:
    stack.http("POST", "/v1/sessions", {"id": "big-http"})
    entry = {"type": "tool_result", "id": "out", "content": OUTPUT, "payload": {"tool": "cat"}}
    status, made = timed(
        "workerd 8 MiB append (HTTP)",
        lambda: stack.http("POST", "/v1/sessions/big-http/entries", {"entries": [entry]}),
    )
    assert status == 201, made
    again = {"type": "tool_result", "id": "again", "content": OUTPUT[::-1]}
    status, _ = timed(
        "workerd 8 MiB append, a second one (HTTP)",
        lambda: stack.http("POST", "/v1/sessions/big-http/entries", {"entries": [again]}),
    )
    assert status == 201
    status, page = timed(
        "workerd 8 MiB read (HTTP)", lambda: stack.http("GET", "/v1/sessions/big-http/entries")
    )
    assert status == 200
    assert page["entries"][0]["content"] == OUTPUT
    assert page["entries"][0]["payload"] == {"tool": "cat"}
    assert page["has_more"], "two of them are more than one page holds (MAX_READ_BYTES)"
    status, rest = stack.http("GET", "/v1/sessions/big-http/entries?after_seq=1")
    assert rest["entries"][0]["content"] == OUTPUT[::-1]
    stack.http("POST", "/v1/sessions/big-http/prune", {"before_seq": 2})
    ref = blob_of(stack, "big-http")
    body = stack.r2(str(ref["key"]))
    assert body is not None
    assert hashlib.sha256(body).hexdigest() == ref["sha256"]
    assert json.loads(body) == {"content": OUTPUT[::-1]}
    rows = stack.wait_for(
        "D1 to hold the one row left",
        lambda: (
            len(
                found := stack.d1(
                    "SELECT content, blob FROM session_entries WHERE session_id = ?", "big-http"
                )
            )
            == 1
            and found
        ),
    )
    assert rows[0]["content"] == OUTPUT[::-1][:PREFIX_CHARS], "D1 holds the prefix only"
    assert json.loads(rows[0]["blob"])["sha256"] == ref["sha256"]
    status, short = stack.http("GET", "/v1/sessions/big-http/entries?large=prefix")
    assert short["entries"][0]["content"] == OUTPUT[::-1][:PREFIX_CHARS]
    assert short["entries"][0]["blob"]["bytes"] == len(body)


def test_an_8_mb_entry_over_rpc(stack: Stack) -> None:
    made = stack.rpc("GATEWAY", "create_session", "default", {"id": "big-rpc"})
    assert "ok" in made, made
    entry = {"type": "tool_result", "content": OUTPUT}
    appended = timed(
        "workerd 8 MiB append (RPC)",
        lambda: stack.rpc("GATEWAY", "append", "default", "big-rpc", [entry], None),
    )
    assert "ok" in appended, appended
    page = timed(
        "workerd 8 MiB read (RPC)",
        lambda: stack.rpc("GATEWAY", "read_entries", "default", "big-rpc", {}),
    )
    assert page["ok"]["entries"][0]["content"] == OUTPUT
    short = stack.rpc("GATEWAY", "read_entries", "default", "big-rpc", {"large": "prefix"})
    assert short["ok"]["entries"][0]["blob"]["fields"] == ["content"]


def test_the_cold_tier_keeps_an_8_mb_entry(policy_stack: Stack) -> None:
    stack = policy_stack
    stack.http("POST", "/v1/sessions", {"id": "cold-big"})
    entry = {"type": "tool_result", "content": OUTPUT}
    stack.http("POST", "/v1/sessions/cold-big/entries", {"entries": [entry]})
    key = str(blob_of(stack, "cold-big")["key"])
    wait = int(POLICY["ARCHIVE_AFTER_SECONDS"]) + 20
    stack.wait_for(
        "the eviction",
        lambda: (
            not stack.object_rows("SELECT 1 FROM session_entries WHERE session_id = ?", "cold-big")
        ),
        timeout=wait,
    )
    assert stack.r2(key) is not None, "the object stays in R2 while the session is evicted"
    status, page = stack.http("GET", "/v1/sessions/cold-big/entries")
    assert status == 200
    assert page["entries"][0]["content"] == OUTPUT, "hydrated whole"
    assert stack.http("DELETE", "/v1/sessions/cold-big")[0] == 200
    stack.wait_for("the object to go", lambda: stack.r2(key) is None)
