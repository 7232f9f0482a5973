"""The first request of a fresh isolate, for agent-sessions (a session created: gateway and
Durable Object), for the Python floor (a session created: a Python Worker and a Python Durable
Object with no framework, pyfloor/) and for the trivial Python Worker (trivial/); without a
snapshot and restored from one.

A fresh isolate is a workerd just started: the first round is the run's own start (every
process started, then all left to go idle before the two first requests, one after the
other); each further round restarts the `wrangler dev` processes in turn, so all meet the
same load. Timed from the process's "Ready" to the answer of its first request; the
start itself (spawn to "Ready") is reported too.

Without a snapshot, workerd runs the Worker's top level (imports, the app built, the warm-up
requests) before "Ready". A deployed Worker starts instead from the memory snapshot made at
deploy (scripts/workerd/launch.py: `WORKERD_PYTHON_SNAPSHOT`): each Worker saves one once,
then each round restarts it from that file, and its first request is timed the same way.

agent-sessions' first request is a create (the one the target counts); two more kinds of
first request, each from restarts of its own, say where that time goes: a health check (the
gateway alone, no Durable Object reached) and a resume (the context of a session made
before the restart: the gateway and the Durable Object, reading).
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from agent_sessions.mirror.limits import FAST_PATH_DELAY_MS

from .loopback import Loopback
from .processes import START_TIMEOUT_S, TOKEN, Wrangler, snapshot, snapshot_file
from .progress import progress
from .sampling import p95

FirstRequest = Callable[[Loopback], object]
_FIRSTS = itertools.count()
"""The floor's sessions are named by the caller: a new one for each fresh isolate."""
_MADE: list[str] = []
"""The sessions agent-sessions' first requests made, which a resume reads."""


def _create(client: Loopback) -> object:
    made = client.call("POST", "/v1/sessions", {})
    _MADE.append(made["id"])
    return made


class First(NamedTuple):
    label: str
    request: FirstRequest


FIRST: dict[str, First] = {
    "http": First("agent-sessions (create a session)", _create),
    "http.resume": First(
        "agent-sessions (resume: a session's context)",
        lambda client: client.call("GET", f"/v1/sessions/{_MADE[-1]}/context"),
    ),
    "http.health": First(
        "agent-sessions (health check: the gateway alone)",
        lambda client: client.call("GET", "/healthz"),
    ),
    "pyfloor": First(
        "Python floor (create a session)",
        lambda client: client.call("POST", f"/v1/sessions/first-{next(_FIRSTS)}"),
    ),
    "trivial": First("trivial Python Worker", lambda client: client.call("GET", "/")),
}
"""Each kind of first request; a kind named `worker.what` is another first request of the
Worker `worker`, measured on restarts only (a run's own start serves the Worker's first
kind)."""


def worker_of(kind: str) -> str:
    return kind.partition(".")[0]


def _kinds(workers: Mapping[str, Wrangler]) -> list[str]:
    """The kinds of the Workers given, in the order a round restarts them: each Worker's own
    first, then the other kinds, so that the other Workers' restarts fill the wait after a
    create (`_restart`)."""
    kinds = [kind for kind in FIRST if worker_of(kind) in workers]
    return sorted(kinds, key=lambda kind: "." in kind)


_SETTLED_AT: dict[str, float] = {}
"""When the alarm a Worker's last first request set has rung (time.monotonic), by name."""
ALARM_MARGIN_S = 1.0


def _first(wrangler: Wrangler, kind: str) -> float:
    client = Loopback(wrangler.base, {"authorization": f"Bearer {TOKEN}"})
    started = time.monotonic()
    FIRST[kind].request(client)
    client.close()
    answered = time.monotonic()
    _SETTLED_AT[wrangler.name] = answered + FAST_PATH_DELAY_MS / 1000 + ALARM_MARGIN_S
    return (answered - started) * 1000


def _restart(wrangler: Wrangler, kind: str) -> dict[str, float]:
    """A fresh isolate's first request. A write's safety-net alarm rings FAST_PATH_DELAY_MS
    later; left due in a process stopped sooner, it would ring as the next one starts and run
    the object's code before that isolate's first request does, so the stop waits for it."""
    time.sleep(max(0.0, _SETTLED_AT.get(wrangler.name, 0.0) - time.monotonic()))
    wrangler.stop()
    spawned = time.monotonic()
    wrangler.start()
    wrangler.wait_ready(time.monotonic() + START_TIMEOUT_S)
    ready = time.monotonic()
    return {"start_s": ready - spawned, "first_request_ms": _first(wrangler, kind)}


class SnapshotMissing(RuntimeError):
    """workerd was asked to save a snapshot and wrote none."""


def _written(path: Path) -> bool:
    """Whether the file is there and no longer growing."""
    if not path.exists():
        time.sleep(0.1)
        return False
    size = path.stat().st_size
    time.sleep(0.5)
    return size > 0 and path.stat().st_size == size


def _save_snapshot(wrangler: Wrangler) -> Path:
    """Start the Worker once saving its snapshot, as a deploy does; the folder holding it."""
    folder = wrangler.state.parent / f"{wrangler.name}-snapshot"
    with snapshot(wrangler, f"save:{folder}"):
        wrangler.stop()
        wrangler.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        wrangler.wait_ready(deadline)
        while not _written(snapshot_file(folder)):
            if time.monotonic() > deadline:
                raise SnapshotMissing(f"{wrangler.name}: no snapshot in {folder}")
    return folder


def _from_snapshots(workers: Mapping[str, Wrangler], reps: int) -> dict[str, Any]:
    """`reps` restarts of each Worker from its own snapshot; each is left running without."""
    folders = {key: _save_snapshot(wrangler) for key, wrangler in workers.items()}
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in _kinds(workers)}
    for _ in range(reps):
        for kind, kind_runs in runs.items():
            wrangler = workers[worker_of(kind)]
            with snapshot(wrangler, f"load:{folders[worker_of(kind)]}"):
                kind_runs.append(_restart(wrangler, kind))
    for wrangler in workers.values():
        wrangler.stop()
        wrangler.start()
    for wrangler in workers.values():
        wrangler.wait_ready(time.monotonic() + START_TIMEOUT_S)
    return {key: _summary(r) for key, r in runs.items()}


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
    yet. They are left running without a snapshot (restarted ones too); their workerd
    processes change with each restart. {"no_snapshot": {kind: summary}, "snapshot": ...},
    `reps` first requests of each kind both ways."""
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in _kinds(workers)}
    for key, wrangler in workers.items():
        runs[key].append({"first_request_ms": _first(wrangler, key)})
    for _ in range(reps):
        for kind, kind_runs in runs.items():
            if len(kind_runs) < reps:
                kind_runs.append(_restart(workers[worker_of(kind)], kind))
    progress("fresh isolates done")
    restored = _from_snapshots(workers, reps)
    progress("fresh isolates restored from snapshots done")
    return {"no_snapshot": {key: _summary(r) for key, r in runs.items()}, "snapshot": restored}
