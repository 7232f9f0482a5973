"""Timing one operation on every system, interleaved: repetition by repetition, each system
in turn (the order rotating), so a burst of load from elsewhere on the machine lands on all
systems alike instead of on whichever ran at that moment.

CPU time per request is the CPU the system's process used from the start of one of its
requests to the start of its next (the last one: to a short settle after it), so work a
request leaves behind (the Worker's background drain to D1) counts against it.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .procfs import cpu_seconds

SETTLE_S = 0.3
"""After a cell: time for background work of its last request to finish."""
IN_PROCESS = 0
"""The pid of a system run in the bench's own process (the SDK's SQLiteSession): its CPU is
the process's during its own calls only, since between them the process is every other
system's client."""


def p95(values: list[float]) -> float:
    """Nearest rank: the smallest value with at least 95% of the samples at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _stats(values: list[float]) -> tuple[float | None, float | None]:
    return (statistics.median(values), p95(values)) if values else (None, None)


@dataclass
class Samples:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    timed_out_after_s: float | None = None
    """Set when a request exceeded the cell's time limit: the system left the cell then."""

    def summary(self) -> dict[str, Any]:
        """Milliseconds: median and p95 of latency and of CPU, and the samples themselves."""
        ms = [w * 1000 for w in self.wall]
        cpu = [c * 1000 for c in self.cpu]
        median, high = _stats(ms)
        cpu_median, cpu_high = _stats(cpu)
        return {
            "n": len(ms),
            "median_ms": median,
            "p95_ms": high,
            "cpu_median_ms": cpu_median,
            "cpu_p95_ms": cpu_high,
            "timed_out_after_s": self.timed_out_after_s,
            "samples_ms": [round(v, 3) for v in ms],
            "cpu_samples_ms": [round(v, 3) for v in cpu],
        }


def interleave(
    calls: Mapping[str, Callable[[int], object]],
    pids: Mapping[str, int],
    reps: int,
    warmup: int = 1,
    give_up: Callable[[str], None] | None = None,
) -> dict[str, Samples]:
    """`calls[key](index)` runs request number `index` of system `key`; the first `warmup`
    rounds are not kept. With `give_up`, a call that raises TimeoutError ends that system's
    part in the cell (no CPU figures for it) and `give_up(key)` is told."""
    active = list(calls)
    marks: dict[str, list[float]] = {k: [] for k in calls}
    samples = {k: Samples() for k in calls}
    for rep in range(-warmup, reps):
        shift = rep % len(active) if active else 0
        for key in active[shift:] + active[:shift]:
            if rep >= 0 and pids[key] != IN_PROCESS:
                marks[key].append(cpu_seconds(pids[key]))
            started, own = time.perf_counter(), time.process_time()
            try:
                calls[key](rep + warmup)
            except TimeoutError:
                if give_up is None:
                    raise
                samples[key].timed_out_after_s = time.perf_counter() - started
                active.remove(key)
                marks[key].clear()
                give_up(key)
                continue
            if rep >= 0:
                samples[key].wall.append(time.perf_counter() - started)
                if pids[key] == IN_PROCESS:
                    samples[key].cpu.append(time.process_time() - own)
    time.sleep(SETTLE_S)
    for key in active:
        if pids[key] == IN_PROCESS:
            continue
        marks[key].append(cpu_seconds(pids[key]))
        samples[key].cpu = [b - a for a, b in zip(marks[key], marks[key][1:], strict=False)]
    return samples


def quiesce(pids: Mapping[str, int], timeout: float = 120, idle: float = 0.03) -> float:
    """Wait until every process uses under `idle` of a core (background drains, GC done);
    returns the seconds waited."""
    started = time.monotonic()
    pids = {k: p for k, p in pids.items() if p != IN_PROCESS}
    while time.monotonic() - started < timeout:
        before = {k: cpu_seconds(p) for k, p in pids.items()}
        time.sleep(0.5)
        if all((cpu_seconds(p) - before[k]) / 0.5 < idle for k, p in pids.items()):
            break
    return time.monotonic() - started
