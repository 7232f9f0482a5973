"""The gateway Worker (`Default`): HTTP through the SDK's ASGI bridge, routed to the DOs.

FastAPI is imported on the first HTTP request, not at module import, so RPC traffic that
only reaches the Durable Object never pays its start-up cost.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from workers import WorkerEntrypoint

from ..adapters.d1 import D1Mirror
from ..api.auth import TOKENS_VARIABLE, TokenTable
from ..api.services import Services
from ..api.sessions import Sessions
from ..engine import SessionKey
from .boundary import unwrap


def durable_object_transport(env: Any) -> Any:
    """A `Transport` that calls the session's Durable Object, named `{tenant}:{session}`."""

    async def send(key: SessionKey, operation: str, args: tuple[Any, ...]) -> dict[str, Any]:
        stub = env.SESSIONS.getByName(key.object_name)
        return unwrap(await getattr(stub, operation)(key.tenant_id, key.session_id, *args))

    return send


@cache
def tokens_of(spec: str | None) -> TokenTable:
    """The Worker's tokens, parsed once per distinct secret. No secret: nobody gets in."""
    return TokenTable.parse(spec) if spec else TokenTable({})


def services_of(env: Any) -> Services:
    return Services(
        Sessions(durable_object_transport(env)),
        D1Mirror(env.DB),
        tokens_of(getattr(env, TOKENS_VARIABLE, None) or None),
    )


@cache
def http_app() -> Any:
    from ..api.app import create_app  # noqa: PLC0415 - heavy; see the module docstring

    return create_app(lambda request: services_of(request.scope["env"]))


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Any:
        from workers import asgi  # noqa: PLC0415 - the SDK's ASGI bridge

        return await asgi.fetch(http_app(), request, self.env, self.ctx)
