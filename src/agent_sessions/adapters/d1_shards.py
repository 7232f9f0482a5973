"""The Worker's D1 bindings as the mirror's shards: the shard settings read from `env` (its
`[vars]`), checked against the databases it binds.

Apart from adapters/d1.py (which needs the runtime's `js`), so that CPython's tests run it
on a stand-in `env`: what a shard is made of is the caller's (`port`, `D1Mirror` in the
Worker).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any

from ..engine.errors import Misconfigured
from ..mirror.ports import MirrorPort
from ..mirror.shards import SHARDS_SETTING, TENANTS_SETTING, ShardMap, Shards


class _Bindings(Mapping[str, MirrorPort]):
    """The ports of `env`'s D1 bindings, each made (and checked) when first asked for: a
    request touches the one database of its tenant, however many are bound, and a binding
    the settings name but `env` lacks is a `Misconfigured` error naming it (the gateway
    answers 503 with it; a drain records it and retries), not an AttributeError."""

    def __init__(self, env: Any, names: tuple[str, ...], port: Callable[[Any], MirrorPort]):
        self._env, self._names, self._port = env, names, port
        self._made: dict[str, MirrorPort] = {}

    def __getitem__(self, name: str) -> MirrorPort:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._made:
            binding = getattr(self._env, name, None)
            if not _is_d1(binding):
                raise Misconfigured(
                    f"{SHARDS_SETTING} names {name!r}, which is not bound as a D1 database"
                )
            self._made[name] = self._port(binding)
        return self._made[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@cache
def _shard_map(shards: str | None, tenants: str | None) -> ShardMap:
    """Parsed once per distinct pair of settings (an isolate serves many requests)."""
    return ShardMap.from_settings(shards, tenants)


def d1_shards(env: Any, port: Callable[[Any], MirrorPort]) -> Shards:
    """The D1 bindings the settings name. Settings that do not parse are a `Misconfigured`
    error at once; a binding is checked when a request first uses it (all of them are
    checked before a deploy: scripts/shards.py)."""
    try:
        shard_map = _shard_map(
            _text(getattr(env, SHARDS_SETTING, None)), _text(getattr(env, TENANTS_SETTING, None))
        )
    except ValueError as exc:
        raise Misconfigured(str(exc)) from None
    return Shards(shard_map, _Bindings(env, shard_map.bindings, port), check=False)


def _text(value: Any) -> str | None:
    """A `[vars]` value as text: as given, or a TOML list or table as JSON."""
    if value is None or isinstance(value, str):
        return value
    to_py = getattr(value, "to_py", None)
    return json.dumps(to_py() if to_py else value)


def _is_d1(binding: Any) -> bool:
    return binding is not None and hasattr(binding, "prepare") and hasattr(binding, "batch")
