"""Targets, and the results as JSON, a Markdown table and PNG plots."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .run import KEEP

OURS = "agent-sessions"
BLOB = "single-blob"


@dataclass(frozen=True)
class Target:
    name: str
    at_most: bool
    """True: the measured value must not exceed `limit`; False: it must reach it."""
    limit: float
    measure: Callable[[dict[str, Any]], float | None]

    def judge(self, results: dict[str, Any]) -> dict[str, Any]:
        value = self.measure(results)
        met = (
            None
            if value is None
            else (value <= self.limit if self.at_most else value >= self.limit)
        )
        limit = f"{'<=' if self.at_most else '>='} {self.limit:g}"
        return {"target": self.name, "limit": limit, "value": value, "met": met}


def _row(results: dict[str, Any], system: str, history: int) -> dict[str, Any] | None:
    found = [r for r in results["rows"] if r["system"] == system and r["history"] == history]
    return found[0] if found else None


def _ratio(
    results: dict[str, Any], field: str, top: tuple[str, int], bottom: tuple[str, int]
) -> float | None:
    a, b = _row(results, *top), _row(results, *bottom)
    return None if a is None or b is None else a[field] / b[field]


def _worst(results: dict[str, Any], field: str) -> float | None:
    values = [r[field] for r in results["rows"] if r["system"] == OURS and r[field] is not None]
    return max(values) if values else None


def _at(results: dict[str, Any], field: str, history: int) -> float | None:
    row = _row(results, OURS, history)
    return None if row is None else row[field]


def _beyond_kept(results: dict[str, Any]) -> float | None:
    worst = _worst(results, "compacted_load_rows")
    return None if worst is None else worst - KEEP


def _mirrored(results: dict[str, Any]) -> float | None:
    mirror = results.get("mirror")
    return None if mirror is None else mirror["burst"]["statements_per_turn"]


TARGETS = (
    Target(
        "per-turn bytes at N=1000 / at N=10",
        True,
        1.1,
        lambda r: _ratio(r, "bytes_per_turn", (OURS, 1000), (OURS, 10)),
    ),
    Target("write amplification at N=1000", True, 3, lambda r: _at(r, "write_amplification", 1000)),
    Target(
        "appends/s, times the single blob's, at N=1000",
        False,
        50,
        lambda r: _ratio(r, "appends_per_second", (OURS, 1000), (BLOB, 1000)),
    ),
    Target("DO statements per turn (worst N)", True, 4, lambda r: _worst(r, "statements_per_turn")),
    Target("D1 statements per mirrored turn (burst of 100, amortised)", True, 1, _mirrored),
    Target(
        f"rows a load after compaction reads beyond the {KEEP} kept (worst N)",
        True,
        2,
        _beyond_kept,
    ),
)


def check(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [target.judge(results) for target in TARGETS]


def machine() -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "date": time.strftime("%Y-%m-%d"),
    }


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _kib(value: int | None) -> str:
    return _fmt(None if value is None else value / 1024, 1)


def markdown(results: dict[str, Any]) -> str:
    head = (
        "| system | history | bytes/turn | statements/turn | rows/turn | write ampl. "
        "| appends/s | load rows | load KiB | compacted load rows | compacted load KiB |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in results["rows"]:
        lines.append(
            f"| {r['name']} | {r['history']:,} | {_fmt(r['bytes_per_turn'])} "
            f"| {_fmt(r['statements_per_turn'], 1)} | {_fmt(r['rows_per_turn'], 1)} "
            f"| {_fmt(r['write_amplification'], 2)} | {_fmt(r['appends_per_second'])} "
            f"| {_fmt(r['load_rows'])} | {_kib(r['load_bytes'])} "
            f"| {_fmt(r['compacted_load_rows'])} | {_kib(r['compacted_load_bytes'])} |"
        )
    mirror = results.get("mirror")
    if mirror:
        lines += ["", "| D1 mirror, per turn | statements | batches |", "|---|---|---|"]
        for label, key in (
            ("drained after each turn", "drained_each_turn"),
            (f"burst of {mirror['burst']['turns']} turns", "burst"),
        ):
            m = mirror[key]
            lines.append(
                f"| {label} | {m['statements_per_turn']:.2f} | {m['batches_per_turn']:.2f} |"
            )
        for m in mirror.get("delayed", []):
            label = f"{m['writes_per_turn']} writes a turn, drain delay {m['delay_ms']} ms"
            lines.append(
                f"| {label} | {m['statements_per_turn']:.2f} | {m['batches_per_turn']:.2f} |"
            )
    lines += ["", "| target | limit | measured | met |", "|---|---|---|---|"]
    for t in results["targets"]:
        met = {True: "yes", False: "**NO**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {t['limit']} | {_fmt(t['value'], 2)} | {met} |")
    m = results["machine"]
    lines += [
        "",
        f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores), {m['platform']}, "
        f"Python {m['python']}, SQLite {m['sqlite']}; databases on {results['scratch']}.",
    ]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - a bench-only dependency

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    panels = (
        ("bytes_per_turn", "bytes written per turn (WAL)"),
        ("appends_per_second", "turns saved per second"),
        ("load_bytes", "bytes read to load the context"),
    )
    figure, axes = plt.subplots(1, len(panels), figsize=(15, 4.2))
    systems = dict.fromkeys(r["system"] for r in results["rows"])
    for axis, (field, title) in zip(axes, panels, strict=True):
        for system in systems:
            rows = [r for r in results["rows"] if r["system"] == system]
            axis.plot(
                [r["history"] for r in rows],
                [r[field] for r in rows],
                marker="o",
                label=rows[0]["name"],
            )
        if field == "load_bytes":
            rows = [r for r in results["rows"] if r["compacted_load_bytes"] is not None]
            rows = [r for r in rows if r["system"] == OURS]
            axis.plot(
                [r["history"] for r in rows],
                [r["compacted_load_bytes"] for r in rows],
                marker="o",
                linestyle="--",
                label=f"{OURS}, after a compaction keeping {KEEP}",
            )
            axis.legend(fontsize=8)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("entries of history")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(markdown(results))
    plot(results, out / "results.png")
