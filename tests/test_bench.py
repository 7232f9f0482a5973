"""Smoke runs of the benchmarks at tiny sizes: the suites work end to end, every system is
measured, and the figures that do not depend on timing are what the design says. The runtime
bench's (bench/runtime/) runs the Worker in real workerd."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


RUNTIME_SYSTEMS = {"http", "rpc", "floor", "peer", "cpython"}


@pytest.mark.workerd
def test_runtime_smoke_run_measures_every_system(tmp_path: Path) -> None:
    """The runtime bench end to end at tiny sizes, in real workerd: every system answers
    every operation it supports with the same entries, and a fresh isolate is timed. The
    targets are not checked (they are about sizes the smoke run does not reach)."""
    for needed in ("node_modules/.bin/wrangler", "python_modules/workers"):
        if not (ROOT / needed).exists():
            pytest.fail(f"{needed} is missing: scripts/test installs it")
    out = tmp_path / "results"
    command = [sys.executable, "-m", "bench", "runtime", "--smoke", "--out", str(out)]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as run:
        try:
            output, _ = run.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            run.terminate()  # SIGTERM: the bench stops its wrangler processes
            output, _ = run.communicate(timeout=60)
    assert run.returncode == 0, output[-5000:]
    results = json.loads((out / "runtime.json").read_text())
    measured = {key for cell in results["cells"] for key in cell["systems"]}
    assert measured == RUNTIME_SYSTEMS
    for cell in results["cells"]:
        counts = {s.get("count") for s in cell["systems"].values()}
        assert len(counts) == 1, f"the systems did different work: {cell['op']} {counts}"
        assert all(s["median_ms"] > 0 for s in cell["systems"].values())
        assert all(s["cpu_median_ms"] is not None for s in cell["systems"].values())
    ops = {cell["op"] for cell in results["cells"]}
    assert ops == {"append", "last", "context", "compacted_context", "agents_turn"}
    assert set(results["cold_start"]) == {"http", "trivial"}
    assert set(results["memory"]) == RUNTIME_SYSTEMS
    assert len(results["targets"]) == 8
    assert all(t["value"] is not None for t in results["targets"])
    assert "target:" in output
    assert (out / "runtime.png").read_bytes()[:4] == b"\x89PNG"
