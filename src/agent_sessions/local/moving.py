"""Moving a tenant between the local mirror's files: the steps of service/moves.py run to
the end at once, for `agent-sessions move-tenant` and `clear-tenant`.

The server must be stopped (the store takes the data directory's lock): local mode's
"deploy" of new settings is the next start. So `move_tenant` runs with the settings of the
move (`{"from": ..., "to": ...}`) and leaves the new file complete and checked; the server
then starts with the tenant placed on it, and `clear_tenant` removes the old rows.
"""

from __future__ import annotations

from typing import Any

from ..service.moves import check_tenant, clear_tenant, copy_tenant
from ..service.sessions import Sessions
from .store import LocalStore

ROUNDS = 20
"""Checks before giving up: each runs the alarms first (a failed drain waits for its retry)."""


async def move_tenant(store: LocalStore, tenant: str) -> dict[str, Any]:
    """Copy every session of the tenant into its new file, then check until all are equal.
    `behind` lists the sessions still not equal after ROUNDS checks (run it again)."""
    sessions = Sessions(store.transport)
    copied, cursor = 0, ""
    while True:
        page = await copy_tenant(sessions, store.shards, tenant, cursor)
        copied += page["resynced"]
        await store.settle()
        if page["next"] is None:
            break
        cursor = page["next"]
    behind: list[str] = []
    for _ in range(ROUNDS):
        await store.run_due_alarms()
        await store.settle()
        behind, cursor = [], ""
        while cursor is not None:
            checked = await check_tenant(sessions, store.shards, tenant, cursor)
            behind += checked["behind"]
            cursor = checked["next"]
        if not behind:
            break
    return {"tenant": tenant, "to": page["to"], "copied": copied, "behind": behind}


async def clear_moved(store: LocalStore, tenant: str, binding: str) -> dict[str, Any]:
    return await clear_tenant(store.shards, tenant, binding)
