// Records what real workerd does with each Python value: Pyodide converts it with the SDK
// (python_to_rpc), then a JS Durable Object (SQLite storage) and D1, both in miniflare, store
// it into INTEGER, REAL, TEXT, BLOB and untyped/ANY columns and read it back.
// Writes tests/runtime/conformance.json; a diff after a miniflare upgrade shows any drift.
//
// Usage: node tests/runtime/record_conformance.mjs

import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { loadPyodide } from "pyodide";
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
const script = `${readFileSync(`${HERE}value_cases.mjs`, "utf8")}
import { DurableObject } from "cloudflare:workers";
export class Probe extends DurableObject {
  async run(cases) {
    return await probe((sql, ...params) => this.ctx.storage.sql.exec(sql, ...params).toArray(), cases);
  }
}
export default { fetch() { return new Response(""); } };`;
const mf = new Miniflare({
  modules: true,
  script,
  compatibilityDate: "2026-04-01",
  durableObjects: { PROBE: { className: "Probe", useSQLite: true } },
  d1Databases: { DB: "conformance" },
});
const namespace = await mf.getDurableObjectNamespace("PROBE");
const stub = namespace.get(namespace.idFromName("probe"));
const durableObject = await stub.run(convertible);
const db = await mf.getD1Database("DB");
const d1 = await probe(async (sql, ...params) => {
  const statement = db.prepare(sql);
  return (await (params.length ? statement.bind(...params) : statement).all()).results;
}, convertible);
await mf.dispose();

const miniflare = JSON.parse(readFileSync(`${ROOT}node_modules/miniflare/package.json`, "utf8")).version;
const record = { recorded_with: { miniflare, pyodide: version }, conversions: cases, durable_object: durableObject, d1 };
writeFileSync(`${HERE}conformance.json`, `${JSON.stringify(record, null, 1)}\n`);
console.log(`recorded ${cases.length} values (${convertible.length} convertible) with miniflare ${miniflare}`);
