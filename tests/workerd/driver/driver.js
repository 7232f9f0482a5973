// What the tests can ask of the Workers under test, as another Worker would ask it:
//   POST /rpc/<binding>/<method>   body: [args...]  → env[binding][method](...args)
//   POST /do/<object name>/<method> body: [args...] → env.SESSIONS.getByName(name)[method](...)
//                                   (parsed: a Durable Object answers JSON text)
//   POST /d1                       body: {sql, params, binding} → env[binding ?? "DB"]
//                                  .prepare(sql).bind(...).all() (binding: a shard's)
//   GET  /r2/<key>                 → the object's bytes (404 if absent)
//   ANY  /fetch/<binding>/<path>   → env[binding].fetch(<path>) with the same method and body
// Answers are {"value": ...} or, when the call threw, {"thrown": "<message>"}, so a test sees
// what a calling Worker would see.

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
    if (kind === "fetch") {
      const [binding, ...path] = rest;
      const target = new URL(`/${path.join("/")}${url.search}`, "https://worker.internal");
      return env[binding].fetch(new Request(target, request));
    }
    return new Response("no such route", { status: 404 });
  },
};
