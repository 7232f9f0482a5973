"""Command line: `agent-sessions serve` (also `python -m agent_sessions serve`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agent-sessions", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API locally")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument("--data-dir", default="./data", help="where session files live")
    args = parser.parse_args(argv)
    if args.command == "serve":
        from .local.server import serve as run  # noqa: PLC0415

        run(args.host, args.port, args.data_dir)
    return 0
