"""A typed Python client for the agent-sessions HTTP API.

`Client` blocks (urllib, standard library only); `AsyncClient` awaits. Both have the same
methods, written once in `Operations`, and return the API's pydantic models. Errors come back
as the same exceptions the engine raises (`NotFound`, `VersionConflict`, ...), each with the
HTTP `status`. Safe requests are retried on 429/5xx and connection failures with jittered
backoff; a POST or PATCH only on 429 and 503, which mean the server did not act on it.

Inside a Python Worker, use `AsyncClient`: it sends through `fetch`, or through a service
binding's `fetch` when given one (`AsyncClient("https://sessions", token, fetcher=env.API)`).
"""

from .api import AsyncClient, Client, Operations
from .transport import ApiError

__all__ = ["ApiError", "AsyncClient", "Client", "Operations"]
