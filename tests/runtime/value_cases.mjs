// The value-conversion table shared by record_conformance.mjs (real workerd) and
// check_conformance.mjs (the stand-in): JS values described as JSON tags, the tables they are
// written into, and a JSON description of what comes back.

// Python values, as Python source; the recorder converts each with the SDK's python_to_rpc.
export const PYTHON_CASES = [
  "42", "-7", "0", "2**31", "2**52", "2**52 + 1", "-(2**52) - 1", "2**53 - 1", "2**53", "2**60",
  "1.5", "-0.25", "1e300", "True", "False", "None",
  "'hello'", "'42'", "''", "'é✓'", "b'\\x00\\x01\\xff'", "'{\"a\": 1}'",
];

export const TABLES = {
  loose: "CREATE TABLE loose (i INTEGER, r REAL, t TEXT, b BLOB, n)",
  strict: "CREATE TABLE strict (i INTEGER, r REAL, t TEXT, b BLOB, a ANY) STRICT",
};
const COLUMNS = { loose: ["i", "r", "t", "b", "n"], strict: ["i", "r", "t", "b", "a"] };

/** A JSON tag for a JS value, enough to rebuild it exactly. */
export function tag(value) {
  if (value === null) return { type: "null" };
  if (typeof value === "bigint") return { type: "bigint", value: value.toString() };
  if (value instanceof Uint8Array) return { type: "Uint8Array", bytes: Array.from(value) };
  if (typeof value === "number") return { type: "number", value: String(value) };
  return { type: typeof value, value };
}

export function untag(t) {
  switch (t.type) {
    case "null": return null;
    case "bigint": return BigInt(t.value);
    case "Uint8Array": return new Uint8Array(t.bytes);
    case "number": return Number(t.value);
    default: return t.value;
  }
}

/** A JSON description of a value read back from SQLite. */
export function describe(value) {
  if (value instanceof ArrayBuffer) return { type: "ArrayBuffer", bytes: Array.from(new Uint8Array(value)) };
  if (value instanceof Uint8Array) return { type: "Uint8Array", bytes: Array.from(value) };
  return tag(value);
}

/** The part of an error message that must match: SQLite's own words where it has them. */
export function errorKind(error) {
  const text = String(error?.message ?? error);
  const sqlite = text.match(/cannot store \w+ value in \w+ column/);
  if (sqlite) return sqlite[0];
  if (/bigint/i.test(text)) return "bigint refused";
  return "error";
}

/** Run every case through `exec(sql, ...params) -> rows` (sync or async) on every table. */
export async function probe(exec, cases) {
  const results = [];
  for (const [table, ddl] of Object.entries(TABLES)) {
    await exec(`DROP TABLE IF EXISTS ${table}`);
    await exec(ddl);
    for (const c of cases) {
      const value = untag(c.js);
      await exec(`DELETE FROM ${table}`);
      const cols = COLUMNS[table];
      let outcome;
      try {
        await exec(`INSERT INTO ${table} VALUES (${cols.map(() => "?").join(", ")})`, ...cols.map(() => value));
        const [row] = await exec(`SELECT ${cols.map((c) => `${c}, typeof(${c}) AS ${c}_type`).join(", ")}, 'id-' || ? AS concat FROM ${table}`, value);
        outcome = Object.fromEntries(cols.map((col) => [col, { stored: row[`${col}_type`], read: describe(row[col]) }]));
        outcome.concat = describe(row.concat);
      } catch (error) {
        outcome = { error: errorKind(error) };
      }
      results.push({ table, python: c.python, outcome });
    }
  }
  return results;
}
