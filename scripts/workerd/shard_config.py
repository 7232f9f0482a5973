"""A Worker config with more D1 bindings: what the real-workerd test tier's two-shard stack
(tests/workerd/stack.py) and the scale bench (bench/runtime/scale.py) run the Worker with.
wrangler.toml itself stays one database, `DB`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

SHARD_IDS = "00000000-0000-0000-0000-{:012d}"
"""The local D1 database of the n-th shard binding (miniflare keys local D1 by id; `DB` is 0,
the id wrangler.toml has)."""


def with_shards(config: Path, shards: tuple[str, ...], settings: Mapping[str, str]) -> str:
    """The text of `config` plus a database block per shard after the first (the same
    tables, `migrations_dir`), and `settings` (D1_SHARDS, TENANT_SHARDS, any other var) in
    `[vars]`."""
    text = config.read_text()
    values = "".join(f"{name} = {json.dumps(value)}\n" for name, value in settings.items())
    if "\n[vars]\n" in text:
        text = text.replace("\n[vars]\n", f"\n[vars]\n{values}", 1)
    else:
        text += f"\n[vars]\n{values}"
    for n, binding in enumerate(shards[1:], start=1):
        text += (
            f'\n[[d1_databases]]\nbinding = "{binding}"\ndatabase_name = "agent-sessions-{n}"\n'
            f'database_id = "{SHARD_IDS.format(n)}"\nmigrations_dir = "migrations"\n'
        )
    return text
