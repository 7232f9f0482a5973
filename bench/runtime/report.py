"""The runtime bench's results: JSON (everything, samples included), a Markdown table, a PNG."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .coldstart import FIRST
from .targets import BARE, ratio

SYSTEMS = {
    "http": "agent-sessions, HTTP (workerd)",
    "rpc": "agent-sessions, RPC (workerd)",
    "floor": "JS floor: our statements (workerd)",
    "pyfloor": "Python floor: our statements (workerd)",
    "peer": "agents AIChatAgent (workerd)",
    "cpython": "agent-sessions, local server (CPython)",
    "sdk": "the SDK's own SQLiteSession (CPython)",
    BARE: "the SDK, history in a list: no storage (CPython)",
}
OPS = {
    "append": "append a turn (2 x 1 KB)",
    "last": "read the last {last}",
    "context": "read the context",
    "compacted_context": "context after a compaction",
    "agents_turn": "OpenAI Agents Runner.run turn",
}
RATIOS = (
    ("http", "floor"),
    ("http", "peer"),
    ("rpc", "floor"),
    ("pyfloor", "floor"),
    ("http", "pyfloor"),
)
"""The ratio columns: to the JavaScript floor and the peer, and what Python itself costs
(the Python floor to the JavaScript one; agent-sessions to the Python floor)."""


def op_label(op: str, results: dict[str, Any]) -> str:
    return OPS[op].format(last=results["plan"]["last"])


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def ordered(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Cells by operation, then history: the order in which they compare."""
    order = list(OPS)
    return sorted(results["cells"], key=lambda c: (order.index(c["op"]), c["history"]))


def _cell(summary: dict[str, Any] | None) -> str:
    if summary is None:
        return "—"
    if summary["median_ms"] is None:
        return f"> {summary['timed_out_after_s']:.0f} s (given up)"
    cpu = summary.get("cpu_median_ms")
    return f"{_ms(summary['median_ms'])} / {_ms(summary['p95_ms'])} ({_ms(cpu)})"


def _ratio(cell: dict[str, Any], top: str, bottom: str) -> str:
    systems = cell["systems"]
    if top not in systems or bottom not in systems:
        return "—"
    value = ratio(systems[top]["median_ms"], systems[bottom]["median_ms"])
    if value is None and systems[top]["timed_out_after_s"] is not None:
        return "> limit"
    return "—" if value is None else f"{value:.1f}x"


COLD_MODES = {"no_snapshot": "no snapshot", "snapshot": "restored from its snapshot"}


def _cold_table(cold: dict[str, Any] | None) -> list[str]:
    if not cold:
        return []
    lines = ["", "| fresh isolate | first request ms, median / p95 | start to Ready s |"]
    lines.append("|---|---|---|")
    for mode, started in COLD_MODES.items():
        for kind, first in FIRST.items():
            if kind not in cold.get(mode, {}):
                continue
            c = cold[mode][kind]
            ms = f"{_ms(c['median_ms'])} / {_ms(c['p95_ms'])}"
            start = "—" if c["start_median_s"] is None else f"{c['start_median_s']:.1f}"
            lines.append(f"| {first.label}, {started} | {ms} | {start} |")
    return lines


def _memory_table(results: dict[str, Any]) -> list[str]:
    memory = results.get("memory")
    if not memory:
        return []
    large = results["plan"]["histories"][-1]
    head = f"process RSS, building and serving {large:,} entries"
    lines = ["", f"| {head} | before MiB | after MiB | growth MiB |"]
    lines.append("|---|---|---|---|")
    for key, m in memory.items():
        before, after, delta = m["before_mib"], m["after_mib"], m["delta_mib"]
        lines.append(f"| {SYSTEMS[key]} | {before:.0f} | {after:.0f} | {delta:+.1f} |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    keys = [k for k in SYSTEMS if any(k in c["systems"] for c in results["cells"])]
    head = ["operation", "history", *(SYSTEMS[k] for k in keys)]
    head += [f"{a} ÷ {b}" for a, b in RATIOS]
    lines = [
        "Latency median / p95 in ms, and (CPU median in ms) of the system's process per request.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for cell in ordered(results):
        row = [op_label(cell["op"], results), f"{cell['history']:,}"]
        row += [_cell(cell["systems"].get(k)) for k in keys]
        row += [_ratio(cell, a, b) for a, b in RATIOS]
        lines.append("| " + " | ".join(row) + " |")
    lines += _cold_table(results.get("cold_start")) + _memory_table(results)
    lines += ["", "| target | limit | measured | met |", "|---|---|---|---|"]
    for t in results["targets"]:
        met = {True: "yes", False: "**NO**", None: "not measured"}[t["met"]]
        value = "—" if t["value"] is None else f"{t['value']:.2f}"
        lines.append(f"| {t['target']} | {t['limit']} | {value} | {met} |")
    m, load = results["machine"], results["load_average"]
    lines += [
        "",
        f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores), {m['platform']}; "
        f"load average {load['start'][0]:.2f} at the start, {load['end'][0]:.2f} at the end "
        f"(1-minute). {results['note']}",
    ]
    return "\n".join(lines) + "\n"


def _field(cells: list[dict[str, Any]], key: str, field: str) -> list[float]:
    """One figure of every cell for one system; 0 where it was not measured (no bar). A
    latency given up at the time limit is drawn at the limit."""
    values = []
    for cell in cells:
        summary = cell["systems"].get(key, {})
        value = summary.get(field)
        if value is None and field != "cpu_median_ms" and summary.get("timed_out_after_s"):
            value = summary["timed_out_after_s"] * 1000
        values.append(value or 0)
    return values


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - a bench-only dependency

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    cells = ordered(results)
    keys = [k for k in SYSTEMS if any(k in c["systems"] for c in cells)]
    labels = [f"{op_label(c['op'], results)}\n@ {c['history']:,}" for c in cells]
    figure, axes = plt.subplots(2, 1, figsize=(max(12, len(cells) * 1.1), 9), sharex=True)
    width = 0.8 / len(keys)
    for index, key in enumerate(keys):
        xs = [i + (index - (len(keys) - 1) / 2) * width for i in range(len(cells))]
        medians = _field(cells, key, "median_ms")
        whiskers = [
            max(0, p - m) for p, m in zip(_field(cells, key, "p95_ms"), medians, strict=True)
        ]
        errors = [[0] * len(cells), whiskers]
        axes[0].bar(xs, medians, width, yerr=errors, capsize=2, label=SYSTEMS[key])
        axes[1].bar(xs, _field(cells, key, "cpu_median_ms"), width, label=SYSTEMS[key])
    axes[0].set_title(
        "latency per request, median (bar) and p95 (whisker), ms; at the time limit: given up"
    )
    axes[1].set_title("CPU of the system's process per request, median, ms")
    for axis in axes:
        axis.set_yscale("log")
        axis.grid(True, which="both", axis="y", alpha=0.3)
    axes[1].set_xticks(range(len(cells)), labels, rotation=45, ha="right", fontsize=8)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "runtime.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "runtime.md").write_text(markdown(results))
    plot(results, out / "runtime.png")
