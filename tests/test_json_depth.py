"""One limit for JSON depth everywhere: parsing a body, storing a value, answering with one.
Deep JSON was stored, then every read of it answered 500 (issue 17, 1)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fastapi.testclient import TestClient

from agent_sessions.engine import InvalidInput, SessionEngine, SessionKey
from agent_sessions.engine.limits import MAX_JSON_DEPTH
from agent_sessions.http.body import BODY_DEPTH

from .refusals import JSON, NDJSON, error_of, state

PYDANTIC_WASM_DEPTH = 49
"""pydantic-core's RECURSION_GUARD_LIMIT on target_family = "wasm" (src/recursion_guard.rs)."""


def nested(depth: int) -> str:
    """JSON text of a value `depth` levels deep, alternating arrays and objects."""
    opened = "".join("[" if level % 2 else '{"k":' for level in range(depth))
    closed = "".join("]" if level % 2 else "}" for level in reversed(range(depth)))
    return opened + "0" + closed


BODIES = {
    "payload": ("POST", "/v1/sessions/s/entries", '{"entries":[{"type":"custom","payload":%s}]}'),
    "metadata": ("PATCH", "/v1/sessions/s", '{"metadata":%s}'),
    "data": ("PUT", "/v1/sessions/s/data", '{"data":%s}'),
    "created": ("POST", "/v1/sessions", '{"id":"deep","data":%s}'),
}


@pytest.mark.parametrize("case", list(BODIES))
def test_json_at_the_depth_limit_round_trips_and_one_level_more_is_422(
    local_client: TestClient, case: str
) -> None:
    """At the limit, every read of the value works; past it, the write is a 422 that names
    the limit and changes nothing (a PUT of deep data used to commit, then answer 500)."""
    method, path, template = BODIES[case]
    stored = local_client.request(
        method, path, content=template % nested(MAX_JSON_DEPTH), headers=JSON
    )
    assert stored.status_code < 300, stored.text
    for read in (
        "/v1/sessions",
        "/v1/sessions/s/entries",
        "/v1/sessions/s/context",
        "/v1/sessions/s/export",
    ):
        assert local_client.get(read).status_code == 200, read
    before = state(local_client)
    for depth in (MAX_JSON_DEPTH + 1, 200, 5_000, 100_000):
        refused = local_client.request(method, path, content=template % nested(depth), headers=JSON)
        error = error_of(refused, 422, "invalid")
        assert str(MAX_JSON_DEPTH) in error["message"], error
    assert state(local_client) == before


def test_a_deep_value_stored_by_an_older_release_reads_as_a_422_naming_it(
    local_client: TestClient,
) -> None:
    """A row written before the limit existed: a 422 naming what to rewrite, not a 500."""
    local_client.post("/v1/sessions", json={"id": "legacy"})
    local_client.post("/v1/sessions/legacy/entries", json={"entries": [{"type": "custom"}]})
    path = local_client.app.state.store.path(SessionKey("default", "legacy"))
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE session_entries SET payload = ?", (nested(300),))
    for read in ("/v1/sessions/legacy/entries", "/v1/sessions/legacy/context"):
        error = error_of(local_client.get(read), 422, "invalid")
        assert "entry 1" in error["message"]
    cleared = local_client.post("/v1/sessions/legacy/replace", json={"from_seq": 1, "entries": []})
    assert cleared.status_code == 200, cleared.text
    assert local_client.get("/v1/sessions/legacy/entries").status_code == 200


def test_an_import_nesting_too_deep_is_a_422(local_client: TestClient) -> None:
    header = json.dumps({"format": "agent-sessions.v1", "session": {"metadata": {}}})
    for depth in (MAX_JSON_DEPTH + 1, 50_000):
        text = f'{header}\n{{"type":"custom","payload":{nested(depth)}}}\n'
        response = local_client.post(
            "/v1/sessions/import?session_id=i", content=text, headers=NDJSON
        )
        error_of(response, 422, "invalid")
    error_of(local_client.get("/v1/sessions/i"), 404, "not_found")


def test_the_engine_holds_the_limit_for_rpc_callers(engine: SessionEngine, key: SessionKey) -> None:
    """RPC callers skip the HTTP layer: the engine refuses deep values itself, on every
    backend, and writes nothing."""
    deepest, deeper = json.loads(nested(MAX_JSON_DEPTH)), json.loads(nested(MAX_JSON_DEPTH + 1))
    engine.create_session(key, {"data": deepest})
    engine.append(key, [{"type": "custom", "payload": deepest}])
    before = engine.get_session(key)
    refusals = [
        lambda: engine.save_data(key, deeper),
        lambda: engine.append(key, [{"type": "custom", "payload": deeper}]),
        lambda: engine.update_session(key, {"metadata": {"k": deeper}}),
        lambda: engine.create_session(SessionKey("acme", "other"), {"data": deeper}),
    ]
    for refused in refusals:
        with pytest.raises(InvalidInput, match=str(MAX_JSON_DEPTH)):
            refused()
    assert engine.get_session(key) == before
    assert engine.read_entries(key)["entries"][0]["payload"] == deepest
    assert engine.load_data(key)["data"] == deepest


def test_the_deepest_answer_fits_the_workers_encoder() -> None:
    """pydantic-core serializes at most 49 levels when built for WebAssembly (its recursion
    guard); an answer holds a value at most BODY_DEPTH levels down, plus the value's leaf."""
    assert BODY_DEPTH + 1 < PYDANTIC_WASM_DEPTH
