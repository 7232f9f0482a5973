"""The D1 shards of a wrangler config: `check` that the shard settings in its `[vars]` name
only databases it binds, before a deploy (`npm run deploy` and `npm run check` run it
first), and `migrate` every one of them (`npm run d1:migrate:local` / `:remote`): each shard
holds the same tables, and a deployment that never sharded migrates `DB` alone, as before.

    python3 scripts/shards.py check [--config wrangler.toml]
    python3 scripts/shards.py migrate --remote [--config wrangler.toml]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from agent_sessions.mirror.shards import SHARDS_SETTING, TENANTS_SETTING, ShardMap, Shards  # noqa: E402


def shard_map(config: Path) -> ShardMap:
    """The config's shard map, checked against its `[[d1_databases]]`; ValueError says what
    is wrong, naming the setting or the binding."""
    parsed = tomllib.loads(config.read_text())
    variables = parsed.get("vars", {})
    shards = ShardMap.from_settings(variables.get(SHARDS_SETTING), variables.get(TENANTS_SETTING))
    bound = {d["binding"]: d for d in parsed.get("d1_databases", [])}
    Shards(shards, bound)  # refuses a binding the config does not have
    return shards


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/shards.py", description=__doc__)
    parser.add_argument("command", choices=["check", "migrate"])
    parser.add_argument("--config", type=Path, default=ROOT / "wrangler.toml")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true")
    where.add_argument("--remote", action="store_true")
    args = parser.parse_args(argv)
    try:
        shards = shard_map(args.config)
    except ValueError as exc:
        sys.exit(f"{args.config.name}: {exc}")
    if args.command == "check":
        print(f"{args.config.name}: D1 shards {', '.join(shards.bindings)}")
        return 0
    for binding in shards.bindings:
        command = ["npx", "wrangler", "d1", "migrations", "apply", binding, "-c", str(args.config)]
        command.append("--remote" if args.remote else "--local")
        done = subprocess.run(command, cwd=ROOT, check=False)
        if done.returncode:
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
