"""Progress lines, stamped with the seconds since the run began (a full run takes minutes)."""

from __future__ import annotations

import time

_STARTED = time.monotonic()


def progress(message: str) -> None:
    print(f"bench runtime [{time.monotonic() - _STARTED:5.0f} s]: {message}", flush=True)
