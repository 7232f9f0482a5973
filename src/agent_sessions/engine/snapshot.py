"""One session as a self-contained document: the export format, and the cold tier's snapshot.

JSON Lines: line 1 is {"format": "agent-sessions.v1", "session": {...}}, the session as the
API shows it plus its data blob; every further line is one entry, in seq order, as the API
shows it (seq, id, parent, content, payload, tokens, created_at). The cold tier stores the
same text gzipped (`compress`), which is also what `GET .../export?snapshot=true` returns, so
an archived session and an exported one are the same bytes. gzip's timestamp is fixed at 0:
the same session always compresses to the same bytes, which makes a repeated flush a no-op.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable
from typing import Any

from .errors import InvalidInput, Malformed, TooLarge

FORMAT = "agent-sessions.v1"
GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS
"""zlib's way of saying "a gzip header and trailer around the deflate stream"."""


def line(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n"


def header(session: dict[str, Any]) -> str:
    return line({"format": FORMAT, "session": session})


def encode(session: dict[str, Any], entries: Iterable[dict[str, Any]]) -> str:
    return header(session) + "".join(line(entry) for entry in entries)


def compress(text: str) -> bytes:
    return gzip.compress(text.encode(), mtime=0)


def decompress(body: bytes, limit: int | None = None) -> str:
    """The text of a gzipped document (every gzip member of it). With `limit`, inflation stops
    one byte past it and the document is refused: a small body may inflate a thousandfold."""
    inflated = bytearray()
    try:
        while body:
            member = zlib.decompressobj(wbits=_GZIP_WBITS)
            room = 0 if limit is None else limit + 1 - len(inflated)  # 0: no bound
            inflated += member.decompress(body, room)
            if limit is not None and len(inflated) > limit:
                raise TooLarge(
                    f"the document inflates to more than {limit} bytes", {"limit": limit}
                )
            if not member.eof:
                raise EOFError
            body = member.unused_data
        return inflated.decode("utf-8")
    except (EOFError, zlib.error, UnicodeDecodeError):
        raise Malformed("the body is not a gzipped agent-sessions snapshot") from None


def parse(text: str, max_entries: int | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(session, entries) of a document; refuses other formats, so a future v2 is never
    misread as v1, and (with `max_entries`) documents with more entries, before parsing them."""
    records = []
    for number, raw in enumerate(text.split("\n"), 1):  # not splitlines: U+2028 is text
        if not raw.strip():
            continue
        if max_entries is not None and len(records) > max_entries:
            raise TooLarge(
                f"the document holds more than {max_entries} entries", {"limit": max_entries}
            )
        try:
            records.append(json.loads(raw))
        except ValueError:
            raise Malformed(f"line {number} is not JSON", {"line": number}) from None
    if not records or not isinstance(records[0], dict) or records[0].get("format") != FORMAT:
        raise InvalidInput(f'the first line must be {{"format": "{FORMAT}", "session": {{...}}}}')
    session = records[0].get("session")
    if not isinstance(session, dict):
        raise InvalidInput("the first line has no session object")
    entries = records[1:]
    if not all(isinstance(e, dict) for e in entries):
        raise InvalidInput("every line after the first must be an entry object")
    return session, entries
