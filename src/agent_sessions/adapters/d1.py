"""`MirrorPort` over the Worker's D1 bindings (`env.DB`, and the shards), inside Pyodide.

The SDK wraps the binding, so parameters go through `python_to_rpc` (every number a REAL:
the mirror binds no number where text is meant) and results come back as Python values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from ..engine.errors import Misconfigured
from ..engine.ports import Row, SqlValue
from ..mirror.ports import Statement
from ..mirror.shards import SHARDS_SETTING, TENANTS_SETTING, ShardMap, Shards


class D1Mirror:
    def __init__(self, db: Any) -> None:
        self._db = db

    async def apply(self, statements: Sequence[Statement]) -> None:
        await self._db.batch([self._db.prepare(sql).bind(*params) for sql, params in statements])

    async def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        result = await self._db.prepare(sql).bind(*params).all()
        rows = result["results"] if isinstance(result, dict) else result.results
        return [r if isinstance(r, dict) else r.to_py() for r in rows]


@cache
def _shard_map(shards: str | None, tenants: str | None) -> ShardMap:
    """Parsed once per distinct pair of settings (an isolate serves many requests)."""
    return ShardMap.from_settings(shards, tenants)


def d1_shards(env: Any) -> Shards:
    """The D1 bindings the settings name, checked against what `env` binds: a missing one is
    a `Misconfigured` error naming it (the gateway answers 503 with it), not a failure at the
    first query."""
    try:
        shard_map = _shard_map(
            _text(getattr(env, SHARDS_SETTING, None)), _text(getattr(env, TENANTS_SETTING, None))
        )
        bound = {b: getattr(env, b, None) for b in shard_map.bindings}
        return Shards(shard_map, {b: D1Mirror(db) for b, db in bound.items() if _is_d1(db)})
    except ValueError as exc:
        raise Misconfigured(str(exc)) from None


def _text(value: Any) -> str | None:
    """A `[vars]` value as text: as given, or a TOML list or table as JSON."""
    if value is None or isinstance(value, str):
        return value
    to_py = getattr(value, "to_py", None)
    return json.dumps(to_py() if to_py else value)


def _is_d1(binding: Any) -> bool:
    return binding is not None and hasattr(binding, "prepare") and hasattr(binding, "batch")
