"""Cross-session reads through D1's Sessions API: the freshness a caller asks for, and the
bookmark a read answers.

D1 serves a read from a read replica only inside a session (`db.withSession(...)`). A
session starts from a constraint, `first-unconstrained` (any copy, however far behind) or
`first-primary` (the primary: the latest D1 has), or from a bookmark a previous read or write
answered (a copy at least that fresh). After the read, `getBookmark()` says how fresh what it
read was; passing it to the next read keeps a caller's reads in order (never older than what
it already saw). Without anything asked, a read is unconstrained: the mirror is behind the
Durable Objects by its lag anyway, so the primary would not make a listing read its caller's
own writes; what does is the bookmark of the write that carried them to D1 (the session's
mirror status, once nothing is pending: host.py `mirror_status`).

A port that knows nothing of bookmarks (the local mirror file, where every read sees the
latest; a test's wrapper) reads as `query` does and answers no bookmark. The bookmark's shape
is checked wherever the API runs, so local mode refuses what the Worker would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

from ..engine.errors import InvalidInput
from ..engine.ports import Row, SqlValue
from .ports import MirrorPort

UNCONSTRAINED = "first-unconstrained"
PRIMARY = "first-primary"
CONSTRAINTS = (UNCONSTRAINED, PRIMARY)
"""What a caller may send instead of a bookmark (D1's own words for them)."""
HEADER = "x-d1-bookmark"
"""Where HTTP callers send a bookmark and find the one a read answers (Cloudflare's own
convention for it)."""
MAX_BOOKMARK_LENGTH = 256
"""A D1 bookmark is about 60 characters (four dash-separated hex parts)."""
BOOKMARK_PATTERN = rf"^([A-Za-z0-9][A-Za-z0-9._:-]{{0,{MAX_BOOKMARK_LENGTH - 1}}})?$"
"""A bookmark or a constraint; empty is allowed (it asks for nothing)."""
_BOOKMARK = re.compile(BOOKMARK_PATTERN)


class Read(NamedTuple):
    rows: list[Row]
    bookmark: str | None
    """How fresh the rows are, for the caller's next read; None: the port has no bookmarks."""


@runtime_checkable
class SessionReads(Protocol):
    """A port reading through D1's Sessions API (adapters/d1.py)."""

    async def read(self, sql: str, params: Sequence[SqlValue], bookmark: str | None) -> Read:
        """One read in a session started from `bookmark` (a constraint or a bookmark; None:
        unconstrained)."""
        ...

    def written(self) -> str | None:
        """The bookmark of the last batch this port applied (None: none applied yet)."""
        ...


def check_bookmark(value: Any) -> str | None:
    """A bookmark or a constraint as the caller gave it; None or "" (what a response without
    one hands back) ask for nothing. Checked before anything is read: a bad one is a 422."""
    if not isinstance(value, str | None) or not _BOOKMARK.fullmatch(value or ""):
        raise InvalidInput(
            f"bookmark must be one a read answered, or one of {list(CONSTRAINTS)} "
            f"(up to {MAX_BOOKMARK_LENGTH} letters, digits, '.', '_', ':' or '-')",
            {"field": "bookmark"},
        )
    return value or None


async def read(port: MirrorPort, sql: str, params: Sequence[SqlValue], bookmark: Any) -> Read:
    """The rows, read as fresh as `bookmark` asks (checked here), and the bookmark after."""
    asked = check_bookmark(bookmark)
    if isinstance(port, SessionReads):
        return await port.read(sql, params, asked)
    return Read(await port.query(sql, params), None)


def written(port: MirrorPort) -> str | None:
    """The bookmark of the last batch `port` applied, if it keeps bookmarks."""
    return port.written() if isinstance(port, SessionReads) else None
