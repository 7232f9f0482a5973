"""What a request needs, wherever the API runs: the sessions, the cross-session index, and the
tokens. The Worker builds it from `env` per request; local mode builds it once."""

from __future__ import annotations

from dataclasses import dataclass

from ..mirror.shards import Shards
from .auth import TokenTable
from .sessions import Sessions


@dataclass(frozen=True)
class Services:
    sessions: Sessions
    index: Shards
    """D1 (or the local mirror files), by tenant: listings are cross-session reads, so they
    use SQL on the tenant's database instead of fanning out to Durable Objects."""
    tokens: TokenTable | None
    """None: auth is off (local mode with --no-auth only)."""
