"""Export and import of one session, in the document format of `engine.snapshot`.

An import keeps the entries' ids, parents, content and timestamps and numbers them afresh
(see `SessionEngine.import_session`); it accepts the plain JSON Lines or the gzipped snapshot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..engine import SessionKey
from ..engine import snapshot as doc
from ..engine.depth import text_too_deep
from ..engine.errors import InvalidInput, Malformed, TooLarge
from ..engine.limits import (
    BODY_DEPTH,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ENTRIES,
    MAX_JSON_DEPTH,
)
from .sessions import Sessions

SESSION_FIELDS = (
    "user_id",
    "agent_name",
    "title",
    "metadata",
    "data",
    "expires_at",
    "status",
    "created_at",
)
ENTRY_FIELDS = (
    "id", "type", "role", "parent_id", "content", "payload",
    "input_tokens", "output_tokens", "created_at",
)  # fmt: skip


async def export_session(sessions: Sessions, key: SessionKey) -> str:
    """The whole export document, which the session's store builds in parts (one for most
    sessions: see EXPORT_PART_CHARS)."""
    first, rest = await export_parts(sessions, key)
    return first + "".join([part async for part in rest])


async def export_parts(sessions: Sessions, key: SessionKey) -> tuple[str, AsyncIterator[str]]:
    """The export's first part (so a missing session is refused before anything is sent),
    and the parts after it, fetched one at a time as they are consumed: a document of large
    entries is never held whole (the HTTP route streams it)."""
    part = await sessions.export_session(key, 0)

    async def rest(after: int | None) -> AsyncIterator[str]:
        while after is not None:
            more = await sessions.export_session(key, after)
            yield more["text"]
            after = more["next_after_seq"]

    return part["text"], rest(part["next_after_seq"])


def parse_import(body: bytes) -> tuple[str | None, dict[str, Any], list[dict[str, Any]]]:
    """(the exported id, the session's fields, the entries) of an export or a snapshot, within
    the import limits: the text (also once inflated) and the number of entries."""
    if body.startswith(doc.GZIP_MAGIC):
        text = doc.decompress(body, MAX_IMPORT_BYTES)
    else:
        if len(body) > MAX_IMPORT_BYTES:  # over RPC; HTTP bodies are smaller already
            raise TooLarge(
                f"the document is more than {MAX_IMPORT_BYTES} bytes", {"limit": MAX_IMPORT_BYTES}
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("the body is not UTF-8 text") from None
    if text_too_deep(text, BODY_DEPTH):
        raise InvalidInput(
            f"a line of the document nests deeper than {BODY_DEPTH} levels of arrays and "
            f"objects; a JSON value in it may nest at most {MAX_JSON_DEPTH}",
            {"limit": MAX_JSON_DEPTH},
        )
    session, entries = doc.parse(text, MAX_IMPORT_ENTRIES)
    fields = {f: session[f] for f in SESSION_FIELDS if f in session}
    if fields.get("status") == "archived":  # a snapshot from the archive: the copy is in use
        fields["status"] = "active"
    held = [e.get("id") for e in entries if e.get("blob") is not None]
    if held:
        raise InvalidInput(
            "entries of this document keep their large part in a blob store (a snapshot of "
            "the archive, or an export read with large=prefix): import a whole export",
            {"ids": held[:20]},
        )
    kept = [{f: e[f] for f in ENTRY_FIELDS if e.get(f) is not None} for e in entries]
    exported_id = session.get("id") if isinstance(session.get("id"), str) else None
    return exported_id, fields, kept
