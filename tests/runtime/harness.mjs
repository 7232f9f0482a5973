// The Pyodide tier: the conformance suite (tests/conformance/) on its engine path in real
// Pyodide (Python 3.14, the runtime's version) under pytest: the real DurableObjectSql adapter
// over the ctx.storage stand-in (storage_stand_in.mjs), reached through the real SDK's
// DurableObjectContext wrapper. It keeps what it proves better than real workerd: every value
// conversion cell by cell, and crash injection at every statement inside `transactionSync`.
// The Worker itself is proven in real workerd (tests/workerd/).
//
// Usage: node tests/runtime/harness.mjs <report.json> [pytest args...]

import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";
import { DurableObjectState, DurableObjectStorage, sqlite } from "./storage_stand_in.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const [reportPath, ...pytestArgs] = process.argv.slice(2);

function mount(py, hostPath, at) {
  py.FS.mkdirTree(at);
  py.FS.mount(py.FS.filesystems.NODEFS, { root: hostPath }, at);
}

async function main() {
  const started = Date.now();
  const SQL = await sqlite();
  globalThis.__harness = {
    newState: (name = "test") =>
      new DurableObjectState(new DurableObjectStorage(new SQL.Database()), name),
  };
  const py = await loadPyodide();
  const booted = Date.now();
  mount(py, ROOT, "/project");
  py.registerJsModule("_cloudflare_compat_flags", {
    python_workflows_implicit_dependencies: true,
  });
  py.registerJsModule("_pyodide_entrypoint_helper", {});
  await py.runPythonAsync(`
import os, sys
sys.path[:0] = ["/project/python_modules", "/project/.pyodide-test-site", "/project/src", "/project"]
os.chdir("/project")
`);
  const suite = await py.runPythonAsync(`
import pytest
pytest.main([
    "-q", "-p", "no:cacheprovider", "--junitxml=/project/.pyodide-test-site/engine-junit.xml",
    "tests/conformance", *${JSON.stringify(pytestArgs)},
])
`);
  const report = {
    python: py.runPython("import sys; sys.version"),
    pyodide: py.version,
    boot_ms: booted - started,
    total_ms: Date.now() - started,
    engine_suite_exit: Number(suite),
    engine_junit: ".pyodide-test-site/engine-junit.xml",
  };
  writeFileSync(reportPath, JSON.stringify(report, null, 2));
  console.log(`pyodide tier: engine suite exit ${report.engine_suite_exit}, ${report.total_ms} ms`);
}

await main();
