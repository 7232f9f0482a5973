"""Which D1 database holds a tenant's rows: the shard map.

One D1 database runs on one thread (about 1,000 queries a second) and holds 10 GB, so the
mirror scales out by databases, one tenant never spread over two. A Worker cannot bind a
database at run time, so the databases are the D1 bindings that configuration names, stated
once in two settings (the Worker's `[vars]`, the local server's flags or environment):

- `D1_SHARDS`: a JSON list of D1 binding names; empty means `["DB"]`, the one database of
  a deployment that never sharded, which then works as before.
- `TENANT_SHARDS`: a JSON object placing tenants explicitly, `{"big": "DB_2"}`. A binding
  named here belongs to its tenants alone: it leaves the hash pool, so a large tenant gets a
  database of its own. A tenant being moved is `{"big": {"from": "DB", "to": "DB_2"}}`:
  reads stay on `from` (complete) while the mirror writes both (service/moves.py).

Every other tenant is placed by rendezvous hashing over the pool: the binding whose SHA-256
of `binding/tenant` is highest. The hash is the same in every isolate and process (Python's
`hash()` is salted per process), and adding a binding to the pool moves only the tenants
that now hash to it (about 1 in N+1), not most of them as `hash % N` would.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..engine.errors import Misconfigured
from . import statements as q
from .ports import MirrorPort, Statement

HOME = "DB"
"""The binding of an unsharded deployment, and the default pool."""
SHARDS_SETTING = "D1_SHARDS"
TENANTS_SETTING = "TENANT_SHARDS"
BINDING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one tenant's rows are read from, and every database the mirror writes them to
    (the first is the one they are becoming: parity checks it)."""

    read: str
    writes: tuple[str, ...]

    @property
    def moving_from(self) -> str | None:
        return self.read if self.writes[0] != self.read else None


@dataclass(frozen=True, slots=True)
class ShardMap:
    bindings: tuple[str, ...] = (HOME,)
    explicit: Mapping[str, Placement] = field(default_factory=dict)

    @property
    def pool(self) -> tuple[str, ...]:
        """The bindings hashed tenants go to: those no tenant was placed on (or is moving to)
        explicitly. The database a tenant moves away from stays in the pool if it was."""
        given = {p.writes[0] for p in self.explicit.values()}
        return tuple(b for b in self.bindings if b not in given)

    def place(self, tenant: str) -> Placement:
        found = self.explicit.get(tenant)
        if found is not None:
            return found
        pool = self.pool
        shard = pool[0] if len(pool) == 1 else max(pool, key=lambda b: _weight(b, tenant))
        return Placement(shard, (shard,))

    @classmethod
    def from_settings(cls, shards: Any = None, tenants: Any = None) -> ShardMap:
        """Parse the two settings (JSON text, or values a TOML `[vars]` table gives); empty
        means the default. A bad value raises ValueError naming the setting."""
        bindings = tuple(_parse(shards, SHARDS_SETTING, list) or [HOME])
        if not all(isinstance(b, str) and BINDING_NAME.fullmatch(b) for b in bindings):
            raise ValueError(f"{SHARDS_SETTING} must be a list of D1 binding names, not {shards!r}")
        if len(set(bindings)) != len(bindings):
            raise ValueError(f"{SHARDS_SETTING} names a binding twice: {list(bindings)}")
        explicit = {
            str(tenant): _placement(tenant, value, bindings)
            for tenant, value in (_parse(tenants, TENANTS_SETTING, dict) or {}).items()
        }
        made = cls(bindings, explicit)
        if not made.pool:
            raise ValueError(
                f"{TENANTS_SETTING} gives every binding of {SHARDS_SETTING} to named tenants: "
                "leave at least one for the others"
            )
        return made


def _weight(binding: str, tenant: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{binding}/{tenant}".encode()).digest()[:8], "big")


def _parse(value: Any, name: str, kind: type) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"{name} must be JSON, not {value!r}") from None
    if not isinstance(value, kind):
        raise ValueError(f"{name} must be a JSON {'list' if kind is list else 'object'}")
    return value


def _placement(tenant: str, value: Any, bindings: Sequence[str]) -> Placement:
    def known(binding: Any) -> str:
        if binding not in bindings:
            raise ValueError(
                f"{TENANTS_SETTING} places tenant {tenant!r} on {binding!r}, "
                f"which is not one of {SHARDS_SETTING} {list(bindings)}"
            )
        return binding

    if isinstance(value, str):
        return Placement(known(value), (value,))
    if isinstance(value, dict) and set(value) == {"from", "to"} and value["from"] != value["to"]:
        return Placement(known(value["from"]), (known(value["to"]), value["from"]))
    raise ValueError(
        f"{TENANTS_SETTING}[{tenant!r}] must be a binding name or "
        '{"from": binding, "to": another binding}'
    )


class MirrorRouter(Protocol):
    """The mirror's databases, by tenant: what the drain, parity and the D1 reads use."""

    def reader(self, tenant: str) -> MirrorPort:
        """Where the tenant's listings, searches and consumer queries read."""
        ...

    def writers(self, tenant: str) -> Sequence[MirrorPort]:
        """Where the drain sends the tenant's batches; the first is the one parity checks."""
        ...


class OneShard:
    """Every tenant in one database: an unsharded deployment, and most tests."""

    def __init__(self, port: MirrorPort) -> None:
        self.port = port

    def reader(self, tenant: str) -> MirrorPort:
        return self.port

    def writers(self, tenant: str) -> Sequence[MirrorPort]:
        return (self.port,)


class Shards:
    """A shard map over the databases it names. Refuses, when made, a map naming a binding
    that has no database (a typo in `[vars]`, a binding missing from wrangler.toml), so the
    mistake is found once, with its name, and not as a failing drain later."""

    def __init__(
        self, shard_map: ShardMap, ports: Mapping[str, MirrorPort], check: bool = True
    ) -> None:
        """`ports` by binding; it may make them as they are asked for (the Worker touches
        only the bindings a request uses). `check=False`: `ports` checks each binding itself
        when it is asked for it (adapters/d1_shards.py)."""
        missing = [b for b in shard_map.bindings if b not in ports] if check else []
        if missing:
            raise ValueError(
                f"{SHARDS_SETTING} names {missing}, which {'is' if len(missing) == 1 else 'are'}"
                " not bound as D1 databases"
            )
        self.map = shard_map
        self.ports = ports

    def reader(self, tenant: str) -> MirrorPort:
        return self.ports[self.map.place(tenant).read]

    def writers(self, tenant: str) -> Sequence[MirrorPort]:
        placement = self.map.place(tenant)
        old = placement.moving_from
        return tuple(
            KeepingRows(self.ports[b]) if b == old else self.ports[b] for b in placement.writes
        )


class KeepingRows:
    """The database a tenant is moving away from: it gets every write, so its reads stay
    complete until the switch, but not the purges of a resync, which the move uses to fill
    the new database and which would leave the old one without a session's rows until its
    rows arrived again, batch by batch. What a skipped purge leaves behind goes when the old
    database is cleared, after the switch."""

    PURGES = frozenset({q.PURGE_ENTRIES, q.PURGE_SESSION})

    def __init__(self, inner: MirrorPort) -> None:
        self.inner = inner

    async def apply(self, statements: Sequence[Statement]) -> None:
        kept = [s for s in statements if s[0] not in self.PURGES]
        if kept:
            await self.inner.apply(kept)

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self.inner.query(sql, params)


class Unroutable:
    """Settings that place no tenant anywhere. A Durable Object keeps taking writes (the
    gateway refuses requests first, with the same message) and its drain fails with this
    error, backing off and retrying, until a deploy fixes the settings: nothing is lost."""

    def __init__(self, problem: str) -> None:
        self.problem = problem

    def reader(self, tenant: str) -> MirrorPort:
        raise Misconfigured(self.problem)

    def writers(self, tenant: str) -> Sequence[MirrorPort]:
        raise Misconfigured(self.problem)


def router_of(mirror: MirrorPort | MirrorRouter) -> MirrorRouter:
    """A router as given, or one database for every tenant."""
    return mirror if hasattr(mirror, "writers") else OneShard(mirror)  # type: ignore[arg-type,return-value]
