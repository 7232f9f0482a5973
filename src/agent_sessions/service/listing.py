"""Listing sessions from D1 (or the local mirror file), filtered and keyset-paginated.

The statement is made of mirror/queries.py's fragments, chosen by which filters the caller
set; every value is bound. Order is newest first by (updated_at, id), and the cursor is that
pair for the last row, opaque to callers. Results follow the mirror, so a write shows
up here once the mirror has delivered it (see the mirror's lag). The read is as fresh as
`bookmark` asks (mirror/reads.py), and the page says the bookmark after it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ..engine import InvalidInput
from ..engine.limits import MAX_PAGE_SIZE
from ..engine.rules import STATUSES
from ..engine.values import check_count, check_id, check_optional_int, check_text, decode_json
from ..mirror.ports import MirrorPort
from ..mirror.queries import LIST_AFTER_CURSOR, LIST_FILTERS, LIST_ORDER, LIST_SESSIONS
from ..mirror.reads import read

MAX_CURSOR_LENGTH = 256
"""A cursor this API returns is under 200 characters (a time and an id of up to 128)."""


def encode_cursor(row: dict[str, Any]) -> str:
    raw = json.dumps([row["updated_at"], row["id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The (updated_at, id) pair of a cursor, checked like any input before it is bound: a
    crafted one (10**30, a lone surrogate, a bool) was a 500."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError
        updated_at, session_id = json.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        if updated_at is None:  # check_count reads None as 0
            raise ValueError
        return check_count(updated_at, "cursor"), check_id(session_id, "cursor")
    except (ValueError, TypeError, InvalidInput):
        raise InvalidInput("cursor is not one this API returned", {"field": "cursor"}) from None


def _checked(filters: dict[str, Any], limit: Any) -> dict[str, Any]:
    """The filters, validated here because RPC callers skip the HTTP layer's pydantic."""
    unknown = sorted(set(filters) - set(LIST_FILTERS))
    if unknown:
        raise InvalidInput(f"unknown filter(s): {', '.join(unknown)}", {"fields": unknown})
    if not 1 <= check_count(limit, "limit") <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be from 1 to {MAX_PAGE_SIZE}", {"field": "limit"})
    if filters.get("status") is not None and filters["status"] not in STATUSES:
        raise InvalidInput(f"status must be one of {list(STATUSES)}", {"field": "status"})
    checked = {name: check_text(filters.get(name), name) for name in ("user_id", "agent_name")}
    for name in ("updated_since", "updated_before"):
        checked[name] = check_optional_int(filters.get(name), name)
    return checked | {"status": filters.get("status")}


async def list_sessions(
    index: MirrorPort,
    tenant: str,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
    bookmark: Any = None,
) -> dict[str, Any]:
    filters = _checked(filters, limit)
    if cursor is not None and not isinstance(cursor, str):
        raise InvalidInput("cursor must be a string", {"field": "cursor"})
    clauses = [LIST_FILTERS[name] for name in LIST_FILTERS if filters.get(name) is not None]
    params: list[Any] = [
        tenant,
        *(filters[name] for name in LIST_FILTERS if filters.get(name) is not None),
    ]
    if cursor is not None:
        updated_at, session_id = decode_cursor(cursor)
        clauses.append(LIST_AFTER_CURSOR)
        params += [updated_at, updated_at, session_id]
    sql = " AND ".join([LIST_SESSIONS, *clauses]) + LIST_ORDER
    rows, after = await read(index, sql, [*params, limit + 1], bookmark)
    sessions = [
        {**r, "metadata": decode_json(r["metadata"], f"the metadata of {r['id']!r}")}
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    next_cursor = encode_cursor(sessions[-1]) if more else None
    return {"sessions": sessions, "next_cursor": next_cursor, "bookmark": after}
