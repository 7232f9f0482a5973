"""Integers and cursors are validated like any input: a string where the OpenAPI document says
integer, or a cursor this API never returned, is a 422 (it was accepted, or a 500)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent_sessions.engine import InvalidInput, SessionKey
from agent_sessions.local.store import LocalStore
from agent_sessions.service.fork import fork_session
from agent_sessions.service.sessions import Sessions

from .refusals import error_of, state

# -- 6. crafted cursors ----------------------------------------------------------------------


def cursor_of(value: Any) -> str:
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of([10**30, "s"]),
        cursor_of([2**63, "s"]),
        cursor_of([-(2**63) - 1, "s"]),
        cursor_of([1, "\ud800"]),
        cursor_of([1, "a/../b"]),
        cursor_of([True, "s"]),
        cursor_of([None, "s"]),
        cursor_of([1.5, "s"]),
        cursor_of([1, "s", 3]),
        cursor_of({"a": 1}),
        "%%%",
        "x" * 5_000,
    ],
)
def test_a_crafted_list_cursor_is_422(local_client: TestClient, cursor: str) -> None:
    error_of(local_client.get("/v1/sessions", params={"cursor": cursor}), 422, "invalid")


# -- 10. strict integers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/sessions/s/entries", {"entries": [{"type": "message", "input_tokens": "7"}]}),
        (
            "post",
            "/v1/sessions/s/entries",
            {"entries": [{"type": "message"}], "expected_version": "1"},
        ),
        ("put", "/v1/sessions/s/data", {"data": 1, "expected_version": "1"}),
        ("patch", "/v1/sessions/s", {"expires_at": "1893456000000"}),
        ("post", "/v1/sessions/s/prune", {"before_seq": "1"}),
        ("post", "/v1/sessions/s/replace", {"from_seq": "1", "entries": []}),
        ("post", "/v1/sessions/s/fork", {"id": "child", "at_seq": "0"}),
    ],
)
def test_a_number_as_a_string_in_a_body_is_422(
    local_client: TestClient, method: str, path: str, body: Any
) -> None:
    before = state(local_client)
    error_of(local_client.request(method.upper(), path, json=body), 422, "invalid")
    assert state(local_client) == before
    error_of(local_client.get("/v1/sessions/child"), 404, "not_found")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/sessions/s/entries", {"after_seq": "1_0"}),
        ("/v1/sessions/s/entries", {"after_seq": "+1"}),
        ("/v1/sessions/s/entries", {"after_seq": " 1"}),
        ("/v1/sessions/s/entries", {"before_seq": "1.0"}),
        ("/v1/sessions/s/entries", {"limit": "1e2"}),
        ("/v1/sessions", {"limit": "0x10"}),
        ("/v1/sessions", {"updated_since": "1_000"}),
        ("/v1/search", {"q": "x", "limit": "٣"}),
    ],
)
def test_a_query_integer_must_be_plain_digits(
    local_client: TestClient, path: str, params: dict[str, str]
) -> None:
    error_of(local_client.get(path, params=params), 422, "invalid")


def test_plain_digits_and_json_integers_still_work(local_client: TestClient) -> None:
    appended = local_client.post(
        "/v1/sessions/s/entries",
        json={"entries": [{"type": "message", "input_tokens": 7.0}], "expected_version": 1},
    )
    assert appended.status_code == 201, appended.text
    page = local_client.get("/v1/sessions/s/entries", params={"after_seq": "0", "limit": "10"})
    assert [e["input_tokens"] for e in page.json()["entries"]] == [7]


def test_the_rpc_paths_refuse_numbers_as_strings(tmp_path: Path) -> None:
    """RPC callers skip pydantic: the shared code they reach checks integers itself."""

    async def scenario() -> list[str]:
        store = LocalStore(tmp_path / "rpc")
        sessions = Sessions(store.transport)
        key = SessionKey("t", "src")
        await sessions.create_session(key, {})
        refused = []
        calls = [
            lambda: sessions.append(key, [{"type": "message", "input_tokens": "7"}], None),
            lambda: sessions.append(key, [{"type": "message"}], "1"),
            lambda: sessions.read_entries(key, "1", None, None, 10, "asc"),
            lambda: sessions.read_entries(key, 0, None, None, "10", "asc"),
            lambda: sessions.prune(key, "1", None),
            lambda: fork_session(sessions, key, SessionKey("t", "kid"), "0", None, {}),
        ]
        for call in calls:
            with pytest.raises(InvalidInput) as raised:
                await call()
            refused.append(raised.value.message)
        await store.settle()
        store.close()
        return refused

    assert len(asyncio.run(scenario())) == 6


def test_the_openapi_document_gives_query_integers_their_bounds(local_client: TestClient) -> None:
    """The digits-only check must not cost the document its minimum and maximum."""
    spec = local_client.get("/openapi.json").json()
    integers = [
        (path, parameter["name"], schema)
        for path, item in spec["paths"].items()
        for operation in item.values()
        for parameter in operation.get("parameters", [])
        for schema in [parameter["schema"], *parameter["schema"].get("anyOf", [])]
        if schema.get("type") == "integer"
    ]
    assert len(integers) >= 7
    for path, name, schema in integers:
        assert {"minimum", "maximum"} <= set(schema), (path, name, schema)
        assert not {"ge", "le"} & set(schema), (path, name, schema)
