// Stand-ins for the workerd bindings the Worker's Python code touches, for the Pyodide tier.
//
// They behave like workerd where our code can tell: class names (the SDK picks its wrappers
// by constructor name), `ctx.storage.sql.exec` binding every JS number as a REAL and a
// boolean as the text 'true'/'false', refusing BigInt and BEGIN/COMMIT, cursors with
// toArray/one/rowsRead/rowsWritten, BLOBs read back as ArrayBuffer, `transactionSync`,
// alarms, a Durable Object namespace whose stubs pass arguments and results through a
// structured clone as RPC does, and `waitUntil`. D1 is not imitated: `D1Database` wraps
// miniflare's real D1. tests/runtime/conformance.json, recorded from real workerd by
// record_conformance.mjs, is checked against SqlStorage by check_conformance.mjs.

import initSqlJs from "sql.js/dist/sql-wasm-debug.js";

let SQL;

/** sql.js, patched to bind every number as a double, as workerd does. */
export async function sqlite() {
  if (SQL) return SQL;
  SQL = await initSqlJs();
  const probe = new SQL.Database();
  const statement = probe.prepare("SELECT 1");
  const proto = Object.getPrototypeOf(statement);
  statement.free();
  probe.close();
  proto.bindNumber = function bindNumber(num, pos) {
    if (pos == null) {
      pos = this.pos;
      this.pos += 1;
    }
    this.db.handleError(SQL._sqlite3_bind_double(this.stmt, pos, num));
    return true;
  };
  return SQL;
}

const FORBIDDEN = /^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b/i;

function bindable(value) {
  if (typeof value === "bigint") {
    throw new TypeError("Cannot bind a BigInt: the value is out of the safe integer range");
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  if (value === undefined) throw new TypeError("Cannot bind undefined");
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return value;
}

function readable(value) {
  if (value instanceof Uint8Array) {
    return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
  }
  return value;
}

export class SqlStorageCursor {
  constructor(rows, columnNames, rowsWritten) {
    this._rows = rows;
    this._next = 0;
    this.columnNames = columnNames;
    this.rowsRead = rows.length;
    this.rowsWritten = rowsWritten;
  }
  toArray() {
    const rest = this._rows.slice(this._next);
    this._next = this._rows.length;
    return rest;
  }
  one() {
    if (this._rows.length !== 1) {
      throw new Error(`Expected exactly one result from SQL query, but got ${this._rows.length}.`);
    }
    return this.toArray()[0];
  }
  next() {
    return this._next < this._rows.length
      ? { done: false, value: this._rows[this._next++] }
      : { done: true, value: undefined };
  }
  [Symbol.iterator]() {
    return this;
  }
}

export class SqlStorage {
  constructor(db) {
    this._db = db;
  }
  exec(query, ...bindings) {
    if (FORBIDDEN.test(query)) {
      throw new Error(
        "To execute a transaction, please use the state.storage.transaction() or " +
          "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or " +
          "SAVEPOINT statements. The JavaScript API is safer because it will automatically " +
          "roll back on exceptions, and because it interacts correctly with Durable Objects' " +
          "automatic atomic write coalescing.",
      );
    }
    const statement = this._db.prepare(query);
    try {
      statement.bind(bindings.map(bindable));
      const rows = [];
      const names = statement.getColumnNames();
      while (statement.step()) {
        const values = statement.get();
        rows.push(Object.fromEntries(names.map((n, i) => [n, readable(values[i])])));
      }
      return new SqlStorageCursor(rows, names, this._db.getRowsModified());
    } catch (error) {
      throw new Error(`${error.message ?? error}: SQLITE_ERROR`);
    } finally {
      statement.free();
    }
  }
  get databaseSize() {
    return this._db.export().length;
  }
}

export class DurableObjectStorage {
  constructor(db) {
    this._db = db;
    this.sql = new SqlStorage(db);
    this._alarm = null;
    this._depth = 0;
  }
  transactionSync(fn) {
    const name = `tx${++this._depth}`;
    this._db.run(`SAVEPOINT ${name}`);
    try {
      const result = fn();
      this._db.run(`RELEASE ${name}`);
      return result;
    } catch (error) {
      this._db.run(`ROLLBACK TO ${name}`);
      this._db.run(`RELEASE ${name}`);
      throw error;
    } finally {
      this._depth -= 1;
    }
  }
  async getAlarm() {
    return this._alarm;
  }
  async setAlarm(when) {
    this._alarm = typeof when === "number" ? when : Number(when);
  }
  async deleteAlarm() {
    this._alarm = null;
  }
  /** Rows as arrays, without conversions: the tests' raw view of the database. */
  rawQuery(query, params = []) {
    const statement = this._db.prepare(query);
    try {
      statement.bind(params);
      const rows = [];
      while (statement.step()) rows.push(statement.get());
      return rows;
    } finally {
      statement.free();
    }
  }
}

/** Collects waitUntil promises so a test can wait for the background work to finish. */
export class Background {
  constructor() {
    this.pending = [];
    this.errors = [];
  }
  add(awaitable) {
    // A Python awaitable arrives as a borrowed proxy, freed when this call returns:
    // subscribe to it now, synchronously.
    const promise = new Promise((resolve, reject) => awaitable.then(resolve, reject));
    this.pending.push(promise.catch((error) => this.errors.push(String(error))));
  }
  async settle() {
    while (this.pending.length) {
      const batch = this.pending.splice(0);
      await Promise.all(batch);
    }
  }
}

export class DurableObjectState {
  constructor(storage, name, background) {
    this.storage = storage;
    this.id = { name, toString: () => name };
    this._background = background;
  }
  waitUntil(awaitable) {
    this._background.add(awaitable);
  }
  async blockConcurrencyWhile(fn) {
    return await fn();
  }
}

export class ExecutionContext {
  constructor(background) {
    this._background = background;
  }
  waitUntil(awaitable) {
    this._background.add(awaitable);
  }
  passThroughOnException() {}
}

function fromPython(value) {
  if (value && typeof value.toJs === "function") {
    const converted = value.toJs({ dict_converter: Object.fromEntries, create_pyproxies: false });
    value.destroy();
    return converted;
  }
  return value;
}

/** Durable Object namespace: one instance per name, RPC through a structured clone. */
export class DurableObjectNamespace {
  constructor(SQL, background) {
    this._SQL = SQL;
    this._background = background;
    this._instances = new Map();
    this.factory = null; // (ctx) => Python object, set by the Python side
    this.calls = 0;
  }
  instance(name) {
    if (!this._instances.has(name)) {
      const storage = new DurableObjectStorage(new this._SQL.Database());
      const ctx = new DurableObjectState(storage, name, this._background);
      this._instances.set(name, { object: this.factory(ctx), storage, ctx });
    }
    return this._instances.get(name);
  }
  /** Run the object's alarm as workerd does: the alarm counts as deleted while its handler
   *  runs, so getAlarm() is null there until the handler sets a new one (Cloudflare's
   *  alarms API reference). */
  async fireAlarm(name) {
    const { object, storage } = this.instance(name);
    storage._alarm = null;
    await object.alarm();
  }
  idFromName(name) {
    return { name, toString: () => name };
  }
  get(id) {
    return this.getByName(id.name);
  }
  getByName(name) {
    const namespace = this;
    const stub = new DurableObjectStub(name);
    return new Proxy(stub, {
      get(target, prop) {
        if (typeof prop === "symbol" || prop in target || prop === "then") return target[prop];
        return async (...args) => {
          namespace.calls += 1;
          const { object } = namespace.instance(name);
          const result = await object[prop](...structuredClone(args));
          return structuredClone(fromPython(result));
        };
      },
    });
  }
}

/** A service binding to another Worker's entrypoint: RPC through a structured clone, under
 *  the class name the SDK recognises (it then converts arguments and results). The Python
 *  side sets `entrypoint`, the object whose methods the calls reach. */
export class Fetcher {
  constructor() {
    this.entrypoint = null;
    return new Proxy(this, {
      get(target, prop) {
        if (typeof prop === "symbol" || prop in target || prop === "then") return target[prop];
        return async (...args) => {
          const result = await target.entrypoint[prop](...structuredClone(args));
          return structuredClone(fromPython(result));
        };
      },
    });
  }
}

export class DurableObjectStub {
  constructor(name) {
    this.name = name;
  }
}

/** miniflare's real R2, under the class name the SDK recognises. */
export class R2Bucket {
  constructor(real) {
    this._real = real;
  }
  async put(key, value) {
    return await this._real.put(key, value);
  }
  async get(key) {
    return await this._real.get(key);
  }
  async delete(key) {
    return await this._real.delete(key);
  }
}

/** miniflare's real D1, under the class name the SDK recognises, with a failure switch. */
export class D1Database {
  constructor(real) {
    this._real = real;
    this.failures = 0; // the next N batches fail before reaching D1
    this.batches = 0;
  }
  prepare(query) {
    return new D1PreparedStatement(this._real.prepare(query));
  }
  async batch(statements) {
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error("D1_ERROR: Network connection lost.");
    }
    this.batches += 1;
    return await this._real.batch(statements.map((s) => s._real));
  }
  async exec(query) {
    return await this._real.exec(query);
  }
}

export class D1PreparedStatement {
  constructor(real) {
    this._real = real;
  }
  bind(...values) {
    return new D1PreparedStatement(this._real.bind(...values));
  }
  async all() {
    return await this._real.all();
  }
  async run() {
    return await this._real.run();
  }
  async first(column) {
    return await this._real.first(column);
  }
  async raw(options) {
    return await this._real.raw(options);
  }
}
