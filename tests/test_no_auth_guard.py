"""Without tokens (`--no-auth`), a web page must not be able to use the server: writes only as
JSON (no CORS-simple text/plain or form bodies), no cross-site writes, and only local names in
Host (DNS rebinding). Issue 17, 8."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent_sessions.local.server import local_app
from agent_sessions.service.auth import TokenTable

from .refusals import NDJSON, error_of

EXPORT = '{"format": "agent-sessions.v1", "session": {"metadata": {}}}\n'
SIMPLE_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x"]


def written(client: TestClient) -> Any:
    return client.get("/v1/sessions/s").json()


@pytest.mark.parametrize("content_type", [*SIMPLE_TYPES, None, "application/xml"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/sessions/import?session_id=i", EXPORT),
        ("POST", "/v1/sessions/s/entries", '{"entries": [{"type": "message"}]}'),
        ("PUT", "/v1/sessions/s/data", '{"data": 1}'),
    ],
)
def test_a_write_that_is_not_json_is_415(
    local_client: TestClient, method: str, path: str, body: str, content_type: str | None
) -> None:
    """import took a text/plain body, which a page can send without a preflight."""
    before = written(local_client)
    headers = {} if content_type is None else {"content-type": content_type}
    response = local_client.request(method, path, content=body, headers=headers)
    error_of(response, 415, "unsupported_media_type")
    assert written(local_client) == before
    error_of(local_client.get("/v1/sessions/i"), 404, "not_found")


def test_json_writes_and_exports_still_go_through(local_client: TestClient) -> None:
    appended = local_client.post("/v1/sessions/s/entries", json={"entries": [{"type": "message"}]})
    assert appended.status_code == 201, appended.text
    imported = local_client.post(
        "/v1/sessions/import?session_id=ok", content=EXPORT, headers=NDJSON
    )
    assert imported.status_code == 201, imported.text


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "https://evil.example"},
        {"origin": "http://localhost:9999"},
        {"origin": "null"},
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/sessions/s/mirror/resync"),
        ("DELETE", "/v1/sessions/s"),
        ("POST", "/v1/sessions"),
    ],
)
def test_a_cross_site_write_is_403(
    local_client: TestClient, headers: dict[str, str], method: str, path: str
) -> None:
    """A body-less POST (resync) went through from any page."""
    before = written(local_client)
    body = {} if method == "POST" else None
    response = local_client.request(method, path, json=body, headers=headers)
    error_of(response, 403, "forbidden")
    assert written(local_client) == before


def test_the_servers_own_pages_may_write(local_client: TestClient) -> None:
    """The console is served by the server itself: same-origin, allowed."""
    same = {"origin": "http://localhost", "sec-fetch-site": "same-origin"}
    answer = local_client.post("/v1/sessions/s/mirror/resync", headers=same)
    assert answer.status_code == 202, answer.text


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8787", "127.0.0.2", "localhost.evil"]
)
def test_a_foreign_host_name_is_refused_even_for_reads(local_client: TestClient, host: str) -> None:
    """DNS rebinding gives a page's own name this server's address: the Host header shows it."""
    error_of(local_client.get("/v1/sessions/s", headers={"host": host}), 403, "forbidden")
    refused = local_client.post("/v1/sessions", json={"id": "x"}, headers={"host": host})
    error_of(refused, 403, "forbidden")


@pytest.mark.parametrize("host", ["localhost:8787", "127.0.0.1", "[::1]:8787"])
def test_the_names_of_this_machine_are_served(local_client: TestClient, host: str) -> None:
    assert local_client.get("/v1/sessions/s", headers={"host": host}).status_code == 200


@pytest.mark.parametrize(
    ("bound", "host"), [("0.0.0.0", "0.0.0.0:8787"), ("sessions.lan", "sessions.lan")]
)
def test_the_bound_host_is_served_too(tmp_path: Path, bound: str, host: str) -> None:
    app = local_app(tmp_path, None, host=bound)
    with TestClient(app, base_url=f"http://{host}") as client:
        assert client.post("/v1/sessions", json={"id": "x"}).status_code == 201
        error_of(client.get("/v1/sessions/x", headers={"host": "evil.example"}), 403, "forbidden")


def test_with_tokens_no_guard_is_needed(tmp_path: Path) -> None:
    """A page cannot send the bearer token without a preflight this server never answers."""
    token = "a-long-random-token-1"
    app = local_app(tmp_path, TokenTable.parse(f"{token}=t"))
    with TestClient(app, base_url="http://sessions.example") as client:
        auth = {"authorization": f"Bearer {token}"}
        answer = client.post(
            "/v1/sessions", json={"id": "x"}, headers={**auth, "origin": "http://x"}
        )
        assert answer.status_code == 201, answer.text
