"""Tokens, tenants and scopes: who may see and change which sessions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent_sessions.local.server import local_app
from agent_sessions.service.auth import Principal, TokenTable

ALICE = "alice-token-0123456789"
ALICE_RO = "alice-readonly-0123456789"
BOB = "bob-token-0123456789abc"
SPEC = f"{ALICE}=alice, {ALICE_RO}=alice:ro\n# bob's team\n{BOB}=bob:rw"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = local_app(tmp_path, TokenTable.parse(SPEC))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_parse_and_lookup() -> None:
    table = TokenTable.parse(SPEC)
    assert table.lookup(ALICE) == Principal("alice")
    assert table.lookup(ALICE_RO) == Principal("alice", read_only=True)
    assert table.lookup(BOB) == Principal("bob")
    assert table.lookup("nobody-0123456789abcdef") is None
    assert table.lookup(ALICE[:-1]) is None


@pytest.mark.parametrize(
    "spec",
    ["", "   ", "short=alice", f"{ALICE}", f"{ALICE}=", f"{ALICE}=al/ice", f"{ALICE}=alice:admin",
     f"{ALICE}=alice,{ALICE}=bob"],
)  # fmt: skip
def test_bad_specs_are_refused_without_echoing_tokens(spec: str) -> None:
    with pytest.raises(ValueError, match=r"token|AGENT_SESSIONS_TOKENS") as info:
        TokenTable.parse(spec)
    assert ALICE not in str(info.value)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Bearer"),
        ({"authorization": ALICE}, "Bearer"),
        ({"authorization": "Basic abc"}, "Bearer"),
        (bearer("wrong-token-0123456789"), "not valid"),
    ],
)
def test_missing_or_wrong_token_is_401(
    client: TestClient, headers: dict[str, str], message: str
) -> None:
    response = client.get("/v1/sessions/anything", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"
    assert message in response.json()["error"]["message"]


def test_read_only_token_reads_but_cannot_write(client: TestClient) -> None:
    assert client.post("/v1/sessions", json={"id": "s"}, headers=bearer(ALICE)).status_code == 201
    assert client.get("/v1/sessions/s", headers=bearer(ALICE_RO)).status_code == 200
    for method, path, body in [
        ("POST", "/v1/sessions", {"id": "t"}),
        ("PATCH", "/v1/sessions/s", {"title": "x"}),
        ("DELETE", "/v1/sessions/s", None),
        ("PUT", "/v1/sessions/s/data", {"data": 1}),
        ("POST", "/v1/sessions/s/entries", {"entries": [{"type": "message"}]}),
        ("POST", "/v1/sessions/s/mirror/resync", None),
    ]:
        response = client.request(method, path, json=body, headers=bearer(ALICE_RO))
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "forbidden"
    assert client.get("/v1/sessions/s", headers=bearer(ALICE)).json()["version"] == 1


def test_another_tenants_session_is_indistinguishable_from_a_missing_one(
    client: TestClient,
) -> None:
    client.post("/v1/sessions", json={"id": "private"}, headers=bearer(ALICE))
    theirs = client.get("/v1/sessions/private", headers=bearer(BOB))
    missing = client.get("/v1/sessions/never-was", headers=bearer(BOB))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"]["code"] == missing.json()["error"]["code"]
    assert theirs.json()["error"]["message"].replace("private", "X") == missing.json()["error"][
        "message"
    ].replace("never-was", "X")
    bob_write = client.post(
        "/v1/sessions/private/entries", json={"entries": [{"type": "message"}]}, headers=bearer(BOB)
    )
    assert bob_write.status_code == 404
    assert client.get("/v1/sessions/private", headers=bearer(ALICE)).json()["entry_count"] == 0


def test_same_id_in_two_tenants_are_two_sessions(client: TestClient) -> None:
    client.post("/v1/sessions", json={"id": "shared", "title": "A"}, headers=bearer(ALICE))
    client.post("/v1/sessions", json={"id": "shared", "title": "B"}, headers=bearer(BOB))
    assert client.get("/v1/sessions/shared", headers=bearer(ALICE)).json()["title"] == "A"
    assert client.get("/v1/sessions/shared", headers=bearer(BOB)).json()["title"] == "B"


def test_open_routes_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/openapi.json").status_code == 200
