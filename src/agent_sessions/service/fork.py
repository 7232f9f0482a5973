"""Forking a session: a new session that starts as a copy of another up to a point.

The source and the child are different Durable Objects, so the copy travels in pages: read
from the source over RPC, written into the child with `adopt_entries`, which keeps ids, seqs
and parents and skips what the child already holds. A fork that fails half-way is finished
by sending the same fork again; it never doubles rows.
"""

from __future__ import annotations

from typing import Any

from ..engine import InvalidInput, SessionKey
from ..engine.limits import MAX_ENTRIES_PER_APPEND
from ..engine.values import check_optional_int
from .sessions import Sessions

COPIED_FIELDS = ("user_id", "agent_name", "title", "metadata")


async def fork_session(
    sessions: Sessions,
    source: SessionKey,
    child: SessionKey,
    at_seq: int | None,
    at_entry_id: str | None,
    fields: dict[str, Any],
) -> dict[str, Any]:
    """Fork `source` into `child` at `at_seq`, at the entry `at_entry_id`, or at its end.

    The child gets the source's entries with seq up to that point (ids and seqs kept), its
    data blob, and its who/what fields unless `fields` overrides them.
    """
    if at_seq is not None and at_entry_id is not None:
        raise InvalidInput("give at_seq or at_entry_id, not both")
    at_seq = check_optional_int(at_seq, "at_seq")  # RPC callers skip the HTTP models
    original = await sessions.get_session(source)
    if at_entry_id is not None:
        at_seq = (await sessions.find_entry(source, at_entry_id))["seq"]
    if at_seq is None:
        at_seq = original["last_seq"]
    if not 0 <= at_seq <= original["last_seq"]:
        raise InvalidInput(
            f"at_seq must be from 0 to {original['last_seq']}", {"last_seq": original["last_seq"]}
        )
    origin = {f: original[f] for f in COPIED_FIELDS} | fields
    origin |= {
        "data": (await sessions.load_data(source))["data"],
        "parent_id": source.session_id,
        "forked_from_seq": at_seq,
    }
    result = await sessions.adopt_entries(child, origin, [])
    after = 0
    while after < at_seq:
        page = await sessions.read_entries(
            source, after, at_seq + 1, None, MAX_ENTRIES_PER_APPEND, "asc"
        )
        if not page["entries"]:
            break
        result = await sessions.adopt_entries(child, origin, page["entries"])
        after = page["entries"][-1]["seq"]
    return result
