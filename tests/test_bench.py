"""A smoke run of the benchmarks at tiny sizes: the suite works end to end, every system is
measured, and the figures that do not depend on timing are what the design says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def test_smoke_run_measures_every_system(tmp_path: Path) -> None:
    out = tmp_path / "results"
    command = [sys.executable, "-m", "bench", "--smoke", "--out", str(out)]
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
