// The platform's floor: agent-sessions' own statements (env.STATEMENTS, from
// src/agent_sessions/engine/statements.py and ddl.py) in a plain JavaScript Durable Object,
// one object per session, behind a Worker with the same HTTP shape as the gateway:
//   POST /v1/sessions/<id>                     create (setup only)
//   POST /v1/sessions/<id>/entries  {entries}  append: SELECT head, multi-row INSERT,
//                                              UPDATE session, INSERT outbox, in one transaction
//   GET  /v1/sessions/<id>/entries?order=desc&limit=N   a page: SELECT session, SELECT entries
//   GET  /v1/sessions/<id>/context             SELECT session, the recursive branch walk
//   PUT  /v1/sessions/<id>/leaf {entry_id}     move the leaf (setup only: past a compaction)
// Nothing is validated: this is the cost of the statements and the platform, nothing else.
import { DurableObject } from "cloudflare:workers";

const TENANT = "default";
let parsed = null;

function statements(env) {
  parsed ??= JSON.parse(env.STATEMENTS);
  return parsed;
}

function newId() {
  const random = crypto.getRandomValues(new Uint8Array(10));
  const hex = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  return Date.now().toString(16).padStart(12, "0") + hex;
}

function entry(row) {
  return { ...row, payload: row.payload === null ? null : JSON.parse(row.payload) };
}

export class FloorObject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.q = statements(env);
    this.sql = ctx.storage.sql;
    for (const ddl of this.q.schema) this.sql.exec(ddl);
  }

  create(sessionId) {
    const now = Date.now();
    this.sql.exec(this.q.create_session, TENANT, sessionId, now, now);
    return { id: sessionId, version: 1 };
  }

  append(sessionId, entries) {
    const q = this.q;
    return this.ctx.storage.transactionSync(() => {
      const head = this.sql.exec(q.select_head, TENANT, sessionId).toArray()[0];
      if (head === undefined) return { error: "not_found" };
      const now = Math.max(Date.now(), head.updated_at);
      let leaf = head.leaf_id;
      let seq = head.last_seq;
      let messages = 0;
      let compacted = null;
      const rows = [];
      const written = [];
      for (const e of entries) {
        const id = e.id ?? newId();
        seq += 1;
        const payload = e.payload == null ? null : JSON.stringify(e.payload);
        rows.push([TENANT, sessionId, seq, id, e.parent_id ?? leaf, e.type, e.role ?? null,
          e.content ?? null, payload, e.input_tokens ?? 0, e.output_tokens ?? 0, now, null]);
        if (e.type === "message") messages += 1;
        if (e.type === "compaction") compacted = e.payload?.first_kept_seq - 1;
        written.push({ id, seq });
        leaf = id;
      }
      if (compacted !== null && compacted > head.compacted_through_seq) {
        this.sql.exec(q.update_compacted, compacted, TENANT, sessionId);
      }
      for (let start = 0; start < rows.length; start += q.entry_rows_per_insert) {
        const chunk = rows.slice(start, start + q.entry_rows_per_insert);
        this.sql.exec(q.insert_entries[chunk.length - 1], ...chunk.flat());
      }
      const version = head.version + 1;
      const first = head.last_seq + 1;
      this.sql.exec(q.update_after_append, entries.length, messages, 0, 0, seq, leaf, version,
        now, TENANT, sessionId);
      this.sql.exec(q.insert_outbox, TENANT, sessionId, "append_entries", version, first, seq,
        now);
      return { entries: written, first_seq: first, last_seq: seq, version };
    });
  }

  setLeaf(sessionId, entryId) {
    const head = this.sql.exec(this.q.select_head, TENANT, sessionId).toArray()[0];
    if (head === undefined) return { error: "not_found" };
    const version = head.version + 1;
    this.sql.exec(this.q.update_leaf, entryId, version, Date.now(), TENANT, sessionId);
    return { leaf_id: entryId, version };
  }

  readEntries(sessionId, order, limit) {
    if (this.sql.exec(this.q.select_session, TENANT, sessionId).toArray().length === 0) {
      return { error: "not_found" };
    }
    const statement = order === "desc" ? this.q.select_entries_desc : this.q.select_entries_asc;
    const rows = this.sql.exec(statement, TENANT, sessionId, 0, null, null, null, null,
      limit + 1).toArray();
    return { entries: rows.slice(0, limit).map(entry), has_more: rows.length > limit };
  }

  readContext(sessionId) {
    const session = this.sql.exec(this.q.select_session, TENANT, sessionId).toArray()[0];
    if (session === undefined) return { error: "not_found" };
    if (session.leaf_id === null) return { entries: [], leaf_id: null, compaction_seq: null };
    const rows = this.sql.exec(this.q.select_context, TENANT, sessionId, session.leaf_id, TENANT,
      sessionId).toArray().map(entry);
    rows.sort((a, b) => a.seq - b.seq);
    const compactions = rows.filter((e) => e.type === "compaction");
    const latest = compactions.at(-1) ?? null;
    const ordered = latest === null ? rows : [latest, ...rows.filter((e) => e !== latest)];
    return { entries: ordered, leaf_id: session.leaf_id, compaction_seq: latest?.seq ?? null };
  }
}

function answer(result, status = 200) {
  return Response.json(result, { status: result?.error ? 404 : status });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, version, kind, sessionId, what] = url.pathname.split("/");
    if (version !== "v1" || kind !== "sessions" || !sessionId) {
      return new Response("no such route", { status: 404 });
    }
    const stub = env.FLOOR.getByName(`${TENANT}:${sessionId}`);
    if (request.method === "POST" && what === undefined) {
      return answer(await stub.create(sessionId), 201);
    }
    if (request.method === "POST" && what === "entries") {
      const body = await request.json();
      return answer(await stub.append(sessionId, body.entries), 201);
    }
    if (request.method === "GET" && what === "entries") {
      const order = url.searchParams.get("order") ?? "asc";
      const limit = Number(url.searchParams.get("limit") ?? 100);
      return answer(await stub.readEntries(sessionId, order, limit));
    }
    if (request.method === "PUT" && what === "leaf") {
      const body = await request.json();
      return answer(await stub.setLeaf(sessionId, body.entry_id));
    }
    if (request.method === "GET" && what === "context") {
      return answer(await stub.readContext(sessionId));
    }
    return new Response("no such route", { status: 404 });
  },
};
