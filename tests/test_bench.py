"""Smoke runs of the benchmarks at tiny sizes: each suite works end to end, every system (or
phase) is measured, and the figures that do not depend on timing are what the design says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def test_smoke_run_measures_every_system(tmp_path: Path) -> None:
    out = tmp_path / "results"
    command = [sys.executable, "-m", "bench", "--suite", "storage", "--smoke", "--out", str(out)]
    run = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "not installed" not in run.stdout, "the peers are test dependencies"
    results = json.loads((out / "results.json").read_text())
    systems = {r["system"] for r in results["rows"]}
    assert systems == {"agent-sessions", "single-blob", "openai-agents", "langgraph"}
    ours = [r for r in results["rows"] if r["system"] == "agent-sessions"]
    assert {r["statements_per_turn"] for r in ours} == {4.0}
    assert {r["rows_per_turn"] for r in ours} == {4.0}, "2 entries, the session, the outbox"
    blob = [r for r in results["rows"] if r["system"] == "single-blob"]
    assert blob[1]["bytes_per_turn"] > blob[0]["bytes_per_turn"], "the blob grows with history"
    assert all(r["bytes_per_turn"] > 0 and r["appends_per_second"] > 0 for r in results["rows"])
    mirror = results["mirror"]
    assert mirror["drained_each_turn"]["statements_per_turn"] == 2.0
    assert mirror["burst"]["statements_per_turn"] < 1
    assert len(results["targets"]) == 6
    assert "| agent-sessions | 10 |" in (out / "results.md").read_text()
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"


def test_load_smoke_run_serves_every_phase_without_error(tmp_path: Path) -> None:
    out = tmp_path / "results"
    command = [sys.executable, "-m", "bench", "--suite", "load", "--smoke", "--out", str(out)]
    run = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((out / "load.json").read_text())
    for phase in ("mixed", "mixed_with_search", "search", "other_routes_with_search", "hot_spot"):
        assert results[phase]["requests"] > 0, phase
        assert results[phase]["errors"] == 0, phase
        assert 0 < results[phase]["p50_ms"] <= results[phase]["p95_ms"] <= results[phase]["p99_ms"]
    hot = results["hot_spot"]
    assert hot["acknowledged"] == hot["entries"], "every acknowledged append is in the session"
    assert results["size"]["writers"] == 32
    assert results["targets"][0]["met"] is True, "no error anywhere"
    assert "| 32 writers on one session |" in (out / "load.md").read_text()
