"""The per-session operations as the use cases call them, wherever the session lives.

`Sessions` has one method per operation of engine/operations.py, made from the table: it
takes the session's key and the operation's arguments (by position or by the names the table
gives them, the engine's own parameter names) and hands them, in the table's order, to one
`Transport`, which decides where the operation runs: an engine over a local SQLite file, or
the session's Durable Object over RPC (adapters/do_namespace.py). `text` gives a result as
JSON text, for the HTTP API's largest answers: a Durable Object's own text, sent unread.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from ..engine import SessionKey
from ..engine.operations import OPERATIONS, Operation

Transport = Callable[[SessionKey, str, tuple[Any, ...]], Awaitable[Any]]
"""(key, operation name, positional arguments) -> the engine's JSON-able result."""
TextTransport = Callable[[SessionKey, str, tuple[Any, ...]], Awaitable[str]]
"""The same, the result as JSON text."""


class Sessions:
    def __init__(self, transport: Transport, texts: TextTransport | None = None) -> None:
        self._send = transport
        self._texts = texts

    async def call(self, name: str, key: SessionKey, *args: Any, **named: Any) -> Any:
        operation = OPERATIONS[name]
        return await self._send(key, name, operation.bind(args, named))

    async def text(self, name: str, key: SessionKey, *args: Any, **named: Any) -> str:
        """`call`'s result as JSON text: the transport's own where it has one (a Durable
        Object's answer, never parsed here), else the result encoded."""
        values = OPERATIONS[name].bind(args, named)
        if self._texts is not None:
            return await self._texts(key, name, values)
        result = await self._send(key, name, values)
        return json.dumps(result, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _method(operation: Operation) -> Callable[..., Awaitable[Any]]:
    async def method(self: Sessions, key: SessionKey, *args: Any, **named: Any) -> Any:
        return await self.call(operation.name, key, *args, **named)

    method.__name__ = method.__qualname__ = operation.name
    method.__doc__ = f"{operation.name}(key, {', '.join(operation.params)}): the engine's."
    return method


for _operation in OPERATIONS.values():
    setattr(Sessions, _operation.name, _method(_operation))
