"""The lifecycle policy: how long sessions live, and when a quiet one counts as abandoned.

Both rules are applied by `SessionEngine.sweep`, which the Durable Object's alarm (and local
mode's alarm loop) runs. They come from configuration: the Worker's vars
SESSION_TTL_SECONDS, IDLE_TIMEOUT_SECONDS and ARCHIVE_AFTER_SECONDS, or the local server's
flags of the same meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_SECONDS = 100 * 365 * 24 * 3600
"""A century: longer settings are surely a unit mistake (milliseconds given as seconds)."""


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """`ttl_ms`: a new session's default `expires_at` is its creation time plus this; a
    session's own `expires_at` (or an explicit null, for never) wins. `idle_timeout_ms`: an
    active session whose `updated_at` is older than this is marked abandoned. None: off."""

    ttl_ms: int | None = None
    idle_timeout_ms: int | None = None
    archive_after_ms: int | None = None
    """With an archive configured: a session untouched this long moves to the cold tier."""

    @classmethod
    def from_settings(
        cls, ttl_seconds: Any = None, idle_seconds: Any = None, archive_seconds: Any = None
    ) -> Lifecycle:
        """Parse configuration values (strings from env vars, or numbers from TOML vars);
        empty means off. A bad value raises ValueError naming the setting."""
        return cls(
            ttl_ms=_millis(ttl_seconds, "SESSION_TTL_SECONDS"),
            idle_timeout_ms=_millis(idle_seconds, "IDLE_TIMEOUT_SECONDS"),
            archive_after_ms=_millis(archive_seconds, "ARCHIVE_AFTER_SECONDS"),
        )


def _millis(value: Any, name: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}") from None
    if not 0 < seconds <= MAX_SECONDS or seconds != int(seconds):
        raise ValueError(f"{name} must be a whole number of seconds from 1 to {MAX_SECONDS}")
    return int(seconds) * 1000


NO_LIFECYCLE = Lifecycle()
"""Sessions live until deleted, and nothing is marked abandoned: the default."""
