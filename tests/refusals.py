"""Helpers for the tests of refused requests: the one error shape, and a snapshot of what a
refused request must leave as it was (see the `local_client` fixture in conftest)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

JSON = {"content-type": "application/json"}
NDJSON = {"content-type": "application/x-ndjson"}
GZIP = {"content-type": "application/gzip"}


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text[:2000]
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    return body["error"]


def state(client: TestClient) -> tuple[Any, Any, Any]:
    """Everything a refused request must leave as it was."""
    return (
        client.get("/v1/sessions/s").json(),
        client.get("/v1/sessions/s/entries").json(),
        client.get("/v1/sessions/s/data").json(),
    )
