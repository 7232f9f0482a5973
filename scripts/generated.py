"""The one way generated files are written or checked (schema DDL, TypeScript types): a
generator renders the file's wanted text, and `--check` (what the tests run) fails when the
committed file differs from it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(target: Path, render: Callable[[], str], description: str | None) -> int:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args()
    wanted = render()
    name = target.relative_to(ROOT)
    if args.check:
        if not target.exists() or target.read_text() != wanted:
            print(f"{name} is stale: regenerate it (see its generator's --help)")
            return 1
        return 0
    target.write_text(wanted)
    print(f"wrote {name}")
    return 0
