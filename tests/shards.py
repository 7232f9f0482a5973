"""The mirror's databases in tests: one (an unsharded deployment) or two (a shard map), so
that a test written once runs over each.

`SHARDINGS`, as the settings of the Worker and the local server (D1_SHARDS, TENANT_SHARDS):
- "one-shard": nothing set, the one database `DB`;
- "two-shards": tenants hashed over `DB` and `DB_1` (the tests' pairs of tenants, "a" and
  "b", "t0" to "t2", "conformance" and "elsewhere", land on both: `test_settings` holds it);
- "own-shard": tenants "t" and "acme" (what single-tenant tests use) placed explicitly on
  `DB_1`, every other tenant on `DB`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.local.store import mirror_file
from agent_sessions.mirror.ports import MirrorPort
from agent_sessions.mirror.shards import ShardMap, Shards

SHARDINGS: dict[str, dict[str, str]] = {
    "one-shard": {},
    "two-shards": {"D1_SHARDS": '["DB", "DB_1"]'},
    "own-shard": {"D1_SHARDS": '["DB", "DB_1"]', "TENANT_SHARDS": '{"t": "DB_1", "acme": "DB_1"}'},
}
SPREAD = [("a", "b"), ("t0", "t1", "t2"), ("conformance", "elsewhere")]
"""Tenants the tests use together, which "two-shards" puts on both databases."""
"""Settings by name, as environment variables of `agent-sessions serve`."""


def shard_map(name: str) -> ShardMap:
    settings = SHARDINGS[name]
    return ShardMap.from_settings(settings.get("D1_SHARDS"), settings.get("TENANT_SHARDS"))


def cli_flags(name: str) -> list[str]:
    settings = SHARDINGS[name]
    flags = {"D1_SHARDS": "--d1-shards", "TENANT_SHARDS": "--tenant-shards"}
    return [part for key, value in settings.items() for part in (flags[key], value)]


def union(data_dir: Path, shards: ShardMap) -> sqlite3.Connection:
    """One read-only view of every database's rows, as if they were one D1: `sessions` and
    `session_entries` are views over the files' tables (nothing else is asked of it)."""
    conn = sqlite3.connect(":memory:")
    for i, binding in enumerate(shards.bindings):
        conn.execute(f"ATTACH DATABASE ? AS s{i}", (str(mirror_file(data_dir, binding)),))
    for table in ("sessions", "session_entries"):
        parts = " UNION ALL ".join(
            f"SELECT * FROM s{i}.{table}" for i in range(len(shards.bindings))
        )
        conn.execute(f"CREATE TEMP VIEW {table} AS {parts}")
    return conn


def misplaced(data_dir: Path, shards: ShardMap) -> list[tuple[str, str, str]]:
    """(binding, table, tenant) for every tenant with rows in a database it is not placed on."""
    found = []
    for binding in shards.bindings:
        conn = sqlite3.connect(mirror_file(data_dir, binding))
        for table in ("sessions", "session_entries"):
            for (tenant,) in conn.execute(f"SELECT DISTINCT tenant_id FROM {table}"):
                if binding not in shards.place(tenant).writes:
                    found.append((binding, table, tenant))
        conn.close()
    return found


@dataclass
class Routed:
    """A router over wrapped databases, and the wrappers (one per database)."""

    router: Shards
    wrappers: dict[str, Any]

    def of(self, tenant: str) -> Any:
        """The wrapper in front of the tenant's database."""
        return self.wrappers[self.router.map.place(tenant).read]


class D1Set:
    """The test's D1 databases, as files in a directory, named as local mode names them."""

    def __init__(self, data_dir: Path, sharding: str) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.map = shard_map(sharding)
        self.mirrors = {b: SqliteMirror(mirror_file(data_dir, b)) for b in self.map.bindings}

    def route(self, make: Callable[[MirrorPort], Any] = lambda port: port) -> Routed:
        wrappers = {b: make(m) for b, m in self.mirrors.items()}
        return Routed(Shards(self.map, wrappers), wrappers)

    @property
    def router(self) -> Shards:
        return self.route().router

    def of(self, tenant: str) -> SqliteMirror:
        return self.mirrors[self.map.place(tenant).read]

    @property
    def connection(self) -> sqlite3.Connection:
        """Every database's rows as one (a new view each time: it reads what is there now)."""
        return union(self.data_dir, self.map)

    def misplaced(self) -> list[tuple[str, str, str]]:
        return misplaced(self.data_dir, self.map)

    def close(self) -> None:
        for mirror in self.mirrors.values():
            mirror.close()
