"""Export and import of one session as JSON Lines.

Line 1 is {"format": "agent-sessions.v1", "session": {...the session row, with data...}};
every further line is one entry in seq order. An import refuses other formats, so a future
v2 can never be misread as v1.
"""

from __future__ import annotations

import json
from typing import Any

from ..engine import InvalidInput, SessionKey
from ..engine.errors import Malformed
from ..engine.limits import MAX_PAGE_SIZE
from .sessions import Sessions

FORMAT = "agent-sessions.v1"
SESSION_FIELDS = (
    "user_id",
    "agent_name",
    "title",
    "metadata",
    "data",
    "expires_at",
    "status",
    "created_at",
)
ENTRY_FIELDS = (
    "id", "type", "role", "parent_id", "content", "payload",
    "input_tokens", "output_tokens", "created_at",
)  # fmt: skip


def _line(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n"


async def export_session(sessions: Sessions, key: SessionKey) -> str:
    session = await sessions.get_session(key)
    session["data"] = (await sessions.load_data(key))["data"]
    lines = [_line({"format": FORMAT, "session": session})]
    after = 0
    while True:
        page = await sessions.read_entries(key, after, None, None, MAX_PAGE_SIZE, "asc")
        lines += [_line(entry) for entry in page["entries"]]
        if not page["has_more"]:
            return "".join(lines)
        after = page["entries"][-1]["seq"]


def parse_import(body: bytes) -> tuple[str | None, dict[str, Any], list[dict[str, Any]]]:
    """(the exported id, the session's fields, the entries) of a JSON Lines export."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("the body is not UTF-8 text") from None
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            raise Malformed(f"line {number} is not JSON", {"line": number}) from None
    if not records or not isinstance(records[0], dict) or records[0].get("format") != FORMAT:
        raise InvalidInput(f'the first line must be {{"format": "{FORMAT}", "session": {{...}}}}')
    session = records[0].get("session")
    if not isinstance(session, dict):
        raise InvalidInput("the first line has no session object")
    entries = records[1:]
    if not all(isinstance(e, dict) for e in entries):
        raise InvalidInput("every line after the first must be an entry object")
    fields = {f: session[f] for f in SESSION_FIELDS if f in session}
    kept = [{f: e[f] for f in ENTRY_FIELDS if e.get(f) is not None} for e in entries]
    exported_id = session.get("id") if isinstance(session.get("id"), str) else None
    return exported_id, fields, kept
