"""Which session, and what time it is: the two things every operation starts from."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .values import check_id


def now_ms() -> int:
    """Milliseconds since the epoch. In workerd the clock stands still within one event."""
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class SessionKey:
    """Which session: the tenant is part of every key, so tenants can never meet."""

    tenant_id: str
    session_id: str

    def __post_init__(self) -> None:
        check_id(self.tenant_id, "tenant_id")
        check_id(self.session_id, "session_id")

    @property
    def params(self) -> tuple[str, str]:
        return (self.tenant_id, self.session_id)

    @property
    def object_name(self) -> str:
        """The Durable Object name; ids cannot contain ':', so the name is unambiguous."""
        return f"{self.tenant_id}:{self.session_id}"
