"""The `Transport` over the Worker's Durable Object namespace (`env.SESSIONS`): an operation
on a session is an RPC call of the method of the same name on that session's object, named
`{tenant}:{session}`, with the tenant and session id first (see worker/session_object.py).

`durable_object_answers` hands back the object's answer as it came, its JSON text envelope,
for the gateway's RPC methods, which forward it to their caller without reading it;
`durable_object_texts` the result's JSON text in it, which the HTTP API sends unread."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..engine import SessionKey
from ..service.sessions import TextTransport, Transport
from .rpc import result_text, to_python, unwrap

Answers = Callable[[SessionKey, str, tuple[Any, ...]], Awaitable[str]]
"""(key, operation name, positional arguments) -> the object's envelope, as JSON text."""


def durable_object_answers(namespace: Any) -> Answers:
    async def send(key: SessionKey, operation: str, args: tuple[Any, ...]) -> str:
        stub = namespace.getByName(key.object_name)
        return to_python(await getattr(stub, operation)(key.tenant_id, key.session_id, *args))

    return send


def durable_object_transport(namespace: Any) -> Transport:
    answers = durable_object_answers(namespace)

    async def send(key: SessionKey, operation: str, args: tuple[Any, ...]) -> Any:
        return unwrap(await answers(key, operation, args))

    return send


def durable_object_texts(namespace: Any) -> TextTransport:
    answers = durable_object_answers(namespace)

    async def send(key: SessionKey, operation: str, args: tuple[Any, ...]) -> str:
        return result_text(await answers(key, operation, args))

    return send
