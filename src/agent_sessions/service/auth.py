"""Bearer tokens and the tenants they stand for.

Tokens are configured as `token=tenant[:ro]` entries separated by commas or newlines: in the
Worker as the secret AGENT_SESSIONS_TOKENS (`wrangler secret put AGENT_SESSIONS_TOKENS`),
locally in the same variable or a file. A presented token is compared with every configured
one in constant time, and no token is ever logged or echoed in an error.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from ..engine.errors import Unauthorized
from ..engine.values import ID_PATTERN

TOKENS_VARIABLE = "AGENT_SESSIONS_TOKENS"
MIN_TOKEN_LENGTH = 16
_TENANT_RE = re.compile(ID_PATTERN)


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str
    read_only: bool = False


OPEN = Principal("default")
"""Who every caller is when auth is off (local mode with --no-auth only)."""


class TokenTable:
    """An empty table refuses every token: a Worker deployed without its secret is closed."""

    def __init__(self, entries: dict[str, Principal]) -> None:
        self._entries = [(token.encode(), principal) for token, principal in entries.items()]

    def __bool__(self) -> bool:
        return bool(self._entries)

    @classmethod
    def parse(cls, spec: str) -> TokenTable:
        """Parse `token=tenant[:ro],...`; errors name the entry's position, never the token."""
        entries: dict[str, Principal] = {}
        items = [item.strip() for item in re.split(r"[,\n]", spec)]
        for position, item in enumerate((i for i in items if i and not i.startswith("#")), 1):
            token, sep, rest = item.partition("=")
            tenant, _, scope = rest.partition(":")
            token, tenant, scope = token.strip(), tenant.strip(), scope.strip()
            if not sep or not _TENANT_RE.match(tenant) or scope not in ("", "ro", "rw"):
                raise ValueError(
                    f"token entry {position} must look like token=tenant or token=tenant:ro"
                )
            if len(token) < MIN_TOKEN_LENGTH:
                raise ValueError(
                    f"token entry {position} is shorter than {MIN_TOKEN_LENGTH} characters"
                )
            if token in entries:
                raise ValueError(f"token entry {position} repeats an earlier token")
            entries[token] = Principal(tenant, scope == "ro")
        if not entries:
            raise ValueError(f"{TOKENS_VARIABLE} holds no tokens")
        return cls(entries)

    def lookup(self, presented: str) -> Principal | None:
        """The principal of a presented token. Every entry is compared, match or not, so the
        time taken says nothing about which tokens exist."""
        candidate = presented.encode()
        found = None
        for token, principal in self._entries:
            if hmac.compare_digest(token, candidate):
                found = principal
        return found


def authenticate(tokens: TokenTable | None, authorization: str) -> Principal:
    """Who presents `authorization` (an Authorization header's value, "" when absent); no
    table (`None`) is auth turned off. Unauthorized, saying what to send, when nobody."""
    if tokens is None:
        return OPEN
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send Authorization: Bearer <token>")
    if not tokens:
        raise Unauthorized("this service has no tokens configured (AGENT_SESSIONS_TOKENS)")
    principal = tokens.lookup(token.strip())
    if principal is None:
        raise Unauthorized("the token is not valid")
    return principal
