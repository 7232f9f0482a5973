"""The `Transport` over the Worker's Durable Object namespace (`env.SESSIONS`): an operation
on a session is an RPC call of the method of the same name on that session's object, named
`{tenant}:{session}`, with the tenant and session id first (see worker/session_object.py)."""

from __future__ import annotations

from typing import Any

from ..engine import SessionKey
from ..service.sessions import Transport
from .rpc import unwrap


def durable_object_transport(namespace: Any) -> Transport:
    async def send(key: SessionKey, operation: str, args: tuple[Any, ...]) -> Any:
        stub = namespace.getByName(key.object_name)
        return unwrap(await getattr(stub, operation)(key.tenant_id, key.session_id, *args))

    return send
