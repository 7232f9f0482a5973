"""Command line: `agent-sessions serve` (also `python -m agent_sessions serve`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .engine.lifecycle import Lifecycle
from .mirror.shards import SHARDS_SETTING, TENANTS_SETTING, ShardMap
from .mirror.timing import SETTING as DRAIN_DELAY
from .mirror.timing import DrainTiming
from .service.auth import TOKENS_VARIABLE, TokenTable

TOKENS_HELP = f"""Tokens: set {TOKENS_VARIABLE} (or --tokens-file) to entries 'token=tenant' or
'token=tenant:ro' (read-only), separated by commas or newlines; tokens are at least 16
characters. Or pass --no-auth for a single-user local setup (tenant 'default')."""


SETTINGS = (
    ("--ttl-seconds", "SESSION_TTL_SECONDS", "default lifetime of a new session (expires_at)"),
    ("--idle-timeout-seconds", "IDLE_TIMEOUT_SECONDS",
     "mark active sessions idle this long abandoned"),
    ("--archive-after-seconds", "ARCHIVE_AFTER_SECONDS",
     "move sessions idle this long to the archive (<data-dir>/archive)"),
    ("--d1-shards", SHARDS_SETTING,
     'the mirror\'s databases, a JSON list of binding names (default ["DB"]), a file each in '
     "<data-dir>: d1.sqlite for DB, d1-<NAME>.sqlite for the others"),
    ("--tenant-shards", TENANTS_SETTING,
     'tenants placed explicitly, a JSON object {"tenant": "BINDING"}; the others are hashed '
     "over the bindings no tenant was given"),
    ("--mirror-drain-delay-ms", DRAIN_DELAY,
     "0 (default): a write drains to the mirror at once; N: N ms later, so that a burst of "
     "writes to a session is one batch"),
)  # fmt: skip
"""The flags that take a Worker setting (its `[vars]`), which is also their default."""


def tokens_from(args: argparse.Namespace) -> TokenTable | None:
    """The token table, or None for --no-auth; exits with a clear message when unusable."""
    if args.no_auth:
        return None
    spec = (
        Path(args.tokens_file).read_text() if args.tokens_file else os.environ.get(TOKENS_VARIABLE)
    )
    if not spec:
        sys.exit(f"agent-sessions: no tokens configured.\n{TOKENS_HELP}")
    try:
        return TokenTable.parse(spec)
    except ValueError as exc:
        sys.exit(f"agent-sessions: {exc}.\n{TOKENS_HELP}")


def _settings_flags(parser: argparse.ArgumentParser, only: tuple[str, ...] = ()) -> None:
    for flag, variable, text in SETTINGS:
        if not only or variable in only:
            help_text = f"{text}; env {variable}"
            parser.add_argument(flag, default=os.environ.get(variable), help=help_text)


def _move(args: argparse.Namespace) -> int:
    """`move-tenant` and `clear-tenant` (local/moving.py); a refusal exits with its message."""
    from .engine import SessionError  # noqa: PLC0415 - as main's imports, for these commands
    from .local import moving  # noqa: PLC0415
    from .local.store import LocalStore  # noqa: PLC0415

    try:
        shard_map = ShardMap.from_settings(args.d1_shards, args.tenant_shards)
        store = LocalStore(args.data_dir, shard_map=shard_map)
    except (ValueError, OSError, SessionError) as exc:
        sys.exit(f"agent-sessions: {exc}")
    try:
        if args.command == "move-tenant":
            done = asyncio.run(moving.move_tenant(store, args.tenant))
        else:
            done = asyncio.run(moving.clear_moved(store, args.tenant, args.binding))
    except SessionError as exc:
        sys.exit(f"agent-sessions: {exc.message}")
    finally:
        store.close()
    print(json.dumps(done))
    return 1 if done.get("behind") else 0


def main(argv: Sequence[str] | None = None) -> int:
    from .local import server  # noqa: PLC0415 - FastAPI and the rest: for the one command

    parser = argparse.ArgumentParser(prog="agent-sessions", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API locally", epilog=TOKENS_HELP)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument("--data-dir", default="./data", help="where session files live")
    serve.add_argument("--tokens-file", help=f"a file of tokens, instead of ${TOKENS_VARIABLE}")
    serve.add_argument("--no-auth", action="store_true", help="no tokens: everyone is 'default'")
    _settings_flags(serve)
    serve.add_argument(
        "--body-timeout-seconds",
        type=float,
        default=server.BODY_TIMEOUT_S,
        help="answer 408 to a request whose body has not arrived this long after it began",
    )
    moving = {
        "move-tenant": "copy a tenant being moved (TENANT_SHARDS {from, to}) into its new "
        "mirror file and check it, with the server stopped",
        "clear-tenant": "remove a moved tenant's rows from the mirror file it left",
    }
    for name, text in moving.items():
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("tenant")
        if name == "clear-tenant":
            command.add_argument("binding", help="the D1 binding the tenant left, e.g. DB")
        command.add_argument("--data-dir", default="./data", help="where session files live")
        _settings_flags(command, (SHARDS_SETTING, TENANTS_SETTING))
    args = parser.parse_args(argv)
    if args.command in moving:
        return _move(args)
    if args.command == "serve":
        try:
            lifecycle = Lifecycle.from_settings(
                args.ttl_seconds, args.idle_timeout_seconds, args.archive_after_seconds
            )
            shard_map = ShardMap.from_settings(args.d1_shards, args.tenant_shards)
            timing = DrainTiming.from_setting(args.mirror_drain_delay_ms)
        except ValueError as exc:
            sys.exit(f"agent-sessions: {exc}")
        if args.body_timeout_seconds <= 0:
            sys.exit("agent-sessions: --body-timeout-seconds must be more than 0")
        tokens = tokens_from(args)
        timeout = args.body_timeout_seconds
        server.serve(
            args.host, args.port, args.data_dir, tokens, lifecycle, timeout, shard_map, timing
        )
    return 0
