"""The Pyodide tier, driven from pytest: tests/runtime/harness.mjs boots Pyodide once, runs the
conformance suite (tests/conformance/) inside it on the ctx.storage stand-in, and reports here.
The Worker itself is proven in real workerd (tests/workerd/)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from .conftest import ROOT, run_tool

pytestmark = pytest.mark.runtime


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    for needed in ("node_modules/pyodide", "python_modules/workers", ".pyodide-test-site/pytest"):
        if not (ROOT / needed).exists():
            pytest.fail(f"{needed} is missing: scripts/test installs it")
    out = tmp_path_factory.mktemp("runtime") / "report.json"
    stdout = run_tool(["node", "tests/runtime/harness.mjs", str(out)], timeout=600)
    return {**json.loads(out.read_text()), "stdout": stdout}


def test_it_is_python_3_14_on_pyodide_314(report: dict[str, Any]) -> None:
    assert report["python"].startswith("3.14"), report["python"]
    assert report["pyodide"].startswith("314."), report["pyodide"]


def test_conformance_suite_passes_inside_pyodide(report: dict[str, Any]) -> None:
    """tests/conformance/ on its engine path there; skipped only what an engine path lacks
    (the fork use case, the mirror's status and large entries, which run above the engine:
    4 tests, and the 14 of test_large.py)."""
    junit = (ROOT / report["engine_junit"]).read_text()
    totals = {k: int(v) for k, v in re.findall(r'(tests|failures|errors|skipped)="(\d+)"', junit)}
    assert report["engine_suite_exit"] == 0, report["stdout"][-5000:]
    assert totals["failures"] == totals["errors"] == 0, totals
    names = re.findall(r'<testcase [^>]*name="([^"]+)"', junit)
    assert len(names) >= 89, f"{len(names)} tests ran (their subtests count in {totals})"
    assert all("pyodide-durable-object" in n for n in names), "only the Pyodide backend runs there"
    skips = re.findall(r'<skipped [^>]*message="([^"]+)"', junit)
    assert len(skips) == totals["skipped"] == 4 + 14, totals
    lacks = [re.match(r"pyodide-durable-object lacks ([\w, ]+):", s) for s in skips]
    lacking = {name for m in lacks if m for name in m[1].split(", ")}
    assert all(lacks), skips
    assert lacking == {"fork", "mirror", "large"}, skips


def test_storage_stand_in_matches_recorded_workerd() -> None:
    """tests/runtime/conformance.json is what real workerd stored and read back for each
    value; the stand-in that the tier above runs on must give the same answers."""
    stdout = run_tool(["node", "tests/runtime/check_conformance.mjs"])
    assert re.search(r"^(\d+) passed, 0 failed$", stdout, re.M), stdout
