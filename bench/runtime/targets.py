"""The targets of issue 16, each a ratio of two medians measured in the same run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Results = dict[str, Any]
Measure = Callable[[Results], float | None]

BARE = "list"
"""The system key of the OpenAI turn over a history kept in a list (agents_turn.py)."""


def median(results: Results, op: str, history: int, system: str) -> float | None:
    for cell in results["cells"]:
        if cell["op"] == op and cell["history"] == history and system in cell["systems"]:
            return cell["systems"][system]["median_ms"]
    return None


def ratio(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or bottom is None or bottom == 0 else top / bottom


def worst(results: Results, op: str, system: str, other: str) -> float | None:
    """The largest ratio system/other of `op` over the histories where both were measured."""
    histories = sorted({c["history"] for c in results["cells"] if c["op"] == op})
    found = (
        ratio(median(results, op, h, system), median(results, op, h, other)) for h in histories
    )
    values = [v for v in found if v is not None]
    return max(values) if values else None


@dataclass(frozen=True)
class Target:
    name: str
    limit: float
    measure: Measure

    def judge(self, results: Results) -> dict[str, Any]:
        value = self.measure(results)
        met = None if value is None else value <= self.limit
        return {"target": self.name, "limit": f"<= {self.limit:g}", "value": value, "met": met}


def of(op: str, history: int, system: str, over: tuple[str, int, str]) -> Measure:
    """The ratio of `op` at `history` on `system` to `over` (op, history, system)."""
    return lambda r: ratio(median(r, op, history, system), median(r, *over))


def worst_of(op: str, system: str, other: str) -> Measure:
    return lambda r: worst(r, op, system, other)


def cold(mode: str) -> Measure:
    """agent-sessions' first request to the trivial Worker's, started `mode` ("no_snapshot",
    "snapshot")."""

    def measure(results: Results) -> float | None:
        started = results["cold_start"][mode]
        return ratio(started["http"]["median_ms"], started["trivial"]["median_ms"])

    return measure


def session_part(history: int, over: int) -> Measure:
    """What the session adds to an OpenAI Agents turn (the turn less the same turn over the
    SDK kept in a list, no storage) at `history`, to the same at `over`: the Runner's own
    work grows with the history it is given whatever stores it; the session's should not."""

    def part(results: Results, at: int) -> float | None:
        turn, bare = (median(results, "agents_turn", at, key) for key in ("http", BARE))
        return None if turn is None or bare is None else turn - bare

    return lambda r: ratio(part(r, history), part(r, over))


def targets(plan: dict[str, Any]) -> list[Target]:
    small, middle, large = plan["histories"]
    first, last = plan["agents_histories"][0], plan["agents_histories"][-1]
    return [
        Target(
            f"HTTP append at history {large:,} / at {small:,}",
            1.1,
            of("append", large, "http", ("append", small, "http")),
        ),
        Target("HTTP append / JS floor (worst history)", 2, worst_of("append", "http", "floor")),
        Target("HTTP append / agents peer (worst history)", 1, worst_of("append", "http", "peer")),
        Target(
            f"last {plan['last']} entries / JS floor (worst history)",
            2,
            worst_of("last", "http", "floor"),
        ),
        Target(
            f"context at {middle:,} / JS floor",
            3,
            of("context", middle, "http", ("context", middle, "floor")),
        ),
        Target(
            f"context after a compaction at {large:,} / at {middle:,} (flat)",
            1.1,
            of("compacted_context", large, "http", ("compacted_context", middle, "http")),
        ),
        Target(
            f"OpenAI Agents turn at history {last:,} / at {first:,}",
            1.5,
            of("agents_turn", last, "http", ("agents_turn", first, "http")),
        ),
        Target(
            f"the session's part of that turn (less the SDK's with no storage) at {last:,} / "
            f"at {first:,}",
            1.5,
            session_part(last, first),
        ),
        Target(
            "first HTTP request of a fresh isolate / trivial Python Worker's",
            2,
            cold("no_snapshot"),
        ),
        Target(
            "the same, both restored from their deploy snapshots",
            2,
            cold("snapshot"),
        ),
    ]


def check(results: Results) -> list[dict[str, Any]]:
    return [t.judge(results) for t in targets(results["plan"])]
