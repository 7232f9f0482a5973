"""D1's retention: D1 keeps the hot index (active and recent sessions), not all history.

At about 3.6 KB per mirrored turn (two ~1 KB messages; `scripts/bench scale`) and 10 GB per
database, a busy deployment fills a D1 database in hours; with MIRROR_RETENTION_DAYS set,
the gateway's cron (worker/gateway.py `scheduled`) removes from each of its D1 databases the
sessions that are no longer active and were last updated longer ago than that, with their
entries. Nothing else loses them:
the session's Durable Object keeps its truth (reads by id still answer), and the change log
(mirror/changes.py), when bound, keeps the history for R2 SQL. Listings and searches, which
D1 answers, then show only the sessions D1 retains.

A run is bounded (RETENTION_SESSIONS_PER_RUN sessions found, RETENTION_CHUNKS_PER_RUN
chunks of RETENTION_CHUNK entries removed), so a large backlog takes several runs, each
short; a run with nothing due costs one indexed read. Every statement re-checks that its
session is still due, so running twice, or beside the drain, removes nothing it should not:
a session updated again (and so re-mirrored) stops being removed. Its entries removed before
that are then missing from D1 until a resync (the mirror's parity repair) sends them again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import statements as q
from .ports import MirrorPort

SETTING = "MIRROR_RETENTION_DAYS"
DAY_MS = 86_400_000
RETENTION_SESSIONS_PER_RUN = 100
RETENTION_CHUNK = 500
"""Entries one statement removes: a statement stays short however large the session."""
RETENTION_CHUNKS_PER_RUN = 200
"""Batches one run sends to one database: well under the 1,000 queries of an invocation."""


def retention_ms(value: Any) -> int | None:
    """MIRROR_RETENTION_DAYS as milliseconds; empty or unset: None (D1 keeps everything)."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not (math.isfinite(days) and days >= 1):
        raise ValueError(f"{SETTING} must be a number of days, 1 or more (got {text!r})")
    return int(days * DAY_MS)


@dataclass
class SweepResult:
    sessions_removed: int = 0
    batches: int = 0
    more: bool = False
    """True when the run stopped at its bounds with sessions still due."""


async def sweep(
    port: MirrorPort,
    cutoff_ms: int,
    sessions: int = RETENTION_SESSIONS_PER_RUN,
    chunks: int = RETENTION_CHUNKS_PER_RUN,
    chunk: int = RETENTION_CHUNK,
) -> SweepResult:
    """Remove from one D1 database the sessions due at `cutoff_ms`, within the bounds."""
    result = SweepResult()
    due = await port.query(q.RETENTION_DUE, (cutoff_ms, sessions))
    for row in due:
        key = (row["tenant_id"], row["id"])
        while True:
            if result.batches >= chunks:
                result.more = True
                return result
            await port.apply(
                [
                    (q.RETENTION_ENTRIES, (*key, chunk, *key, cutoff_ms)),
                    (q.RETENTION_SESSION, (*key, cutoff_ms, *key)),
                ]
            )
            result.batches += 1
            left = await port.query(q.RETENTION_STILL_DUE, (cutoff_ms, *key))
            if not left:
                result.sessions_removed += 1
                break
            if not left[0]["due"]:
                break  # updated since it was found: retained
    result.more = len(due) == sessions
    return result
