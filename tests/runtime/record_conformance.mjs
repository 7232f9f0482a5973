// Records what real workerd does with each Python value: Pyodide converts it with the SDK
// (python_to_rpc), then a JS Durable Object (SQLite storage) and D1, both in workerd through
// wrangler, store it into INTEGER, REAL, TEXT, BLOB and untyped/ANY columns and read it back.
// Writes tests/runtime/conformance.json; a diff after a workerd upgrade shows any drift.
//
// Usage: node tests/runtime/record_conformance.mjs

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";
import { unstable_dev } from "wrangler";
import { PYTHON_CASES, probe, tag } from "./value_cases.mjs";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

async function pyodideValues() {
  const py = await loadPyodide();
  py.FS.mkdirTree("/python_modules");
  py.FS.mount(py.FS.filesystems.NODEFS, { root: `${ROOT}python_modules` }, "/python_modules");
  py.registerJsModule("_cloudflare_compat_flags", { python_workflows_implicit_dependencies: true });
  py.registerJsModule("_pyodide_entrypoint_helper", {});
  py.runPython("import sys; sys.path.insert(0, '/python_modules'); from workers import python_to_rpc");
  return {
    version: py.version,
    cases: PYTHON_CASES.map((python) => {
      let js;
      try {
        js = tag(py.runPython(`python_to_rpc(${python})`));
      } catch (error) {
        js = { type: "conversion error", value: String(error.message).split("\n").at(-2) };
      }
      return { python, js };
    }),
  };
}

const { version, cases } = await pyodideValues();
const convertible = cases.filter((c) => c.js.type !== "conversion error");
// The probe: a JavaScript Durable Object (SQLite storage) and D1, run by wrangler in workerd.
const dir = mkdtempSync(join(tmpdir(), "conformance-"));
writeFileSync(
  join(dir, "probe.mjs"),
  `${readFileSync(`${HERE}value_cases.mjs`, "utf8")}
import { DurableObject } from "cloudflare:workers";
export class Probe extends DurableObject {
  async run(cases) {
    return await probe((sql, ...params) => this.ctx.storage.sql.exec(sql, ...params).toArray(), cases);
  }
}
export default {
  async fetch(request, env) {
    const cases = await request.json();
    const stub = env.PROBE.get(env.PROBE.idFromName("probe"));
    const d1 = await probe(async (sql, ...params) => {
      const statement = env.DB.prepare(sql);
      return (await (params.length ? statement.bind(...params) : statement).all()).results;
    }, cases);
    return Response.json({ durable_object: await stub.run(cases), d1 });
  },
};`,
);
writeFileSync(
  join(dir, "wrangler.toml"),
  `name = "conformance-probe"
main = "probe.mjs"
compatibility_date = "2026-09-08"
[[durable_objects.bindings]]
name = "PROBE"
class_name = "Probe"
[[migrations]]
tag = "v1"
new_sqlite_classes = ["Probe"]
[[d1_databases]]
binding = "DB"
database_name = "conformance"
database_id = "00000000-0000-0000-0000-000000000001"
`,
);
const worker = await unstable_dev(join(dir, "probe.mjs"), {
  config: join(dir, "wrangler.toml"),
  persistTo: join(dir, "state"),
  experimental: { disableExperimentalWarning: true },
});
const { durable_object: durableObject, d1 } = await (
  await worker.fetch("http://probe/", { method: "POST", body: JSON.stringify(convertible) })
).json();
await worker.stop();
rmSync(dir, { recursive: true, force: true });

const workerd = JSON.parse(readFileSync(`${ROOT}node_modules/workerd/package.json`, "utf8")).version;
const record = { recorded_with: { workerd, pyodide: version }, conversions: cases, durable_object: durableObject, d1 };
writeFileSync(`${HERE}conformance.json`, `${JSON.stringify(record, null, 1)}\n`);
console.log(`recorded ${cases.length} values (${convertible.length} convertible) with workerd ${workerd}`);
