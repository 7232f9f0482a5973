"""Forks: a child session holding its source's entries up to a point, copied in pages between
two stores (two Durable Objects), idempotent, and mirrored like any other session."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent_sessions.engine import SessionEngine
from agent_sessions.local.server import local_app

from .test_api import error_of, mirrored


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = local_app(tmp_path, None)
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as test_client:
        yield test_client


def fill(client: TestClient, session_id: str, n: int) -> None:
    client.post("/v1/sessions", json={"id": session_id, "title": "src", "data": {"d": 1}})
    for start in range(0, n, 500):
        entries = [
            {"type": "message", "id": f"e{i}", "content": f"c{i}", "input_tokens": 1}
            for i in range(start + 1, min(n, start + 500) + 1)
        ]
        client.post(f"/v1/sessions/{session_id}/entries", json={"entries": entries})


def entries_of(client: TestClient, session_id: str) -> list[dict[str, Any]]:
    return client.get(f"/v1/sessions/{session_id}/export").text.splitlines()[1:]


def test_fork_at_the_end_copies_everything(client: TestClient) -> None:
    fill(client, "src", 1200)
    child = client.post("/v1/sessions/src/fork", json={"id": "kid", "title": "mine"})
    assert child.status_code == 201, child.text
    body = child.json()
    assert (body["parent_id"], body["forked_from_seq"], body["entry_count"]) == ("src", 1200, 1200)
    assert (body["title"], body["input_tokens"], body["leaf_id"]) == ("mine", 1200, "e1200")
    assert entries_of(client, "kid") == entries_of(client, "src"), "ids, seqs, parents kept"
    assert client.get("/v1/sessions/kid/data").json()["data"] == {"d": 1}
    again = client.post("/v1/sessions/kid/entries", json={"entries": [{"type": "message"}]})
    assert again.json()["first_seq"] == 1201, "the child goes on from the fork point"
    assert client.get("/v1/sessions/src").json()["entry_count"] == 1200, "the source is untouched"


@pytest.mark.parametrize(
    ("how", "count"), [({"at_seq": 7}, 7), ({"at_entry_id": "e3"}, 3), ({"at_seq": 0}, 0)]
)
def test_fork_at_a_point(client: TestClient, how: dict[str, Any], count: int) -> None:
    fill(client, "src", 10)
    child = client.post("/v1/sessions/src/fork", json={"id": "kid", **how}).json()
    assert (child["entry_count"], child["forked_from_seq"], child["last_seq"]) == (
        count,
        count,
        count,
    )


def test_bad_forks_are_refused(client: TestClient) -> None:
    fill(client, "src", 5)
    error_of(client.post("/v1/sessions/nope/fork", json={}), 404, "not_found")
    error_of(client.post("/v1/sessions/src/fork", json={"at_seq": 6}), 422, "invalid")
    error_of(client.post("/v1/sessions/src/fork", json={"at_entry_id": "zz"}), 404, "not_found")
    error_of(
        client.post("/v1/sessions/src/fork", json={"at_seq": 1, "at_entry_id": "e1"}),
        422,
        "invalid",
    )
    client.post("/v1/sessions", json={"id": "taken"})
    error_of(client.post("/v1/sessions/src/fork", json={"id": "taken"}), 409, "already_exists")


def test_a_retried_fork_never_doubles_rows(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(client, "src", 1200)
    real = SessionEngine.adopt_entries
    pages = []

    def crash_on_the_third_page(self: SessionEngine, key: Any, origin: Any, entries: Any) -> Any:
        pages.append(len(entries))
        if len(pages) == 3:
            raise RuntimeError("the child's DO went away")
        return real(self, key, origin, entries)

    monkeypatch.setattr(SessionEngine, "adopt_entries", crash_on_the_third_page)
    assert client.post("/v1/sessions/src/fork", json={"id": "kid"}).status_code == 500
    half = client.get("/v1/sessions/kid").json()["entry_count"]
    assert half == 500, "the pages before the crash landed"
    monkeypatch.setattr(SessionEngine, "adopt_entries", real)
    finished = client.post("/v1/sessions/src/fork", json={"id": "kid"})
    assert finished.status_code == 201, finished.text
    assert finished.json()["entry_count"] == 1200
    assert client.post("/v1/sessions/src/fork", json={"id": "kid"}).json()["entry_count"] == 1200
    assert entries_of(client, "kid") == entries_of(client, "src")


def test_the_child_reaches_d1(client: TestClient, tmp_path: Path) -> None:
    fill(client, "src", 20)
    client.post("/v1/sessions/src/fork", json={"id": "kid", "at_seq": 12})
    mirrored(client, "kid")
    assert client.post("/v1/sessions/kid/mirror/verify").json()["equal"] is True
    d1 = sqlite3.connect(tmp_path / "d1.sqlite")
    row = d1.execute(
        "SELECT parent_id, forked_from_seq, entry_count FROM sessions WHERE id = 'kid'"
    )
    assert row.fetchone() == ("src", 12, 12)
