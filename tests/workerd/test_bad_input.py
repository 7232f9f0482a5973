"""The hardening guards hold in the Worker too (the local server's cases are in
tests/test_json_depth.py, test_strict_input.py and test_request_size.py): over HTTP through
the gateway, and over RPC, where values arrive as JavaScript and are converted by the SDK
before any guard of ours sees them. Each refusal changes nothing."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
from typing import Any

import pytest

from agent_sessions.engine.limits import MAX_ENTRIES_PER_APPEND, MAX_IMPORT_BYTES, MAX_JSON_DEPTH

from .stack import TOKEN, Stack


def nested(depth: int) -> str:
    """JSON text of a value `depth` levels deep, alternating objects and arrays (as text: a
    Python value that deep would exceed json.dumps' own recursion limit)."""
    opened = "".join("[" if level % 2 else '{"k":' for level in range(depth))
    closed = "".join("]" if level % 2 else "}" for level in reversed(range(depth)))
    return opened + "0" + closed


def refused(answer: tuple[int, Any], status: int, code: str) -> dict[str, Any]:
    got, body = answer
    assert (got, body["error"]["code"]) == (status, code), body
    return body["error"]


@pytest.fixture
def target(stack: Stack) -> Stack:
    """A session 's-bad' with one entry, and what a refused request must leave as it was."""
    stack.http("DELETE", "/v1/sessions/s-bad")
    assert stack.http("POST", "/v1/sessions", {"id": "s-bad"})[0] == 201
    stack.http("POST", "/v1/sessions/s-bad/entries", {"entries": [{"type": "message"}]})
    return stack


def state(stack: Stack) -> tuple[Any, Any]:
    return stack.http("GET", "/v1/sessions/s-bad")[1], stack.http(
        "GET", "/v1/sessions/s-bad/entries"
    )[1]


def test_json_at_the_depth_limit_round_trips_and_deeper_is_422(target: Stack) -> None:
    entry = '{"entries": [{"type": "custom", "payload": %s}]}'
    at_limit = (entry % nested(MAX_JSON_DEPTH)).encode()
    assert target.http("POST", "/v1/sessions/s-bad/entries", raw=at_limit)[0] == 201
    for read in ("/entries", "/context", "/export"):
        assert target.http("GET", f"/v1/sessions/s-bad{read}")[0] == 200, read
    before = state(target)
    for depth in (MAX_JSON_DEPTH + 1, 5_000):
        deep = (entry % nested(depth)).encode()
        error = refused(target.http("POST", "/v1/sessions/s-bad/entries", raw=deep), 422, "invalid")
        assert str(MAX_JSON_DEPTH) in error["message"], error
        patch = f'{{"metadata": {nested(depth)}}}'.encode()
        refused(target.http("PATCH", "/v1/sessions/s-bad", raw=patch), 422, "invalid")
    assert state(target) == before


def test_json_too_deep_over_rpc_is_invalid(target: Stack) -> None:
    before = state(target)
    for depth in (MAX_JSON_DEPTH + 1, 500):
        value = json.loads(nested(depth))
        entries = [{"type": "custom", "payload": value}]
        answer = target.rpc("GATEWAY", "append", "default", "s-bad", entries, None)
        assert answer["error"]["code"] == "invalid", answer
        answer = target.do("default:s-bad", "save_data", "default", "s-bad", value, None)
        assert answer["error"]["code"] == "invalid", answer
    assert state(target) == before


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [cursor_of([10**30, "s"]), cursor_of([2**63, "s"]), cursor_of([1, "\ud800"]), "%%%"],
)
def test_a_crafted_list_cursor_is_422(stack: Stack, cursor: str) -> None:
    refused(stack.http("GET", f"/v1/sessions?cursor={cursor}"), 422, "invalid")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/entries", {"entries": [{"type": "message", "input_tokens": "7"}]}),
        ("/entries", {"entries": [{"type": "message"}], "expected_version": "2"}),
        ("/prune", {"before_seq": "1"}),
    ],
)
def test_a_number_as_a_string_is_422(target: Stack, path: str, body: dict[str, Any]) -> None:
    before = state(target)
    refused(target.http("POST", f"/v1/sessions/s-bad{path}", body), 422, "invalid")
    refused(target.http("GET", "/v1/sessions/s-bad/entries?after_seq=1_0"), 422, "invalid")
    assert state(target) == before


def test_numbers_as_strings_over_rpc_are_invalid(target: Stack) -> None:
    answer = target.rpc("GATEWAY", "append", "default", "s-bad", [{"type": "message"}], "2")
    assert answer["error"]["code"] == "invalid", answer
    answer = target.rpc("GATEWAY", "read_entries", "default", "s-bad", {"after_seq": "0"})
    assert answer["error"]["code"] == "invalid", answer


def test_oversized_requests_are_413_with_a_short_answer(target: Stack) -> None:
    before = state(target)
    many = {"entries": [{"type": "message"}] * (MAX_ENTRIES_PER_APPEND + 1)}
    refused(target.http("POST", "/v1/sessions/s-bad/entries", many), 413, "too_large")
    bad = [{"type": "nope", "input_tokens": "x"} for _ in range(400)]
    status, body = target.http("POST", "/v1/sessions/s-bad/entries", {"entries": bad})
    assert (status, len(json.dumps(body)) < 8_192) == (422, True), "summarized, not echoed"
    bomb = gzip.compress(b" " * (MAX_IMPORT_BYTES * 4), compresslevel=9)
    answer = target.http(
        "POST", "/v1/sessions/import", headers={"content-type": "application/gzip"}, raw=bomb
    )
    refused(answer, 413, "too_large")
    assert state(target) == before


def untyped(stack: Stack, path: str, body: Any) -> tuple[int, Any]:
    """A POST whose body has no content type at all, as `fetch` sends bytes (urllib would
    add one of its own)."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.sessions.port, timeout=60)
    try:
        headers = {"authorization": f"Bearer {TOKEN}"}
        connection.request("POST", path, json.dumps(body).encode(), headers)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def test_a_write_without_a_content_type_is_422(target: Stack) -> None:
    """The header's absence reaches the gateway as JavaScript null (no Python None), and a
    write is refused as the app refuses it, not failed."""
    before = state(target)
    refused(untyped(target, "/v1/sessions", {"id": "s-untyped"}), 422, "invalid")
    entries = {"entries": [{"type": "message"}]}
    refused(untyped(target, "/v1/sessions/s-bad/entries", entries), 422, "invalid")
    assert state(target) == before
    assert target.http("GET", "/v1/sessions/s-untyped")[0] == 404
