// The Pyodide tier: the Worker's real Python code in real Pyodide (Python 3.14, the runtime's
// version), with the real workers-runtime-sdk and dependency wheels from python_modules/,
// workerd-faithful stand-ins for ctx.storage and the DO namespace, and miniflare's real D1.
//
// It runs, in one Pyodide boot:
//   1. the engine conformance suite (tests/test_engine.py) under pytest, on the real
//      DurableObjectSql adapter over the ctx.storage stand-in, wrapped by the real SDK;
//   2. the Worker scenarios (tests/runtime/worker_scenarios.py): SessionObject over RPC, the
//      gateway over the SDK's ASGI bridge, the mirror draining into miniflare's D1, alarms.
// and writes a JSON report for tests/test_runtime.py.
//
// Usage: node tests/runtime/harness.mjs <report.json> [pytest args...]

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { loadPyodide } from "pyodide";
import * as bindings from "./workerd_bindings.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const [reportPath, ...pytestArgs] = process.argv.slice(2);

/** A migration's statements; a trigger's body keeps its inner ';' (it ends at "END;"). */
function statementsOf(text) {
  const statements = [];
  let current = [];
  for (const line of text.split("\n")) {
    if (line.trim().startsWith("--")) continue;
    current.push(line);
    const joined = current.join("\n").trim();
    const done = /^CREATE TRIGGER/i.test(joined) ? /\bEND;$/i.test(joined) : joined.endsWith(";");
    if (done) {
      statements.push(joined.slice(0, -1));
      current = [];
    }
  }
  return statements;
}

// Two Workers share one D1 database (same id): a placeholder through which the harness
// reaches it, and the example consumer Worker, which reads what the Python DOs mirrored.
async function migratedD1() {
  const d1Databases = { DB: "agent-sessions" };
  const mf = new Miniflare({
    workers: [
      {
        name: "harness",
        modules: true,
        script: "export default { fetch() { return new Response('') } }",
        compatibilityDate: "2026-04-01",
        d1Databases,
        r2Buckets: ["ARCHIVE"],
      },
      {
        name: "consumer",
        modules: true,
        scriptPath: `${ROOT}examples/consumer-worker/src/index.js`,
        compatibilityDate: "2026-04-01",
        d1Databases,
      },
    ],
  });
  const db = await mf.getD1Database("DB");
  const archive = await mf.getR2Bucket("ARCHIVE", "harness");
  for (const file of readdirSync(`${ROOT}migrations`).sort()) {
    const text = readFileSync(`${ROOT}migrations/${file}`, "utf8");
    for (const statement of statementsOf(text)) await db.prepare(statement).run();
  }
  return { mf, db, archive };
}

function mount(py, hostPath, at) {
  py.FS.mkdirTree(at);
  py.FS.mount(py.FS.filesystems.NODEFS, { root: hostPath }, at);
}

async function main() {
  const started = Date.now();
  const SQL = await bindings.sqlite();
  const { mf, db, archive } = await migratedD1();

  const background = new bindings.Background();
  const env = {
    DB: new bindings.D1Database(db),
    SESSIONS: new bindings.DurableObjectNamespace(SQL, background),
    AGENT_SESSIONS_TOKENS: "worker-test-token-0123456789=default",
  };
  globalThis.__harness = {
    env,
    envWithoutSecret: { DB: env.DB, SESSIONS: env.SESSIONS },
    background,
    newState: (name = "test") =>
      new bindings.DurableObjectState(
        new bindings.DurableObjectStorage(new SQL.Database()),
        name,
        background,
      ),
    executionContext: () => new bindings.ExecutionContext(background),
    serviceBinding: () => new bindings.Fetcher(),
    archive: new bindings.R2Bucket(archive),
    consumer: async (path) => {
      const worker = await mf.getWorker("consumer");
      const response = await worker.fetch(`http://consumer.example${path}`);
      return JSON.stringify({ status: response.status, body: await response.json() });
    },
    settle: () => background.settle(),
  };

  const py = await loadPyodide();
  const booted = Date.now();
  mount(py, ROOT, "/project");
  py.registerJsModule("_cloudflare_compat_flags", {
    python_workflows_implicit_dependencies: true,
  });
  py.registerJsModule("_pyodide_entrypoint_helper", {
    patchWaitUntil: () => {},
    patch_env_helper: (x) => x,
    cloudflareWorkersModule: { env, waitUntil: (p) => background.add(p) },
    cloudflareSocketsModule: {},
    doAnImport: (name) => import(name),
  });
  await py.runPythonAsync(`
import os, sys
sys.path[:0] = ["/project/python_modules", "/project/.pyodide-test-site", "/project/src", "/project"]
os.chdir("/project")
`);
  const suite = await py.runPythonAsync(`
import pytest
pytest.main([
    "-q", "-p", "no:cacheprovider", "--junitxml=/project/.pyodide-test-site/engine-junit.xml",
    "tests/test_engine.py", *${JSON.stringify(pytestArgs)},
])
`);
  const scenarios = await py.runPythonAsync(`
import json
from tests.runtime.worker_scenarios import run_all
json.dumps(await run_all())
`);
  const report = {
    python: py.runPython("import sys; sys.version"),
    pyodide: py.version,
    boot_ms: booted - started,
    total_ms: Date.now() - started,
    engine_suite_exit: Number(suite),
    engine_junit: ".pyodide-test-site/engine-junit.xml",
    scenarios: JSON.parse(scenarios),
    background_errors: background.errors,
  };
  writeFileSync(reportPath, JSON.stringify(report, null, 2));
  await mf.dispose();
  console.log(`pyodide tier: ${report.scenarios.length} scenarios, ${report.total_ms} ms`);
}

await main();
