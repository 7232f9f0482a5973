"""When a write's mirror work leaves for D1: at once, or after a short window.

At once (the default, MIRROR_DRAIN_DELAY_MS empty or 0) a write drains in the background
right away (the Durable Object FAST_PATH_WINDOW_MS later, with the writes in between: see
mirror/limits.py) and its alarm waits 2 s behind as the safety net: D1 has the turn one
batch round trip later, at about two D1 statements and one batch per write or burst. With a
delay of N ms a write only sets the alarm N ms ahead (or leaves an earlier one), so every
write of a burst on the session within the window (an agent's tool call, its result, the
answer) drains in the same alarm, as one batch: fewer D1 statements and batches, for N ms
more lag. Both Worker shells (the Durable Object, local mode) ask this one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .limits import FAST_PATH_DELAY_MS, MAX_DRAIN_DELAY_MS

SETTING = "MIRROR_DRAIN_DELAY_MS"


@dataclass(frozen=True, slots=True)
class DrainTiming:
    delay_ms: int = 0

    def after_write(self, now: int) -> tuple[int, bool]:
        """(the time the alarm must ring by, whether to drain now)."""
        if self.delay_ms:
            return now + self.delay_ms, False
        return now + FAST_PATH_DELAY_MS, True

    @classmethod
    def from_setting(cls, value: Any) -> DrainTiming:
        """Strings from env vars or numbers from TOML; empty means at once. A bad value
        raises ValueError naming the setting."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return cls()
        if isinstance(value, bool) or not str(value).strip().isdigit():
            raise ValueError(f"{SETTING} must be a whole number of milliseconds, not {value!r}")
        delay = int(str(value).strip())
        if delay > MAX_DRAIN_DELAY_MS:
            raise ValueError(f"{SETTING} must be from 0 to {MAX_DRAIN_DELAY_MS}, not {delay}")
        return cls(delay)


AT_ONCE = DrainTiming()
