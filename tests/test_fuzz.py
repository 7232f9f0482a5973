"""Property-based fuzzing of the OpenAPI document with schemathesis: generated requests (valid
and invalid) against every operation; no response may be a 5xx, and every response must match
what the document promises (status, content type, schema). Bounded for CI."""

from __future__ import annotations

import gzip
import tempfile
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from agent_sessions.local.server import local_app
from agent_sessions.service.auth import TokenTable

TOKEN = "fuzz-token-0123456789abcdef"
APP = local_app(tempfile.mkdtemp(prefix="agent-sessions-fuzz-"), TokenTable.parse(f"{TOKEN}=fuzz"))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# A list over its bound (entries: 500) is a 413, like the engine's other size limits.
rejections = schema.config.checks.negative_data_rejection
rejections.expected_statuses = [*rejections.expected_statuses, "413"]
# Inputs that no schema can describe, so a made-up one is rightly refused with a 422 although
# it is "schema-valid": the opaque listing cursor, and the import's JSON Lines file.
FREE_FORM = {("GET", "/v1/sessions"), ("POST", "/v1/sessions/import")}
# Rules that depend on the session's state, which no schema can state either: a seq within the
# log, a leaf or parent that exists, a legal status change, a compaction's first_kept_seq.
# A schema-valid request may rightly get 422 there too.
STATEFUL = {
    ("POST", "/v1/sessions/{session_id}/replace"),
    ("POST", "/v1/sessions/{session_id}/prune"),
    ("PUT", "/v1/sessions/{session_id}/leaf"),
    ("POST", "/v1/sessions/{session_id}/fork"),
    ("POST", "/v1/sessions/{session_id}/entries"),
    ("PATCH", "/v1/sessions/{session_id}"),
}
# The import body is JSON Lines text: send generated strings as text; or a gzipped snapshot:
# send them gzipped.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")


@schemathesis.serializer("application/gzip")
def gzipped(_context: Any, value: Any) -> bytes:
    raw = value if isinstance(value, bytes) else str(value).encode()
    return gzip.compress(raw)


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case) -> None:
    operation = (case.operation.method.upper(), case.operation.path)
    excluded = [positive_data_acceptance] if operation in FREE_FORM | STATEFUL else []
    case.call_and_validate(headers={"authorization": f"Bearer {TOKEN}"}, excluded_checks=excluded)
