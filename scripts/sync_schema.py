"""Turn schema.sql and migrations/ into the engine's DDL module.

schema.sql is the current layout, runnable as is; migrations/000N_*.sql are the upgrades, the
one place each is written. A migration's first line says where it applies:

  -- applies to: shared   D1 (wrangler runs the file) and every Durable Object and local file;
  -- applies to: d1       D1 and the local D1 file only;
  -- applies to: do       Durable Objects and local session files only.

wrangler applies every file in migrations/ to D1, so a "do" file holds no statement D1 would
run: its statements are inside one comment block opened by "/* do:" (D1 skips it as any
comment), and this script reads them from there.

Why generated: a Python Worker's bundle carries Python modules, not arbitrary data files,
so the Durable Object cannot read these files at run time. The generated module is committed
and `--check` (run by the tests) fails when it has drifted from them.

Usage: python scripts/sync_schema.py [--check]
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema.sql"
MIGRATIONS = ROOT / "migrations"
MODULE = ROOT / "src" / "agent_sessions" / "engine" / "ddl.py"
SECTIONS = ("shared", "do", "d1")
SCOPES = ("shared", "d1", "do")
DO_BLOCK = "/* do:"
"""Opens the comment block that holds a "do" migration's statements."""

_SECTION_RE = re.compile(r"^-- @section (\w+)\s*$", re.M)
_MARKER_RE = re.compile(r"-- applies to: (\w+)")
_NAME_RE = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
_ADD_COLUMN_RE = re.compile(r"^ALTER TABLE (\w+) ADD COLUMN (\w+)\b")
_RENAME_RE = re.compile(r"^ALTER TABLE \w+ RENAME TO (\w+)\b")
_DROP_RE = re.compile(r"^DROP TABLE (?:IF EXISTS )?(\w+)\b")
_TOKEN_RE = re.compile(
    r"""(?P<literal>'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\])
    |(?P<comment>--[^\n]*|/\*.*?\*/)
    |(?P<space>\s+)
    |(?P<word>\w+)
    |(?P<open>['"`\[]|/\*)
    |(?P<other>.)""",
    re.S | re.X,
)
"""SQL's tokens as far as this script cares: a quoted string or name (kept as it is), a
comment, whitespace, a word, an unterminated quote or comment (refused), any other character."""


def _tokens(sql: str) -> list[tuple[str, str]]:
    tokens = []
    for match in _TOKEN_RE.finditer(sql):
        kind = match.lastgroup
        assert kind is not None
        if kind == "open":
            raise SystemExit(
                f"schema: an unterminated quote or comment: {sql[match.start() :][:80]}"
            )
        tokens.append((kind, match.group()))
    return tokens


def _collapse(tokens: list[tuple[str, str]]) -> str:
    """The statement's text with comments dropped and each run of whitespace one space."""
    out: list[str] = []
    for kind, text in tokens:
        if kind in ("space", "comment"):
            if out and out[-1] != " ":
                out.append(" ")
        else:
            out.append(text)
    return "".join(out).strip()


def statements(sql: str) -> list[str]:
    """Whole statements (a trigger's body keeps its inner ';'), comments dropped, each on one
    line, without their ';'."""
    found: list[str] = []
    pending: list[tuple[str, str]] = []
    for token in _tokens(sql):
        pending.append(token)
        if token == ("other", ";") and sqlite3.complete_statement("".join(t for _, t in pending)):
            text = _collapse(pending[:-1])
            if text:
                found.append(text)
            pending = []
    if _collapse(pending):
        raise SystemExit(f"schema: an unterminated statement: {_collapse(pending)[:80]}")
    return found


def canonical(statement: str) -> str:
    """What the digest covers: the statement's tokens, one space apart. Comments and
    whitespace (even between a name and a parenthesis) do not count."""
    return " ".join(
        part
        for kind, text in _tokens(statement)
        if kind not in ("space", "comment")
        for part in ([text] if kind == "literal" else re.findall(r"\w+|\S", text))
    )


def split_sections(text: str) -> dict[str, list[str]]:
    """schema.sql's statements by section (see SECTIONS), comments dropped, in file order."""
    parts = _SECTION_RE.split(text)
    if statements(parts[0]):
        raise SystemExit("schema.sql: statements before the first '-- @section' line")
    sections: dict[str, list[str]] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name not in SECTIONS or name in sections:
            raise SystemExit(f"schema.sql: unknown or repeated section {name!r}")
        sections[name] = statements(body)
    if tuple(sections) != SECTIONS:
        raise SystemExit(f"schema.sql: the sections must be {', '.join(SECTIONS)}, in that order")
    return sections


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    """The file's name, which wrangler records in d1_migrations as applied."""
    scope: str
    statements: tuple[str, ...]
    """For "shared" and "d1": what D1 runs. For "do": what Durable Objects run (D1 runs none)."""

    @property
    def added(self) -> tuple[tuple[str, str], ...]:
        """What it leaves behind that a store shows: the (table, column) pairs it adds, and
        (table, "") for a new name it gives a table (not a rebuild, which drops the old table
        of that name first). A store that shows them applied it before."""
        columns = [m.groups() for m in map(_ADD_COLUMN_RE.match, self.statements) if m]
        dropped = {m.group(1) for m in map(_DROP_RE.match, self.statements) if m}
        renamed = [m.group(1) for m in map(_RENAME_RE.match, self.statements) if m]
        return tuple(columns + [(table, "") for table in renamed if table not in dropped])


def read_migration(name: str, text: str) -> Migration:
    """One migration file, checked: its name, its marker, and statements where its scope
    puts them."""
    named = _NAME_RE.fullmatch(name)
    marker = _MARKER_RE.fullmatch(text.split("\n", 1)[0])
    if not named:
        raise SystemExit(f"migrations/{name}: not named NNNN_words.sql")
    if not marker or marker.group(1) not in SCOPES:
        raise SystemExit(f"migrations/{name}: the first line must be '-- applies to: shared|d1|do'")
    scope = marker.group(1)
    blocks = [t for kind, t in _tokens(text) if kind == "comment" and t.startswith(DO_BLOCK)]
    for_d1 = statements(text)
    if scope == "do":
        if for_d1:
            raise SystemExit(f"migrations/{name}: D1 would run {for_d1[0][:60]!r}")
        if len(blocks) != 1:
            raise SystemExit(f"migrations/{name}: a 'do' migration has one '{DO_BLOCK}' block")
        found = statements(blocks[0].removeprefix(DO_BLOCK).removesuffix("*/"))
    else:
        if blocks:
            raise SystemExit(f"migrations/{name}: a '{DO_BLOCK}' block in a {scope!r} migration")
        found = for_d1
    if not found:
        raise SystemExit(f"migrations/{name}: no statement")
    return Migration(int(named.group(1)), name, scope, tuple(found))


def read_migrations(folder: Path = MIGRATIONS) -> list[Migration]:
    """The migrations, numbered 1, 2, ... without a gap (wrangler orders them by number)."""
    migrations = [read_migration(p.name, p.read_text()) for p in folder.glob("*.sql")]
    migrations.sort(key=lambda m: m.version)
    numbers = [m.version for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise SystemExit(f"migrations/: numbered {numbers}, not 1, 2, ... without a gap")
    return migrations


def table_columns(statements: list[str], table: str) -> tuple[str, ...]:
    db = sqlite3.connect(":memory:")
    for statement in statements:
        db.execute(statement)
    return tuple(row[1] for row in db.execute(f"PRAGMA table_info({table})"))


def digest(sections: dict[str, list[str]], migrations: list[Migration]) -> str:
    """Of what a store runs, normalised (see canonical): the layout, and each migration's
    version, scope and statements. A comment or a reindented line changes nothing."""
    covered = {
        "layout": {name: [canonical(s) for s in body] for name, body in sections.items()},
        "migrations": [
            [m.version, m.scope, [canonical(s) for s in m.statements]] for m in migrations
        ],
    }
    return hashlib.sha256(json.dumps(covered, sort_keys=True).encode()).hexdigest()[:16]


def render(schema: str, migrations: list[Migration]) -> str:
    sections = split_sections(schema)
    out = [
        '"""Generated from schema.sql and migrations/ by scripts/sync_schema.py. Do not edit by',
        'hand."""',
        "",
        f'SCHEMA_DIGEST = "{digest(sections, migrations)}"',
        '"""Of the statements below, normalised: a comment or whitespace changes nothing."""',
        "",
    ]
    for name in SECTIONS:
        out.append(f"{name.upper()}_STATEMENTS: tuple[str, ...] = (")
        out.extend(f"    {stmt!r}," for stmt in sections[name])
        out.append(")")
        out.append("")
    out.append(f"SCHEMA_VERSION = {migrations[-1].version}")
    out.append('"""The number of the last migration."""')
    out.append(
        "MIGRATIONS: tuple[\n"
        "    tuple[int, str, str, tuple[str, ...], tuple[tuple[str, str], ...]], ...\n"
        "] = ("
    )
    for m in migrations:
        out.append(f"    ({m.version}, {m.name!r}, {m.scope!r}, (")
        out.extend(f"        {stmt!r}," for stmt in m.statements)
        out.append(f"    ), {m.added!r}),")
    out.append(")")
    out.append(
        '"""migrations/, in order: (version, file name (what d1_migrations records), where it\n'
        'applies ("shared", "d1" or "do"), its statements, the (table, column) pairs they add:\n'
        'an upgrade whose columns a store already has was applied there before, and is skipped)."""'
    )
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

    sys.exit(main(MODULE, lambda: render(SCHEMA.read_text(), read_migrations()), __doc__))
