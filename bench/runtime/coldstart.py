"""The first request of a fresh isolate, without a snapshot, for agent-sessions (a session
created: gateway and Durable Object), for the Python floor (a session created: a Python Worker
and a Python Durable Object with no framework, pyfloor/) and for the trivial Python Worker
(trivial/).

A fresh isolate is a workerd just started: the first round is the run's own start (every
process started, then all left to go idle before the two first requests, one after the
other); each further round restarts the `wrangler dev` processes in turn, so all meet the
same load. Timed from the process's "Ready" to the answer of its first request; the
start itself (spawn to "Ready") is reported too.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

from .loopback import Loopback
from .processes import START_TIMEOUT_S, TOKEN, Wrangler
from .progress import progress
from .sampling import p95

FirstRequest = Callable[[Loopback], object]
_FIRSTS = itertools.count()
"""The floor's sessions are named by the caller: a new one for each fresh isolate."""
FIRST: dict[str, FirstRequest] = {
    "http": lambda client: client.call("POST", "/v1/sessions", {}),
    "pyfloor": lambda client: client.call("POST", f"/v1/sessions/first-{next(_FIRSTS)}"),
    "trivial": lambda client: client.call("GET", "/"),
}


def _first(wrangler: Wrangler, key: str) -> float:
    client = Loopback(wrangler.base, {"authorization": f"Bearer {TOKEN}"})
    started = time.monotonic()
    FIRST[key](client)
    client.close()
    return (time.monotonic() - started) * 1000


def _restart(wrangler: Wrangler, key: str) -> dict[str, float]:
    wrangler.stop()
    spawned = time.monotonic()
    wrangler.start()
    wrangler.wait_ready(time.monotonic() + START_TIMEOUT_S)
    ready = time.monotonic()
    return {"start_s": ready - spawned, "first_request_ms": _first(wrangler, key)}


def _summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    first = [r["first_request_ms"] for r in runs]
    starts = [r["start_s"] for r in runs if "start_s" in r]
    return {
        "n": len(runs),
        "median_ms": statistics.median(first),
        "p95_ms": p95(first),
        "samples_ms": [round(v, 1) for v in first],
        "start_median_s": statistics.median(starts) if starts else None,
    }


def run_cold(workers: Mapping[str, Wrangler], reps: int) -> dict[str, Any]:
    """`workers`: "http", "pyfloor" and "trivial", started and idle, never asked anything
    yet. They are left running (restarted ones too); their workerd processes change with each
    restart."""
    runs: dict[str, list[dict[str, float]]] = {
        key: [{"first_request_ms": _first(wrangler, key)}] for key, wrangler in workers.items()
    }
    for _ in range(reps - 1):
        for key, wrangler in workers.items():
            runs[key].append(_restart(wrangler, key))
    progress("fresh isolates done")
    return {key: _summary(r) for key, r in runs.items()}
