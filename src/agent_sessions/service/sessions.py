"""The per-session operations as the use cases call them, wherever the session lives.

`Sessions` has one method per operation of engine/operations.py, made from the table: it
takes the session's key and the operation's arguments (by position or by the names the table
gives them, the engine's own parameter names) and hands them, in the table's order, to one
`Transport`, which decides where the operation runs: an engine over a local SQLite file, or
the session's Durable Object over RPC (adapters/do_namespace.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..engine import SessionKey
from ..engine.operations import OPERATIONS, Operation

Transport = Callable[[SessionKey, str, tuple[Any, ...]], Awaitable[Any]]
"""(key, operation name, positional arguments) -> the engine's JSON-able result."""


class Sessions:
    def __init__(self, transport: Transport) -> None:
        self._send = transport

    async def call(self, name: str, key: SessionKey, *args: Any, **named: Any) -> Any:
        operation = OPERATIONS[name]
        return await self._send(key, name, operation.bind(args, named))


def _method(operation: Operation) -> Callable[..., Awaitable[Any]]:
    async def method(self: Sessions, key: SessionKey, *args: Any, **named: Any) -> Any:
        return await self.call(operation.name, key, *args, **named)

    method.__name__ = method.__qualname__ = operation.name
    method.__doc__ = f"{operation.name}(key, {', '.join(operation.params)}): the engine's."
    return method


for _operation in OPERATIONS.values():
    setattr(Sessions, _operation.name, _method(_operation))
