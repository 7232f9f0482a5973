"""One request must not stall the server or exhaust its memory: bounded lists, summarized
validation errors, and bounded imports (also gzipped ones)."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

from fastapi.testclient import TestClient

from agent_sessions.engine.limits import (
    MAX_ENTRIES_PER_APPEND,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ENTRIES,
)

from .refusals import GZIP, error_of

# -- 4. a gzip bomb through import -----------------------------------------------------------


def test_a_gzip_bomb_is_413_without_inflating_it(local_client: TestClient) -> None:
    """1 MiB of gzip inflated to 1 GiB before; now inflation stops at the import limit."""
    bomb = gzip.compress(b" " * (MAX_IMPORT_BYTES * 4), compresslevel=9)
    assert len(bomb) < MAX_IMPORT_BYTES // 100
    started = time.monotonic()
    error = error_of(
        local_client.post("/v1/sessions/import", content=bomb, headers=GZIP), 413, "too_large"
    )
    assert time.monotonic() - started < 5
    assert error["details"]["limit"] == MAX_IMPORT_BYTES


def test_an_import_of_too_many_entries_is_413(local_client: TestClient) -> None:
    header = json.dumps({"format": "agent-sessions.v1", "session": {"metadata": {}}})
    lines = [header] + ['{"type":"message"}'] * (MAX_IMPORT_ENTRIES + 1)
    body = gzip.compress("\n".join(lines).encode())
    response = local_client.post("/v1/sessions/import?session_id=many", content=body, headers=GZIP)
    error = error_of(response, 413, "too_large")
    assert error["details"]["limit"] == MAX_IMPORT_ENTRIES
    error_of(local_client.get("/v1/sessions/many"), 404, "not_found")


# -- 5. one request must not stall the server -----------------------------------------------


def test_a_million_entries_are_refused_at_once_with_a_short_answer(
    local_client: TestClient,
) -> None:
    """1,000,000 `{}` entries took 10-16 s and answered an 81 MB error body."""
    body = b'{"entries": [' + b",".join([b"{}"] * 1_000_000) + b"]}"
    started = time.monotonic()
    response = local_client.post(
        "/v1/sessions/s/entries", content=body, headers={"content-type": "application/json"}
    )
    elapsed = time.monotonic() - started
    error = error_of(response, 413, "too_large")
    assert len(response.content) < 4_096
    assert str(MAX_ENTRIES_PER_APPEND) in error["message"]
    assert elapsed < 3


def test_validation_errors_are_summarized_not_echoed(local_client: TestClient) -> None:
    long_key = "k" * 10_000
    entries = [{"type": "nope", long_key: 1, "input_tokens": "x"} for _ in range(400)]
    response = local_client.post("/v1/sessions/s/entries", json={"entries": entries})
    error = error_of(response, 422, "invalid")
    assert len(response.content) < 8_192
    assert len(error["details"]) <= 20
    assert "1200" in error["message"], "says how many problems there were"


def test_every_list_in_a_request_model_is_bounded(local_client: TestClient) -> None:
    spec = local_client.get("/openapi.json").json()
    unbounded = []

    def walk(schema: Any, where: str) -> None:
        if isinstance(schema, dict):
            if schema.get("type") == "array" and "maxItems" not in schema:
                unbounded.append(where)
            for name, inner in schema.items():
                walk(inner, f"{where}.{name}")
        elif isinstance(schema, list):
            for index, inner in enumerate(schema):
                walk(inner, f"{where}[{index}]")

    requests = {
        name: schema
        for name, schema in spec["components"]["schemas"].items()
        if name.endswith(("Request", "Create", "Update", "Save", "Claim", "Move", "In"))
    }
    assert "AppendRequest" in requests
    walk(requests, "schemas")
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                walk(parameter.get("schema"), f"{method} {path} {parameter['name']}")
    assert unbounded == []
