"""The history phases: for each history length, every system gets the same session (the same
messages, byte for byte), then each operation is timed on all of them, interleaved.

- small history: appends;
- middle: the last entries, the whole context, appends, then, after a compaction keeping
  `plan.keep` entries, the context again;
- large: the same, except the whole context, which is read last in the run (`final`), after
  moving each session's leaf back past its compaction, under a time limit: in workerd it can
  take minutes, and a system that exceeds the limit is given up (its process is stopped, as
  nothing comes after). It comes second, right after the small history, so that its memory
  figure starts from nearly fresh processes: each process's resident memory before the
  session is built and after its operations (what building, holding and serving a session
  of that length costs; WebAssembly memory never shrinks, so Pyodide keeps its high-water
  mark).
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bench.workload import Conversation

from .plan import Plan
from .procfs import rss_bytes
from .progress import progress
from .sampling import interleave, quiesce
from .systems import System

Cell = dict[str, Any]
Call = Callable[[System, int], int]
"""One request of an operation: (system, request index) -> entries read or written."""


def seed(systems: Mapping[str, System], session: str, history: int, batch: int) -> None:
    """Create the session and append `history` messages in batches, every system at once
    (not timed: the machine is only busier)."""
    messages = Conversation().take(history)

    def build(system: System) -> None:
        system.create(session)
        for start in range(0, len(messages), batch):
            system.append(session, messages[start : start + batch])

    with concurrent.futures.ThreadPoolExecutor(len(systems)) as pool:
        list(pool.map(build, systems.values()))


class HistoryPhase:
    def __init__(self, systems: Mapping[str, System], pids: Mapping[str, int], plan: Plan) -> None:
        self.systems, self.pids, self.plan = systems, pids, plan
        self.memory: dict[str, dict[str, float]] = {}

    def run(self) -> list[Cell]:
        """Every history but the large one's whole-context read (see `final`)."""
        cells: list[Cell] = []
        small, middle, large = self.plan.histories
        for history in (small, large, middle):
            session = f"h{history}"
            before = self._rss() if history == large else None
            started = time.monotonic()
            seed(self.systems, session, history, self.plan.seed_batch)
            quiesce(self.pids)
            progress(f"history {history:,} built in {time.monotonic() - started:.0f} s")
            if history != small:
                cells.append(self._cell("last", history, self._last(session)))
            if history == middle:
                cells.append(self._cell("context", history, self._context(session)))
            cells.append(self._appends(session, history))
            if history != small:
                cells.append(self._compacted(session, history))
            if before is not None:
                self._memory(before)
            progress(f"history {history:,} done")
        return cells

    def final(self, give_up: Callable[[str], None]) -> Cell:
        """The whole context at the large history, each request under the plan's time limit;
        `give_up(key)` for a system that exceeds it."""
        large = self.plan.histories[-1]
        session = f"h{large}"
        for system in self.systems.values():
            system.rewind(session)
            system.client.timeout = self.plan.time_limit_s
        quiesce(self.pids)
        cell = self._cell("context", large, self._context(session), self.plan.large_reps, give_up)
        progress(f"the whole context at {large:,} done")
        return cell

    def _cell(
        self,
        op: str,
        history: int,
        call: Call,
        reps: int | None = None,
        give_up: Callable[[str], None] | None = None,
        only: Iterable[str] | None = None,
    ) -> Cell:
        """One operation timed on every system (or those in `only`)."""
        keys = list(self.systems if only is None else only)
        counts: dict[str, int] = {}

        def runner(key: str) -> Callable[[int], object]:
            def run(index: int) -> None:
                counts[key] = call(self.systems[key], index)

            return run

        calls = {key: runner(key) for key in keys}
        pids = {key: self.pids[key] for key in keys}
        samples = interleave(calls, pids, reps or self.plan.reps, give_up=give_up)
        summary = {key: s.summary() | {"count": counts.get(key)} for key, s in samples.items()}
        return {"op": op, "history": history, "systems": summary}

    def _last(self, session: str) -> Call:
        return lambda system, _: system.read_last(session, self.plan.last)

    @staticmethod
    def _context(session: str) -> Call:
        return lambda system, _: system.read_context(session)

    def _appends(self, session: str, history: int) -> Cell:
        turns = Conversation(seed=history).take(2 * (self.plan.reps + 1))

        def append(system: System, index: int) -> int:
            return system.append(session, turns[2 * index : 2 * index + 2])

        return self._cell("append", history, append)

    def _compacted(self, session: str, history: int) -> Cell:
        """Compact where the systems support it; the others are left out of the cell."""
        written = history + 2 * (self.plan.reps + 1)  # the appends' warm-up round included
        first_kept = written - self.plan.keep + 1
        able = [key for key, system in self.systems.items() if system.compact(session, first_kept)]
        quiesce(self.pids)
        return self._cell("compacted_context", history, self._context(session), only=able)

    def _rss(self) -> dict[str, int]:
        return {key: rss_bytes(pid) for key, pid in self.pids.items()}

    def _memory(self, before: Mapping[str, int]) -> None:
        after = self._rss()
        mib = 1024 * 1024
        self.memory = {
            key: {
                "before_mib": before[key] / mib,
                "after_mib": after[key] / mib,
                "delta_mib": (after[key] - before[key]) / mib,
            }
            for key in before
        }
