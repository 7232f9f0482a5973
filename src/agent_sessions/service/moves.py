"""Moving a tenant to another D1 database, with no moment where its reads miss a row.

A Worker cannot change its bindings or its vars by itself, so the placement is the shard
settings (mirror/shards.py) and a move is three deploys of them, with a step in between:

1. `TENANT_SHARDS = {"big": {"from": "DB", "to": "DB_2"}}`: reads stay on `DB`, which has
   every row; the mirror sends every write to both (`DB` keeps its rows, see KeepingRows).
   Then `copy_tenant` pages through the tenant's sessions (from `DB`, which lists them all)
   and has each session's Durable Object resync into `DB_2`; `check_tenant` pages again and
   asks each object whether `DB_2` equals it (the parity check runs on the database a tenant
   is going to). Both are idempotent and take a cursor: after a crash, run them again, from
   the start or from the last cursor they returned. A fresh copy (no cursor) first clears
   what an abandoned earlier move may have left in `DB_2`.
2. `TENANT_SHARDS = {"big": "DB_2"}` once every session checked equal: reads move to `DB_2`,
   complete since the check, kept so by the writes that went to both.
3. `clear_tenant(..., "DB")`: the old rows go, a chunk at a time; refused while the settings
   still read or write the tenant there.
"""

from __future__ import annotations

from typing import Any

from ..engine import SessionKey
from ..engine.errors import InvalidInput
from ..mirror import queries
from ..mirror import statements as q
from ..mirror.shards import Shards
from .sessions import Sessions

PAGE = 100
"""Sessions one call of `copy_tenant` or `check_tenant` handles: a few hundred subrequests,
under what one Worker invocation may make."""


def _moving(shards: Shards, tenant: str) -> tuple[str, str]:
    placement = shards.map.place(tenant)
    if placement.moving_from is None:
        raise InvalidInput(
            f"tenant {tenant!r} is not being moved: set TENANT_SHARDS[{tenant!r}] to "
            '{"from": its database, "to": the new one} first',
            {"tenant": tenant, "on": placement.read},
        )
    return placement.moving_from, placement.writes[0]


async def _page(shards: Shards, tenant: str, after: str, limit: int) -> list[str]:
    rows = await shards.reader(tenant).query(queries.TENANT_SESSION_IDS, (tenant, after, limit))
    return [r["id"] for r in rows]


async def _clear(shards: Shards, binding: str, tenant: str) -> None:
    port = shards.ports[binding]
    while (await port.query(queries.TENANT_ROWS_LEFT, (tenant,)))[0]["n"]:
        await port.apply(
            [
                (q.CLEAR_TENANT_ENTRIES, (tenant, q.CLEAR_CHUNK)),
                (q.CLEAR_TENANT_SESSIONS, (tenant, q.CLEAR_CHUNK)),
            ]
        )


async def copy_tenant(
    sessions: Sessions, shards: Shards, tenant: str, after: str = "", limit: int = PAGE
) -> dict[str, Any]:
    """Step 1: have a page of the tenant's sessions resync into the new database. `next` is
    the cursor of the next page, None when every session was asked."""
    _, to = _moving(shards, tenant)
    if not after:
        await _clear(shards, to, tenant)
    ids = await _page(shards, tenant, after, limit)
    for session_id in ids:
        await sessions.resync_mirror(SessionKey(tenant, session_id))
    return {"tenant": tenant, "to": to, "resynced": len(ids), "next": _next(ids, limit)}


async def check_tenant(
    sessions: Sessions, shards: Shards, tenant: str, after: str = "", limit: int = PAGE
) -> dict[str, Any]:
    """Step 1, done when every page says `behind: []`: the sessions whose rows in the new
    database differ from their Durable Object's (not yet delivered, or a resync to redo)."""
    _, to = _moving(shards, tenant)
    ids = await _page(shards, tenant, after, limit)
    behind = [
        session_id
        for session_id in ids
        if not (await sessions.verify_mirror(SessionKey(tenant, session_id)))["equal"]
    ]
    return {"tenant": tenant, "to": to, "checked": len(ids), "behind": behind,
            "next": _next(ids, limit)}  # fmt: skip


async def clear_tenant(shards: Shards, tenant: str, binding: str) -> dict[str, Any]:
    """Step 3: delete the tenant's rows from a database it has left."""
    placement = shards.map.place(tenant)
    if binding not in shards.ports:
        raise InvalidInput(f"{binding!r} is not one of D1_SHARDS", {"binding": binding})
    if binding in placement.writes:
        raise InvalidInput(
            f"tenant {tenant!r} is still read or written in {binding!r}: switch its "
            "TENANT_SHARDS entry to the new database first",
            {"tenant": tenant, "binding": binding},
        )
    await _clear(shards, binding, tenant)
    return {"tenant": tenant, "cleared": binding}


def _next(ids: list[str], limit: int) -> str | None:
    return ids[-1] if len(ids) == limit else None
