// What the tests can ask of the Workers under test, as another Worker would ask it:
//   POST /rpc/<binding>/<method>   body: [args...]  → env[binding][method](...args)
//   POST /do/<object name>/<method> body: [args...] → env.SESSIONS.getByName(name)[method](...)
//                                   (parsed: a Durable Object answers JSON text)
//   POST /d1                       body: {sql, params, binding} → env[binding ?? "DB"]
//                                  .prepare(sql).bind(...).all() (binding: a shard's)
//   GET  /r2/<key>                 → the object's bytes (404 if absent)
//   ANY  /fetch/<binding>/<path>   → env[binding].fetch(<path>) with the same method and body
//   POST /scheduled/<binding>      body: {scheduledTime, cron} → env[binding].scheduled(...)
//                                  (that Worker's cron handler, given a cron event's fields)
//   GET  /changes                  → every `send(records)` the ChangeSink entrypoint received
// Answers are {"value": ...} or, when the call threw, {"thrown": "<message>"}, so a test sees
// what a calling Worker would see.

import { WorkerEntrypoint } from "cloudflare:workers";

const received = [];

// A change-log stream for the tests: what miniflare's own local Pipelines binding is (a
// service bound to an entrypoint with `send(records)`, which there drops the records), but
// keeping them, so a test sees what the Worker sent. Bound as ENTRY_CHANGES in the changes
// stack (tests/workerd/conftest.py).
export class ChangeSink extends WorkerEntrypoint {
  async send(records) {
    received.push(records);
  }
}

async function settle(call) {
  try {
    return Response.json({ value: (await call()) ?? null });
  } catch (error) {
    return Response.json({ thrown: String(error?.message ?? error) });
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, kind, ...rest] = url.pathname.split("/");
    if (kind === "rpc") {
      const [binding, method] = rest;
      const args = await request.json();
      return settle(() => env[binding][method](...args));
    }
    if (kind === "do") {
      // A Durable Object answers its RPC calls as JSON text (adapters/rpc.py: envelope).
      const [name, method] = rest.map(decodeURIComponent);
      const args = await request.json();
      return settle(async () => JSON.parse(await env.SESSIONS.getByName(name)[method](...args)));
    }
    if (kind === "d1") {
      const { sql, params = [], binding = "DB" } = await request.json();
      return settle(async () => (await env[binding].prepare(sql).bind(...params).all()).results);
    }
    if (kind === "r2") {
      const found = await env.ARCHIVE.get(rest.map(decodeURIComponent).join("/"));
      return found === null ? new Response(null, { status: 404 }) : new Response(found.body);
    }
    if (kind === "scheduled") {
      const options = await request.json();
      return settle(() => env[rest[0]].scheduled(options));
    }
    if (kind === "changes") {
      return Response.json({ value: received });
    }
    if (kind === "fetch") {
      const [binding, ...path] = rest;
      const target = new URL(`/${path.join("/")}${url.search}`, "https://worker.internal");
      return env[binding].fetch(new Request(target, request));
    }
    return new Response("no such route", { status: 404 });
  },
};
