"""Full-text search over entry content, in D1 (locally, the mirror file).

D1 keeps an FTS5 index of `session_entries.content` (schema.sql's d1 section), so search
follows the mirror like listings do. The caller's words become quoted FTS5 terms, all of
which must match (in any order): FTS5's query syntax never reaches the index from user input,
and every value is bound. Like a listing, the read is as fresh as `bookmark` asks
(mirror/reads.py), and the answer says the bookmark after it.
"""

from __future__ import annotations

from typing import Any

from ..engine import InvalidInput
from ..engine.values import check_count, check_text
from ..mirror.ports import MirrorPort
from ..mirror.queries import SEARCH_ENTRIES
from ..mirror.reads import CONSTRAINTS, check_bookmark, read

MAX_HITS = 100


def match_expression(text: Any) -> str | None:
    """Quoted terms for FTS5, or None when `text` has no words (it then finds nothing).
    A NUL would end a quoted term early inside SQLite (found by the fuzzer): a separator."""
    words = (check_text(text, "q") or "").replace("\x00", " ").split()
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


async def search_entries(
    index: MirrorPort, tenant: str, query: Any, limit: Any, bookmark: Any = None
) -> dict[str, Any]:
    if not 1 <= check_count(limit, "limit") <= MAX_HITS:
        raise InvalidInput(f"limit must be from 1 to {MAX_HITS}", {"field": "limit"})
    bookmark = check_bookmark(bookmark)
    expression = match_expression(query)
    if expression is None:  # nothing read: the caller's bookmark is still as fresh as it was
        return {"hits": [], "bookmark": None if bookmark in CONSTRAINTS else bookmark}
    rows, after = await read(index, SEARCH_ENTRIES, (expression, tenant, limit), bookmark)
    return {"hits": [dict(r) for r in rows], "bookmark": after}
