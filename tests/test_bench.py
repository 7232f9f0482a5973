"""Smoke runs of the benchmarks at tiny sizes: each suite works end to end, every system (or
phase) is measured, and the figures that do not depend on timing are what the design says. The
runtime bench's (bench/runtime/) runs the Worker in real workerd."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.runtime.coldstart import FIRST
from bench.runtime.plan import FULL
from bench.runtime.profile import compiled, parse, summary
from bench.runtime.sampling import p95
from bench.runtime.targets import check

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
    at_once, *delayed = mirror["delayed"]
    assert at_once["statements_per_turn"] == 2.0 * at_once["writes_per_turn"], "2 per write"
    for m in delayed:  # a turn's writes, 50 ms apart, fall in one window: one batch
        assert (m["statements_per_turn"], m["batches_per_turn"]) == (2.0, 1.0), m
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


RUNTIME_SYSTEMS = {"http", "rpc", "floor", "pyfloor", "peer", "cpython", "sdk", "list"}


def run_in_workerd(arguments: list[str], timeout: float) -> str:
    """`python -m bench ...` of a bench that starts wrangler processes; its output. Past the
    timeout it gets SIGTERM, on which the bench stops its processes."""
    for needed in ("node_modules/.bin/wrangler", "python_modules/workers"):
        if not (ROOT / needed).exists():
            pytest.fail(f"{needed} is missing: scripts/test installs it")
    command = [sys.executable, "-m", "bench", *arguments]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as run:
        try:
            output, _ = run.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            run.terminate()
            output, _ = run.communicate(timeout=60)
    assert run.returncode == 0, output[-5000:]
    return output


@pytest.mark.workerd
def test_runtime_smoke_run_measures_every_system(tmp_path: Path) -> None:
    """The runtime bench end to end at tiny sizes, in real workerd: every system answers
    every operation it supports with the same entries, and a fresh isolate is timed. The
    targets are not checked (they are about sizes the smoke run does not reach)."""
    out = tmp_path / "results"
    output = run_in_workerd(["runtime", "--smoke", "--out", str(out)], timeout=600)
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
    for started in ("no_snapshot", "snapshot"):
        assert set(results["cold_start"][started]) == set(FIRST)
        assert all(c["n"] == 1 for c in results["cold_start"][started].values())
    in_process = {"sdk", "list"}
    assert set(results["memory"]) == RUNTIME_SYSTEMS - in_process, "the SDK's have no process"
    assert len(results["targets"]) == 10
    assert all(t["value"] is not None for t in results["targets"])
    assert "target:" in output
    assert (out / "runtime.png").read_bytes()[:4] == b"\x89PNG"


def test_runtime_targets_are_ratios_of_medians_of_one_run() -> None:
    """The runtime bench's verdicts on made-up figures: each target is a ratio of two
    medians of one run, and where a target spans histories the worst one counts."""

    def cell(op: str, history: int, **medians: float | None) -> dict[str, Any]:
        systems = {k: {"median_ms": v, "timed_out_after_s": None} for k, v in medians.items()}
        return {"op": op, "history": history, "systems": systems}

    results = {
        "plan": FULL.as_dict(),
        "cold_start": {
            "no_snapshot": {"http": {"median_ms": 300.0}, "trivial": {"median_ms": 100.0}},
            "snapshot": {"http": {"median_ms": 150.0}, "trivial": {"median_ms": 100.0}},
        },
        "cells": [
            cell("append", 10, http=20.0, floor=10.0, peer=40.0),
            cell("append", 1_000, http=21.0, floor=10.0, peer=20.0),
            cell("append", 10_000, http=21.0, floor=7.0, peer=80.0),
            cell("last", 1_000, http=10.0, floor=10.0),
            cell("context", 1_000, http=90.0, floor=30.0),
            cell("context", 10_000, http=None, floor=None),
            cell("compacted_context", 1_000, http=10.0),
            cell("compacted_context", 10_000, http=10.5),
            cell("agents_turn", 10, http=100.0, list=60.0),
            cell("agents_turn", 1_000, http=200.0, list=150.0),
        ],
    }
    verdicts = {
        t["target"].split(" (")[0]: (round(t["value"], 2), t["met"]) for t in check(results)
    }
    assert verdicts == {
        "HTTP append at history 10,000 / at 10": (1.05, True),
        "HTTP append / JS floor": (3.0, False),
        "HTTP append / agents peer": (1.05, False),
        "last 50 entries / JS floor": (1.0, True),
        "context at 1,000 / JS floor": (3.0, True),
        "context after a compaction at 10,000 / at 1,000": (1.05, True),
        "OpenAI Agents turn at history 1,000 / at 10": (2.0, False),
        "the session's part of that turn": (1.25, True),
        "first HTTP request of a fresh isolate / trivial Python Worker's": (3.0, False),
        "the same, both restored from their deploy snapshots": (1.5, True),
    }
    assert p95([float(v) for v in range(1, 31)]) == 29.0
    assert p95([5.0]) == 5.0


def test_the_scale_bench_runs_and_measures_the_shards(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench", "scale", "--smoke", "--in-process"]
    command += ["--out", str(tmp_path)]
    run = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    figures = json.loads((tmp_path / "scale.json").read_text())
    assert "workerd" not in figures, "--in-process starts no workerd"
    assert figures["mirrored"]["statements_per_turn"] == 2.0, "a session upsert, an entry upsert"
    assert 1.0 <= figures["mirrored"]["busiest_share"] < 4, "every database took some"
    assert all(1.0 <= b < 1.2 for b in figures["balance"].values()), "10,000 tenants spread"
    at_once = [row["appends_per_second"] for row in figures["capacity_at_once"]]
    assert at_once == sorted(at_once), "more databases carry more"
    assert "| 16 |" in run.stdout


@pytest.mark.workerd
def test_the_scale_smoke_run_in_workerd_measures_every_configuration(tmp_path: Path) -> None:
    """The scale run end to end at tiny sizes in real workerd: each configuration wrote turns
    that D1 then held (the run checks every acknowledged entry is there), the drain counted
    what it sent, search found turns while writes ran, and the model's table is printed."""
    output = run_in_workerd(["scale", "--smoke", "--out", str(tmp_path)], timeout=900)
    figures = json.loads((tmp_path / "scale.json").read_text())
    runs = figures["workerd"]["runs"]
    assert [(r["shards"], r["delay_ms"]) for r in runs] == [(1, 0), (2, 0), (2, 250)]
    for r in runs:
        assert r["turns"] > 0
        assert r["d1_entries"] == 2 * r["turns"]
        # Turns of one session drained together share their statements (coalescing, by
        # design: with a delay, and under load at once), so a turn may cost less than the two
        # statements (its session row, its entries) it costs alone; every batch holds one.
        assert r["statements_per_turn"] >= r["batches_per_turn"] > 0, "the drain counted"
        assert r["d1_bytes_per_turn"] > 1_000
        assert r["drain_lag"]["count"] > 0
        assert r["search_idle"]["count"] == min(5, r["turns"])
    assert set(figures["model"]) == {"0", "250"}
    assert "| 1,000,000 |" in output
    assert "Next limits" in output


def test_the_first_request_profile_sorts_each_sample_by_its_stack() -> None:
    text = (
        " 4201     100000 \n\t 5f1 v8::internal::Runtime_WasmCompileLazy\n\t 0 [unknown]\n\n"
        " 4209     200000 \n\t 6a2 v8::internal::wasm::ExecuteTurboshaftWasmCompilation\n\n"
        " 4201     300000 \n\t 16d __memmove_avx512_unaligned_erms\n\n"
        " 4201     400000 \n\t 7b3 sqlite3_step\n\t 7b4 v8::internal::Heap::Scavenge\n"
    )
    found = summary(parse(text))
    assert found["main"] == {
        "Liftoff: WebAssembly compiled on first use": pytest.approx(0.1),
        "the rest": pytest.approx(0.3),
        "SQLite": pytest.approx(0.4),  # the first of KINDS on its stack names a sample
    }
    assert found["background"] == {"TurboFan: WebAssembly tiered up": pytest.approx(0.2)}


def test_the_first_request_profile_lists_what_v8_compiled_meanwhile() -> None:
    """From V8's perf map: a function compiled at the start and again (same index and size),
    one whose index another module's function had (another size), a tier-up, JavaScript."""
    before = [
        "7f00 1a0 JS:wasm-function[12]-12-liftoff",
        "7f10 40 JS:wasm-function[30]-30-liftoff",
        "7f20 20 JS:~started pyodide:main:1:1",
    ]
    during = [
        "8f00 1a0 JS:wasm-function[12]-12-liftoff",
        "8f10 80 JS:wasm-function[30]-30-liftoff",
        "8f20 100 JS:wasm-function[31]-31-liftoff",
        "8f30 300 JS:wasm-function[12]-12-turbofan",
        "8f40 20 JS:~fetch entry.worker.js:5421:14",
        "8f50 10 Builtin:WasmCompileLazy",
        "8f60 30 JS:*optimised entry.worker.js:1:1",
    ]
    assert compiled(before, during) == {
        "WebAssembly, compiled before the request already, and again (liftoff)": (1, 0x1A0),
        "WebAssembly, first compiled (liftoff)": (2, 0x80 + 0x100),
        "WebAssembly, tiered up (turbofan)": (1, 0x300),
        "JavaScript, first use": (1, 0x20),
    }
