// Which D1 database holds a tenant's rows, by agent-sessions' shard map (its README, "The D1
// mirror": D1_SHARDS, TENANT_SHARDS). Give this Worker the same two vars and the same D1
// bindings as agent-sessions; without them every tenant is in DB, as before sharding.
// The rule: a tenant named in TENANT_SHARDS is where it says (while it moves, on "from",
// the database that is complete); every other tenant is on the binding, among those no
// tenant was given, whose SHA-256 of "binding/tenant" (first 8 bytes, big-endian) is highest.

function setting(value, fallback) {
  if (value === undefined || value === null || value === "") return fallback;
  return typeof value === "string" ? JSON.parse(value) : value;
}

async function weight(binding, tenant) {
  const text = new TextEncoder().encode(`${binding}/${tenant}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", text));
  return digest.slice(0, 8).reduce((n, byte) => (n << 8n) | BigInt(byte), 0n);
}

export async function shardOf(env, tenant) {
  const bindings = setting(env.D1_SHARDS, ["DB"]);
  const explicit = setting(env.TENANT_SHARDS, {});
  const placed = explicit[tenant];
  if (placed !== undefined) return typeof placed === "string" ? placed : placed.from;
  const given = new Set(Object.values(explicit).map((p) => (typeof p === "string" ? p : p.to)));
  const pool = bindings.filter((b) => !given.has(b));
  let best = pool[0];
  let highest = -1n;
  for (const binding of pool) {
    const w = await weight(binding, tenant);
    if (w > highest) [best, highest] = [binding, w];
  }
  return best;
}

export async function databaseOf(env, tenant) {
  return env[await shardOf(env, tenant)];
}
