"""The Worker's D1 bindings as the mirror's shards: the shard settings read from `env` (its
`[vars]`), checked against the databases it binds.

Apart from adapters/d1.py (which needs the runtime's `js`), so that CPython's tests run it
on a stand-in `env`: what a shard is made of is the caller's (`port`, `D1Mirror` in the
Worker).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

from ..engine.errors import Misconfigured
from ..mirror.ports import MirrorPort
from ..mirror.shards import SHARDS_SETTING, TENANTS_SETTING, ShardMap, Shards


@cache
def _shard_map(shards: str | None, tenants: str | None) -> ShardMap:
    """Parsed once per distinct pair of settings (an isolate serves many requests)."""
    return ShardMap.from_settings(shards, tenants)


def d1_shards(env: Any, port: Callable[[Any], MirrorPort]) -> Shards:
    """The D1 bindings the settings name, each made a port: a binding `env` lacks (or that is
    no D1 database) is a `Misconfigured` error naming it (the gateway answers 503 with it),
    not a failure at the first query."""
    try:
        shard_map = _shard_map(
            _text(getattr(env, SHARDS_SETTING, None)), _text(getattr(env, TENANTS_SETTING, None))
        )
        bound = {b: getattr(env, b, None) for b in shard_map.bindings}
        return Shards(shard_map, {b: port(db) for b, db in bound.items() if _is_d1(db)})
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
