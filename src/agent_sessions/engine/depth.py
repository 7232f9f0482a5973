"""How deeply JSON nests: one limit, MAX_JSON_DEPTH, for parsing, storing and answering.

Deep JSON was stored and then broke every read of it: Python's parser takes about 1,000 levels,
but the response encoder (pydantic-core) only 255 under CPython and 49 in WebAssembly (the
Worker). Neither check here recurses deeper than the limit itself, so both are safe on any
input, however deep.
"""

from __future__ import annotations

from typing import Any

from .limits import MAX_JSON_DEPTH

_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_SAME_BRACKETS = bytes.maketrans(b"{}", b"[]")


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `value` holds more than `limit` arrays and objects inside one another."""
    if isinstance(value, dict):
        children: Any = value.values()
    elif isinstance(value, list | tuple):
        children = value
    else:
        return False
    if limit == 0:
        return True
    return any(isinstance(c, dict | list | tuple) and too_deep(c, limit - 1) for c in children)


def text_too_deep(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests more than `limit` levels, found without parsing it (an 8 MiB
    body in well under a second, however it is built). Malformed text is left to the parser.

    Text with fewer brackets than the limit is answered at once. Otherwise strings are cut out
    (escaped backslashes and quotes first, so every quote left opens or closes one), then each
    pass removes the innermost bracket pairs, exactly one level, until a run of limit + 1
    opening brackets shows the text too deep, or nothing nested is left."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(unescaped.split(b'"')[::2]).translate(_SAME_BRACKETS, _NOT_BRACKET)
    run = b"[" * (limit + 1)
    for _ in range(limit):
        if run in brackets:
            return True
        if b"[]" not in brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return b"[]" in brackets
