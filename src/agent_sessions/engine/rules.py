"""The rules of the session model that are not SQL: the kinds of entries, the statuses and
their allowed changes, which fields each input may carry, and the version check. The HTTP
models (wire.py) and the D1 listing take their enumerations from here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import InvalidInput, VersionConflict
from .values import check_optional_int

STATUSES = ("active", "completed", "abandoned", "archived")
TRANSITIONS = {
    "active": {"completed", "abandoned"},
    "completed": {"active"},
    "abandoned": {"active"},
    "archived": set(),
}
"""Allowed status changes. 'archived' is entered and left by the cold tier only."""
ENTRY_TYPES = ("message", "tool_call", "tool_result", "compaction", "metadata", "custom")
ORDERS = ("asc", "desc")
UPDATABLE = frozenset({"user_id", "agent_name", "title", "metadata", "status", "expires_at"})
SESSION_FIELDS = frozenset({"user_id", "agent_name", "title", "metadata", "data", "expires_at"})
ENTRY_FIELDS = frozenset(
    {"id", "type", "role", "parent_id", "content", "payload", "input_tokens", "output_tokens"}
)
WRITER_FIELDS = frozenset({"writer_id", "epoch", "seq"})


def only(fields: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    """Refuse an input that is not an object, or that names a field `allowed` lacks."""
    if type(fields) is not dict and not isinstance(fields, Mapping):
        raise InvalidInput(f"{what} must be an object")
    if fields.keys() <= allowed:
        return
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise InvalidInput(f"unknown {what} field(s): {', '.join(unknown)}", {"fields": unknown})


def check_version(current: int, expected: Any) -> None:
    """Optimistic concurrency: a write that names a version applies only at that version."""
    expected = check_optional_int(expected, "expected_version")
    if expected is not None and expected != current:
        raise VersionConflict(
            f"the session is at version {current}, not {expected}",
            {"current_version": current, "expected_version": expected},
        )
