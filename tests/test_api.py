"""The HTTP API through the real ASGI stack (FastAPI + Starlette's test client), local mode."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent_sessions.engine.limits import MAX_ENTRY_BYTES
from agent_sessions.http.body import MAX_REQUEST_BYTES
from agent_sessions.local.server import local_app

from .refusals import NDJSON


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = local_app(tmp_path, None)
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as test_client:
        yield test_client


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_each_route_answers_with_its_status(client: TestClient) -> None:
    """The status of every per-session route, and the error shape of refusals on a few; what
    each operation answers is the conformance suite's (tests/conformance/), on every path."""
    created = client.post("/v1/sessions", json={"id": "s1", "user_id": "u1", "title": "Hi"})
    assert created.status_code == 201
    assert created.json()["id"] == "s1"
    turn = [
        {"type": "message", "id": "m1", "role": "user", "content": "hello"},
        {"type": "tool_call", "payload": {"name": "search", "args": {"q": "x"}}},
        {"type": "message", "role": "assistant", "content": "hi", "output_tokens": 3},
    ]
    appended = client.post("/v1/sessions/s1/entries", json={"entries": turn})
    assert appended.status_code == 201, appended.text
    page = client.get("/v1/sessions/s1/entries")
    assert page.status_code == 200
    assert (page.json()["has_more"], page.json()["next_cursor"]) == (False, None)
    ok = [
        ("GET", "/v1/sessions/s1", None),
        ("PATCH", "/v1/sessions/s1", {"title": "new"}),
        ("PUT", "/v1/sessions/s1/data", {"data": {"k": [1, 2.5, None]}}),
        ("GET", "/v1/sessions/s1/data", None),
        ("PUT", "/v1/sessions/s1/leaf", {"entry_id": "m1"}),
        ("GET", "/v1/sessions/s1/context", None),
        ("GET", "/v1/sessions/s1/writer", None),
        ("POST", "/v1/sessions/s1/writer", {"writer_id": "agent-1"}),
        ("POST", "/v1/sessions/s1/prune", {"before_seq": 1}),
        ("POST", "/v1/sessions/s1/replace", {"from_seq": 4, "entries": []}),
        ("GET", "/v1/sessions/s1/mirror", None),
        ("POST", "/v1/sessions/s1/mirror/verify", None),
    ]
    for method, route, body in ok:
        answer = client.request(method, route, json=body)
        assert answer.status_code == 200, (method, route, answer.text)
    writer = {"writer_id": "agent-1", "epoch": 1, "seq": 0}
    for _ in range(2):  # a retry of a fenced append is answered as the append was
        fenced_append = {"entries": [{"type": "message", "id": "w1"}], "writer": writer}
        assert client.post("/v1/sessions/s1/entries", json=fenced_append).status_code == 201
    assert client.post("/v1/sessions/s1/mirror/resync").status_code == 202
    assert client.post("/v1/sessions/s1/fork", json={"id": "s2"}).status_code == 201
    stale = {"writer_id": "agent-0", "epoch": 0, "seq": 0}
    fenced = client.post("/v1/sessions/s1/entries", json={"entries": turn[:1], "writer": stale})
    assert error_of(fenced, 409, "fenced")["details"]["reason"] == "stale_epoch"
    error_of(client.post("/v1/sessions/s1/prune", json={"before_seq": 100}), 422, "invalid")
    error_of(client.put("/v1/sessions/s1/leaf", json={"entry_id": "zz"}), 422, "invalid")
    for changes in ({"status": "sleeping"}, {"colour": "red"}):
        error_of(client.patch("/v1/sessions/s1", json=changes), 422, "invalid")
    stale_version = {"title": "x", "expected_version": 1}
    error_of(client.patch("/v1/sessions/s1", json=stale_version), 409, "version_conflict")
    error_of(client.patch("/v1/sessions/nope", json={"title": "x"}), 404, "not_found")
    deleted = client.delete("/v1/sessions/s1")
    assert (deleted.status_code, deleted.json()["deleted"]) == (200, True)
    error_of(client.get("/v1/sessions/s1"), 404, "not_found")
    error_of(client.delete("/v1/sessions/s1"), 404, "not_found")


def test_generated_id(client: TestClient) -> None:
    created = client.post("/v1/sessions", json={})
    assert created.status_code == 201
    session_id = created.json()["id"]
    assert client.get(f"/v1/sessions/{session_id}").status_code == 200


def test_pages_with_cursor_types_and_order(client: TestClient) -> None:
    client.post("/v1/sessions", json={"id": "p"})
    entries = [{"type": "message" if i % 2 else "tool_call"} for i in range(7)]
    client.post("/v1/sessions/p/entries", json={"entries": entries})
    seen: list[int] = []
    cursor = 0
    while True:
        page = client.get("/v1/sessions/p/entries", params={"after_seq": cursor, "limit": 3}).json()
        seen += [e["seq"] for e in page["entries"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    page = client.get(
        "/v1/sessions/p/entries", params={"types": ["message"], "order": "desc", "limit": 2}
    ).json()
    assert [e["seq"] for e in page["entries"]] == [6, 4]
    assert page["next_cursor"] == 4


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/v1/sessions/nope", None),
        ("get", "/v1/sessions/nope/data", None),
        ("put", "/v1/sessions/nope/data", {"data": 1}),
        ("post", "/v1/sessions/nope/entries", {"entries": [{"type": "message"}]}),
        ("get", "/v1/sessions/nope/entries", None),
        ("delete", "/v1/sessions/nope", None),
    ],
)
def test_unknown_session_is_404(client: TestClient, method: str, path: str, body: Any) -> None:
    kwargs = {} if body is None else {"json": body}
    error_of(client.request(method.upper(), path, **kwargs), 404, "not_found")


def test_creating_an_existing_id_is_409(client: TestClient) -> None:
    client.post("/v1/sessions", json={"id": "dup", "title": "first"})
    error_of(
        client.post("/v1/sessions", json={"id": "dup", "title": "second"}), 409, "already_exists"
    )


def test_malformed_json_is_400(client: TestClient) -> None:
    client.post("/v1/sessions", json={"id": "m"})
    response = client.put(
        "/v1/sessions/m/data",
        content=b'{"data": {"a": ',
        headers={"content-type": "application/json"},
    )
    error_of(response, 400, "malformed")


@pytest.mark.parametrize(
    "body",
    [
        {"entries": [{"role": "user", "content": "no type"}]},
        {"entries": [{"type": "gossip"}]},
        {"entries": [{"type": "message", "input_tokens": -5}]},
        {"entries": [{"type": "message", "unknown": 1}]},
        {"entries": [{"type": "message", "id": "white space"}]},
        {"entries": []},
        {"entries": "nope"},
        {},
    ],
)
def test_invalid_appends_are_422_and_write_nothing(client: TestClient, body: Any) -> None:
    client.post("/v1/sessions", json={"id": "v"})
    before = client.get("/v1/sessions/v").json()
    error_of(client.post("/v1/sessions/v/entries", json=body), 422, "invalid")
    assert client.get("/v1/sessions/v").json() == before


def test_bad_session_id_in_path_is_422(client: TestClient) -> None:
    error_of(client.get("/v1/sessions/..hidden"), 422, "invalid")


def test_oversize_entry_is_413_and_writes_nothing(client: TestClient) -> None:
    client.post("/v1/sessions", json={"id": "big"})
    before = client.get("/v1/sessions/big").json()
    huge = {"type": "message", "content": "x" * (MAX_ENTRY_BYTES + 1)}
    error = error_of(
        client.post("/v1/sessions/big/entries", json={"entries": [huge]}), 413, "too_large"
    )
    assert error["details"]["limit"] == MAX_ENTRY_BYTES
    assert client.get("/v1/sessions/big").json() == before
    assert client.get("/v1/sessions/big/entries").json()["entries"] == []


def test_oversize_body_is_413_before_parsing(client: TestClient) -> None:
    client.post("/v1/sessions", json={"id": "body"})
    payload = b'{"data": "' + b"x" * (MAX_REQUEST_BYTES + 1) + b'"}'
    response = client.put(
        "/v1/sessions/body/data", content=payload, headers={"content-type": "application/json"}
    )
    error_of(response, 413, "too_large")
    assert client.get("/v1/sessions/body/data").json()["data"] is None


def test_version_conflict_is_409_with_current_version(client: TestClient) -> None:
    client.post("/v1/sessions", json={"id": "c"})
    error = error_of(
        client.put("/v1/sessions/c/data", json={"data": 1, "expected_version": 5}),
        409,
        "version_conflict",
    )
    assert error["details"]["current_version"] == 1


def test_unknown_route_uses_the_error_shape(client: TestClient) -> None:
    error_of(client.get("/v1/nothing-here"), 404, "not_found")


def test_openapi_describes_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert set(spec["paths"]) == {
        "/v1/sessions",
        "/v1/sessions/import",
        "/v1/sessions/{session_id}",
        "/v1/sessions/{session_id}/export",
        "/v1/sessions/{session_id}/data",
        "/v1/sessions/{session_id}/entries",
        "/v1/sessions/{session_id}/fork",
        "/v1/sessions/{session_id}/leaf",
        "/v1/sessions/{session_id}/writer",
        "/v1/sessions/{session_id}/context",
        "/v1/sessions/{session_id}/prune",
        "/v1/sessions/{session_id}/replace",
        "/v1/sessions/{session_id}/mirror",
        "/v1/sessions/{session_id}/mirror/verify",
        "/v1/sessions/{session_id}/mirror/resync",
        "/v1/search",
        "/healthz",
    }
    assert client.get("/docs").status_code == 200


def mirrored(client: TestClient, session_id: str) -> dict[str, Any]:
    """Wait for the background drain: local mode drains right after each write."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = client.get(f"/v1/sessions/{session_id}/mirror").json()
        if status["pending"] == 0:
            return status
        time.sleep(0.02)
    pytest.fail(f"the mirror of {session_id} did not catch up")


def test_writes_reach_the_local_d1_file(client: TestClient, tmp_path: Path) -> None:
    client.post("/v1/sessions", json={"id": "m", "user_id": "ada", "agent_name": "helper"})
    client.post("/v1/sessions/m/entries", json={"entries": [{"type": "message", "content": "a"}]})
    client.put("/v1/sessions/m/data", json={"data": {"k": 1}})
    status = mirrored(client, "m")
    assert status["delivered"] >= 3
    assert status["last_error"] is None
    d1 = sqlite3.connect(tmp_path / "d1.sqlite")
    assert d1.execute("SELECT user_id, version, data FROM sessions").fetchall() == [
        ("ada", 3, '{"k":1}')
    ]
    assert d1.execute("SELECT seq, content FROM session_entries").fetchall() == [(1, "a")]
    assert client.post("/v1/sessions/m/mirror/verify").json()["equal"] is True
    d1.execute("DELETE FROM session_entries")
    d1.commit()
    report = client.post("/v1/sessions/m/mirror/verify").json()
    assert report["counts"]["missing"] == 1
    resync = client.post("/v1/sessions/m/mirror/resync")
    assert resync.status_code == 202
    mirrored(client, "m")
    assert client.post("/v1/sessions/m/mirror/verify").json()["equal"] is True
    health = client.get("/healthz").json()
    assert health["ok"] is True
    assert health["mirror"] == {
        "pending": 0,
        "sessions_pending": 0,
        "lag_ms": 0,
        "last_error": None,
    }
    assert health["alarms"] == {"failing": 0, "last_error": None, "last_failure_at": None}


def test_a_deleted_session_leaves_d1(client: TestClient, tmp_path: Path) -> None:
    client.post("/v1/sessions", json={"id": "gone"})
    client.post("/v1/sessions/gone/entries", json={"entries": [{"type": "message"}]})
    client.delete("/v1/sessions/gone")
    mirrored(client, "gone")
    d1 = sqlite3.connect(tmp_path / "d1.sqlite")
    assert d1.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
    assert d1.execute("SELECT count(*) FROM session_entries").fetchone() == (0,)


def test_list_sessions_filters_and_pages(client: TestClient) -> None:
    for i in range(7):
        body = {"id": f"l{i}", "user_id": f"u{i % 2}", "agent_name": "bot" if i < 5 else "other"}
        client.post("/v1/sessions", json=body)
    client.patch("/v1/sessions/l0", json={"status": "completed"})
    for i in range(7):
        mirrored(client, f"l{i}")
    listed = client.get("/v1/sessions").json()
    assert next(s["id"] for s in listed["sessions"]) == "l0", "the latest update comes first"
    assert len(listed["sessions"]) == 7
    assert listed["next_cursor"] is None
    only = client.get("/v1/sessions", params={"user_id": "u0", "status": "active"}).json()
    assert sorted(s["id"] for s in only["sessions"]) == ["l2", "l4", "l6"]
    agents = client.get("/v1/sessions", params={"agent_name": "other"}).json()
    assert sorted(s["id"] for s in agents["sessions"]) == ["l5", "l6"]
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/sessions", params=params).json()
        seen += [s["id"] for s in page["sessions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"l{i}" for i in range(7)]
    assert len(seen) == 7
    newest = listed["sessions"][0]["updated_at"]
    since = client.get("/v1/sessions", params={"updated_since": newest}).json()
    assert [s["id"] for s in since["sessions"]] == ["l0"]
    error_of(client.get("/v1/sessions", params={"cursor": "bogus"}), 422, "invalid")
    error_of(client.get("/v1/sessions", params={"status": "sleeping"}), 422, "invalid")


def test_export_then_import_round_trips(client: TestClient) -> None:
    client.post("/v1/sessions", json={"id": "x", "title": "T", "data": {"blob": [1, "é"]}})
    entries = [
        {"type": "message", "role": "user", "content": "q", "id": "m1", "input_tokens": 3},
        {"type": "tool_call", "payload": {"n": 1}},
        {"type": "message", "role": "assistant", "content": "a", "parent_id": "m1"},
    ]
    client.post("/v1/sessions/x/entries", json={"entries": entries})
    exported = client.get("/v1/sessions/x/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    lines = exported.text.splitlines()
    assert len(lines) == 4
    imported = client.post(
        "/v1/sessions/import", params={"session_id": "y"}, content=exported.content,
        headers={"content-type": "application/x-ndjson"},
    )  # fmt: skip
    assert imported.status_code == 201, imported.text
    original, copy = client.get("/v1/sessions/x").json(), imported.json()
    for field in ("title", "entry_count", "message_count", "input_tokens", "leaf_id", "created_at"):
        assert copy[field] == original[field], field
    assert client.get("/v1/sessions/y/data").json()["data"] == {"blob": [1, "é"]}
    again = client.get("/v1/sessions/y/export").text.splitlines()
    assert again[1:] == lines[1:], "entries come back exactly, timestamps included"
    again = client.post("/v1/sessions/import", content=exported.content, headers=NDJSON)
    error_of(again, 409, "already_exists")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 422, "invalid"),
        (b"not json\n", 400, "malformed"),
        (b'{"format": "other.v9", "session": {}}\n', 422, "invalid"),
        (b'{"format": "agent-sessions.v1"}\n', 422, "invalid"),
        (b'{"format": "agent-sessions.v1", "session": {}}\n[1]\n', 422, "invalid"),
        (b'{"format": "agent-sessions.v1", "session": {}}\n{"role": "user"}\n', 422, "invalid"),
        (b"\xff\xfe\n", 400, "malformed"),
    ],
)
def test_bad_imports_are_refused_and_write_nothing(
    client: TestClient, body: bytes, status: int, code: str
) -> None:
    response = client.post(
        "/v1/sessions/import", params={"session_id": "imp"}, content=body, headers=NDJSON
    )
    error_of(response, status, code)
    error_of(client.get("/v1/sessions/imp"), 404, "not_found")


def test_a_rewind_compaction_and_prune_reach_the_local_d1_file(
    client: TestClient, tmp_path: Path
) -> None:
    """What the context is after these is tests/conformance/test_branches.py; here, D1's rows."""
    client.post("/v1/sessions", json={"id": "b"})
    turn = [{"type": "message", "id": f"m{i}", "content": str(i)} for i in range(1, 7)]
    client.post("/v1/sessions/b/entries", json={"entries": turn})
    client.put("/v1/sessions/b/leaf", json={"entry_id": "m4"})
    summary = {"type": "compaction", "content": "m1..m2", "payload": {"first_kept_seq": 3}}
    client.post(
        "/v1/sessions/b/entries", json={"entries": [summary, {"type": "message", "id": "n"}]}
    )
    client.post("/v1/sessions/b/prune", json={"before_seq": 3})
    mirrored(client, "b")
    assert client.post("/v1/sessions/b/mirror/verify").json()["equal"] is True
    d1 = sqlite3.connect(tmp_path / "d1.sqlite")
    assert d1.execute("SELECT min(seq), count(*) FROM session_entries").fetchone() == (3, 6)
    assert d1.execute("SELECT leaf_id, compacted_through_seq FROM sessions").fetchone() == ("n", 2)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/sessions", '{"id": "u1", "title": "a\\ud800"}'),
        ("POST", "/v1/sessions", '{"id": "u2", "metadata": {"k": "\\ud800"}}'),
        (
            "POST",
            "/v1/sessions/lone/entries",
            '{"entries": [{"type": "message", "content": "a\\ud800"}]}',
        ),
        (
            "POST",
            "/v1/sessions/lone/entries",
            '{"entries": [{"type": "custom", "payload": ["\\udc00"]}]}',
        ),
        ("PUT", "/v1/sessions/lone/data", '{"data": "\\ud800"}'),
    ],
)
def test_a_lone_surrogate_is_refused_and_changes_nothing(
    client: TestClient, method: str, path: str, body: str
) -> None:
    """JSON can escape half a UTF-16 pair; no UTF-8 store can hold it: 422, never 500."""
    client.post("/v1/sessions", json={"id": "lone"})
    before = client.get("/v1/sessions/lone").json()
    answer = client.request(
        method, path, content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert client.get("/v1/sessions/lone").json() == before
