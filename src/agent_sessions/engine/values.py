"""Checking and encoding values before they are bound.

The runtime binds every Python number as a REAL, so nothing numeric may reach a TEXT column:
JSON goes in as text produced here, ids must already be strings, and counters must be real
ints (a bool is refused: the Durable Object would store it as the text 'true').
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

from .depth import text_too_deep, too_deep
from .errors import InvalidInput, TooLarge
from .limits import MAX_ID_LENGTH, MAX_JSON_DEPTH, MAX_TEXT_FIELD

ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_ID_LENGTH - 1}}}$"
_ID_RE = re.compile(ID_PATTERN)
MAX_SAFE_INT = 2**52
"""The largest integer the engine binds. Measured (tests/runtime/conformance.json): Pyodide
hands 2**52 + 1 to JavaScript as a number but 2**53 - 1 already as a BigInt, which the DO and
D1 refuse to bind."""


def new_id() -> str:
    """32 hex digits: the time in milliseconds, then 80 random bits. Time-ordered, so new
    entries' ids land at the end of the id index instead of on a random page of it: an append
    then rewrites the same index page however long the history (measured in bench/).
    The random bits are drawn per call: workerd refuses entropy at import (the top level is
    what the deploy-time snapshot captures), so no generator may be seeded at module level."""
    return f"{int(time.time() * 1000):012x}{secrets.randbits(80):020x}"


def check_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise InvalidInput(
            f"{field} must be 1-{MAX_ID_LENGTH} characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            {"field": field},
        )
    return value


def check_text(value: Any, field: str, limit: int | None = MAX_TEXT_FIELD) -> str | None:
    """A short optional string; `limit=None` leaves the size to `check_size` (a 413, not a 422)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", {"field": field})
    if not value.isascii():
        _utf8(value, field)
    if limit is not None and len(value) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", {"field": field})
    return value


def check_count(value: Any, field: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SAFE_INT:
        raise InvalidInput(f"{field} must be an integer from 0 to 2**52", {"field": field})
    return value


def check_optional_int(value: Any, field: str) -> int | None:
    return None if value is None else check_count(value, field)


def encode_json(value: Any, field: str, limit: int) -> str:
    """Compact JSON text of `value`, refused if it is not JSON, nests deeper than
    MAX_JSON_DEPTH or is larger than `limit` bytes."""
    if too_deep(value):
        raise InvalidInput(
            f"{field} nests deeper than {MAX_JSON_DEPTH} levels of arrays and objects",
            {"field": field, "limit": MAX_JSON_DEPTH},
        )
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} is not JSON-serialisable: {exc}", {"field": field}) from None
    check_size(text, field, limit)
    return text


def _utf8(text: str, field: str) -> bytes:
    """JSON may carry a lone surrogate ("\\ud800"), which no UTF-8 store can hold."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{field} is not valid Unicode text (it holds a lone surrogate)", {"field": field}
        ) from None


def check_size(text: str, field: str, limit: int) -> int:
    size = len(_utf8(text, field))
    if size > limit:
        raise TooLarge(
            f"{field} is {size} bytes; the limit is {limit}", {"field": field, "limit": limit}
        )
    return size


def decode_json(text: str | None, what: str) -> Any:
    """A stored JSON value. One deeper than MAX_JSON_DEPTH was stored before that limit
    existed, and no answer could carry it: a 422 that names it, so it can be rewritten."""
    if text is None:
        return None
    if text_too_deep(text):
        raise InvalidInput(
            f"{what} nests deeper than {MAX_JSON_DEPTH} levels (it was stored before that "
            "limit existed): rewrite it to read it",
            {"limit": MAX_JSON_DEPTH},
        )
    return json.loads(text)
