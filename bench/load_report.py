"""The load test's targets, and its results as JSON and a Markdown table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .report import Target, machine

TARGETS = (
    Target(
        "errors in every phase (mixed, with search, 32 writers on one session)",
        True,
        0,
        lambda r: (
            sum(r[phase]["errors"] for phase in PHASES)
            + r["hot_spot"]["acknowledged"]
            - r["hot_spot"]["entries"]
        ),
    ),
    Target(
        "other routes' requests/s lost while searches run, % (median of rounds)",
        True,
        20,
        lambda r: r["search_slowdown_pct"],
    ),
)
PHASES = ("mixed", "mixed_with_search", "hot_spot")
ROWS = (
    ("mixed (append, read, context, get, list)", "mixed"),
    ("the same, with searches alongside", "mixed_with_search"),
    ("  of which the other routes", "other_routes_with_search"),
    ("  of which search", "search"),
    ("32 writers on one session", "hot_spot"),
)


def markdown(results: dict[str, Any]) -> str:
    size = results["size"]
    lines = [
        f"| load ({size['workers']} clients, {size['rounds']} rounds of {size['phase_s']:g} s) "
        "| requests | requests/s | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, key in ROWS:
        row = results[key]
        lines.append(
            f"| {label} | {row['requests']:,} | {row['requests_per_s']:,.0f} | {row['p50_ms']} "
            f"| {row['p95_ms']} | {row['p99_ms']} | {row['errors']} |"
        )
    hot = results["hot_spot"]
    lines += [
        "",
        f"Hot spot: {hot['acknowledged']:,} appends acknowledged, {hot['entries']:,} entries "
        "in the session afterwards.",
        "",
        "| target | limit | measured | met |",
        "|---|---|---|---|",
    ]
    for target in results["targets"]:
        met = "yes" if target["met"] else "**NO**"
        lines.append(f"| {target['target']} | {target['limit']} | {target['value']} | {met} |")
    box = results["machine"]
    lines += [
        "",
        f"Measured {box['date']} on {box['cpu']} ({box['cores']} cores), Python {box['python']}, "
        f"SQLite {box['sqlite']}; loopback, data on tmpfs.",
        "",
    ]
    return "\n".join(lines)


def write(results: dict[str, Any], out: Path) -> None:
    results["machine"] = machine()
    results["targets"] = [target.judge(results) for target in TARGETS]
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "load.md").write_text(markdown(results))
