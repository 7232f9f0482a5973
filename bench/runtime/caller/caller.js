// POST /<method> [args...] -> env.GATEWAY[method](...args), answered as JSON: the gateway's
// own {"ok": ...} / {"error": ...} envelope, as the calling Worker receives it.
export default {
  async fetch(request, env) {
    const method = new URL(request.url).pathname.slice(1);
    if (request.method !== "POST" || !method) return new Response("no such route", { status: 404 });
    const args = await request.json();
    return Response.json(await env.GATEWAY[method](...args));
  },
};
