"""Turn schema.sql into the engine's DDL module.

Why generated: a Python Worker's bundle carries Python modules, not arbitrary data files,
so the Durable Object cannot read schema.sql at run time. The generated module is committed
and `--check` (run by the tests) fails when it has drifted from schema.sql.

D1 migrations are not generated: an applied migration must never change. tests/test_schema.py
proves instead that migrations/ applied in order gives D1 the same shared tables.

Usage: python scripts/sync_schema.py [--check]
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema.sql"
MODULE = ROOT / "src" / "agent_sessions" / "engine" / "ddl.py"
SECTIONS = ("shared", "do", "d1")
_SECTION_RE = re.compile(r"^-- @(section (\w+)|upgrade (\d+)( d1| do)?)\s*$")
_ADD_COLUMN_RE = re.compile(r"^ALTER TABLE (\w+) ADD COLUMN (\w+)\b")
SCOPES = {"": "all", " d1": "d1", " do": "do"}
"""An upgrade's scope: every store, D1 (and local mirror files) only, or Durable Objects (and
local session files) only."""


def _statements(lines: list[str]) -> list[str]:
    """Whole statements (a trigger's body keeps its inner ';'), each on one line."""
    statements: list[str] = []
    pending: list[str] = []
    for line in lines:
        pending.append(line)
        text = "\n".join(pending)
        if sqlite3.complete_statement(text):
            statements.append(" ".join(text.split()).removesuffix(";").rstrip())
            pending = []
    if "".join(pending).strip():
        raise SystemExit(f"schema: an unterminated statement: {' '.join(pending)[:80]}")
    return statements


def split_sections(text: str) -> dict[str, list[str]]:
    """Return each section's statements, comments stripped, in file order. Upgrade sections
    are named "upgrade N", "upgrade N d1" or "upgrade N do" (see SCOPES) and must be numbered
    2, 3, ... in order."""
    lines: dict[str, list[str]] = {name: [] for name in SECTIONS}
    current: str | None = None
    for line in text.splitlines():
        match = _SECTION_RE.match(line)
        if match:
            current = match.group(2) or f"upgrade {match.group(3)}{match.group(4) or ''}"
            upgrades = sum(1 for name in lines if name.startswith("upgrade "))
            if match.group(3) is not None and int(match.group(3)) == upgrades + 2:
                lines[current] = []
            elif current not in lines:
                raise SystemExit(f"schema.sql: unknown or out-of-order section {current!r}")
            continue
        if current is None or line.lstrip().startswith("--"):
            continue
        lines[current].append(line.rstrip())
    return {name: _statements(body) for name, body in lines.items()}


def split_statements(text: str) -> list[str]:
    """A migration file's statements, normalised as split_sections normalises them."""
    return _statements([line for line in text.splitlines() if not line.lstrip().startswith("--")])


def table_columns(statements: list[str], table: str) -> tuple[str, ...]:
    db = sqlite3.connect(":memory:")
    for statement in statements:
        db.execute(statement)
    return tuple(row[1] for row in db.execute(f"PRAGMA table_info({table})"))


def render(text: str) -> str:
    sections = split_sections(text)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    out = [
        '"""Generated from schema.sql by scripts/sync_schema.py. Do not edit by hand."""',
        "",
        f'SCHEMA_DIGEST = "{digest}"',
        "",
    ]
    for name in SECTIONS:
        out.append(f"{name.upper()}_STATEMENTS: tuple[str, ...] = (")
        out.extend(f"    {stmt!r}," for stmt in sections[name])
        out.append(")")
        out.append("")
    upgrades = [
        (
            int(name.split()[1]),
            SCOPES[name.removeprefix(f"upgrade {name.split()[1]}")],
            sections[name],
        )
        for name in sections
        if name.startswith("upgrade ")
    ]
    out.append(f"SCHEMA_VERSION = {len(upgrades) + 1}")
    out.append(
        '"""Upgrades: (version, scope ("all", "d1" or "do"), the statements that bring\n'
        "version - 1 to it, the (table, column) pairs they add: an upgrade whose columns a store\n"
        'already has was applied there before, and is skipped)."""'
    )
    out.append(
        "UPGRADES: tuple[tuple[int, str, tuple[str, ...], tuple[tuple[str, str], ...]], ...] = ("
    )
    for version, scope, statements in upgrades:
        added = [m.groups() for m in map(_ADD_COLUMN_RE.match, statements) if m]
        out.append(f"    ({version}, {scope!r}, (")
        out.extend(f"        {stmt!r}," for stmt in statements)
        out.append(f"    ), {tuple(added)!r}),")
    out.append(")")
    out.append("")
    for const, table in (("SESSION_COLUMNS", "sessions"), ("ENTRY_COLUMNS", "session_entries")):
        columns = table_columns(sections["shared"], table)
        out.append(f"{const}: tuple[str, ...] = (")
        out.extend(f"    {c!r}," for c in columns)
        out.append(")")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    from generated import main

    sys.exit(main(MODULE, lambda: render(SCHEMA.read_text()), __doc__))
