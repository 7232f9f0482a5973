// The stand-in for a Durable Object's `ctx.storage` that the engine's conformance suite runs on
// inside Pyodide (harness.mjs), for what it proves better than the real-workerd tier
// (tests/workerd/): the value conversions cell by cell, and crash injection inside
// `transactionSync`.
//
// It behaves like workerd where our code can tell: class names (the SDK picks its wrappers
// by constructor name), `ctx.storage.sql.exec` binding every JS number as a REAL and a
// boolean as the text 'true'/'false', refusing BigInt and BEGIN/COMMIT, cursors with
// toArray/one/rowsRead/rowsWritten, BLOBs read back as ArrayBuffer, and `transactionSync`.
// tests/runtime/conformance.json, recorded from real workerd by record_conformance.mjs, is
// checked against SqlStorage by check_conformance.mjs.

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
    // As workerd: a text of several statements runs each, the bindings going to the last
    // one, whose rows the cursor holds.
    const statements = this._db.iterateStatements(query);
    try {
      for (const statement of statements) {
        if (/[^\s;]/.test(statements.getRemainingSQL())) {
          while (statement.step());
          continue;
        }
        statement.bind(bindings.map(bindable));
        const rows = [];
        const names = statement.getColumnNames();
        while (statement.step()) {
          const values = statement.get();
          rows.push(Object.fromEntries(names.map((n, i) => [n, readable(values[i])])));
        }
        return new SqlStorageCursor(rows, names, this._db.getRowsModified());
      }
    } catch (error) {
      throw new Error(`${error.message ?? error}: SQLITE_ERROR`);
    }
    throw new Error("exec: no statement in the query: SQLITE_ERROR");
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

export class DurableObjectState {
  constructor(storage, name) {
    this.storage = storage;
    this.id = { name, toString: () => name };
  }
}
