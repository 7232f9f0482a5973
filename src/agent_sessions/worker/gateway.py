"""The gateway Worker (`Default`): HTTP through the SDK's ASGI bridge, routed to the DOs.

FastAPI is imported on the first HTTP request, not at module import, so RPC traffic that
only reaches the Durable Object never pays its start-up cost.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from workers import WorkerEntrypoint

from ..engine import SessionKey
from .boundary import unwrap


def durable_object_transport(env: Any) -> Any:
    """A `Transport` that calls the session's Durable Object, named `{tenant}:{session}`."""

    async def send(key: SessionKey, operation: str, args: tuple[Any, ...]) -> dict[str, Any]:
        stub = env.SESSIONS.getByName(key.object_name)
        return unwrap(await getattr(stub, operation)(key.tenant_id, key.session_id, *args))

    return send


@cache
def http_app() -> Any:
    from ..api.app import create_app  # noqa: PLC0415 - heavy; see the module docstring
    from ..api.sessions import Sessions  # noqa: PLC0415

    return create_app(lambda request: Sessions(durable_object_transport(request.scope["env"])))


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Any:
        from workers import asgi  # noqa: PLC0415 - the SDK's ASGI bridge

        return await asgi.fetch(http_app(), request, self.env, self.ctx)
