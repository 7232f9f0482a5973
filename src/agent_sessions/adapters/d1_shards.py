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

_CHECKED: set[tuple[str | None, str | None]] = set()
"""Settings whose bindings this isolate found bound: a deploy that changes either starts new
isolates, so each pair is checked once, not on every request."""


class _Bindings(Mapping[str, MirrorPort]):
    """The ports of `env`'s D1 bindings, made when first asked for: a request touches the one
    database of its tenant, however many are bound."""

    def __init__(self, env: Any, names: tuple[str, ...], port: Callable[[Any], MirrorPort]):
        self._env, self._names, self._port = env, names, port
        self._made: dict[str, MirrorPort] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._names and _is_d1(getattr(self._env, str(name), None))

    def __getitem__(self, name: str) -> MirrorPort:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._made:
            self._made[name] = self._port(getattr(self._env, name))
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
    """The D1 bindings the settings name, each made a port when used: a binding `env` lacks
    (or that is no D1 database) is a `Misconfigured` error naming it (the gateway answers 503
    with it), not a failure at the first query."""
    settings = (
        _text(getattr(env, SHARDS_SETTING, None)),
        _text(getattr(env, TENANTS_SETTING, None)),
    )
    try:
        shard_map = _shard_map(*settings)
        bindings = _Bindings(env, shard_map.bindings, port)
        made = Shards(shard_map, bindings, check=settings not in _CHECKED)
    except ValueError as exc:
        raise Misconfigured(str(exc)) from None
    _CHECKED.add(settings)
    return made


def _text(value: Any) -> str | None:
    """A `[vars]` value as text: as given, or a TOML list or table as JSON."""
    if value is None or isinstance(value, str):
        return value
    to_py = getattr(value, "to_py", None)
    return json.dumps(to_py() if to_py else value)


def _is_d1(binding: Any) -> bool:
    return binding is not None and hasattr(binding, "prepare") and hasattr(binding, "batch")
