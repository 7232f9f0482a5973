"""What one run measures, and how often: the full run (about ten minutes on two busy cores)
and the smoke run of the tests (tiny sizes, a few repetitions: the harness works, every
system is measured; the targets are about sizes it does not reach)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Plan:
    histories: tuple[int, int, int]
    """Small (appends only), middle and large (appends, reads, compaction) histories."""
    reps: int
    """Repetitions per cell."""
    large_reps: int
    """Repetitions of a whole-context read at the large history (seconds each, today)."""
    agents_histories: tuple[int, ...]
    """Histories of the OpenAI Agents turn; the target compares the last to the first."""
    agents_reps: int
    cold_reps: int
    """Fresh starts of each Worker for its first request, each way (with and without a
    snapshot). The trivial Worker's first request is short (20-35 ms), so a few ms of noise
    move a ratio to it by 0.3: three starts left the target's ratio at 1.63 in one run and
    2.08 in the next, the create the same 57 ms in both."""
    time_limit_s: float
    """Longest wait for one whole-context read at the large history (see history.py)."""
    last: int = 50
    """Entries of the 'last entries' read."""
    seed_batch: int = 500
    """Entries per append while building a history (the engine's limit per append)."""
    keep: int = 20
    """Entries a compaction keeps after its summary."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = Plan(
    histories=(10, 1_000, 10_000),
    reps=30,
    large_reps=10,
    agents_histories=(10, 100, 1_000),
    agents_reps=30,
    cold_reps=7,
    time_limit_s=20,
)
SMOKE = Plan(
    histories=(10, 40, 80),
    reps=3,
    large_reps=2,
    agents_histories=(10, 20),
    agents_reps=2,
    cold_reps=1,
    time_limit_s=60,
    seed_batch=25,
)
