// Sessions by user, and a session's messages, straight from agent-sessions' D1 mirror.
//   GET /sessions?tenant=default&user=ada      a user's active sessions, newest first
//   GET /sessions/<id>/messages?tenant=default  the messages of one session, in order
// The SQL is the cookbook's (cookbook/d1.sql), answered through D1's indexes, in the tenant's
// database (shards.js: one database, DB, unless the mirror is sharded).
// Reads go through D1's Sessions API, so that a read replica may answer them: a request's
// x-d1-bookmark header says how fresh (a bookmark an earlier answer gave, or agent-sessions'
// mirror status for a session, or "first-primary"); without one, any copy will do. The answer
// carries the bookmark after the read in the same header, for the caller's next request.

import { databaseOf } from "./shards.js";

const ACTIVE_SESSIONS_OF_USER = `
  SELECT id, title, agent_name, message_count, updated_at
  FROM sessions
  WHERE tenant_id = ?1 AND user_id = ?2 AND status = 'active'
  ORDER BY updated_at DESC
  LIMIT 50`;

const MESSAGES_OF_SESSION = `
  SELECT seq, role, content, created_at
  FROM session_entries
  WHERE tenant_id = ?1 AND session_id = ?2 AND type = 'message'
  ORDER BY seq`;

const BOOKMARK = "x-d1-bookmark";

function json(body, status = 200) {
  return Response.json(body, { status });
}

function withBookmark(response, session) {
  const bookmark = session.getBookmark();
  if (bookmark) response.headers.set(BOOKMARK, bookmark);
  return response;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const tenant = url.searchParams.get("tenant") ?? "default";
    const db = (await databaseOf(env, tenant)).withSession(
      request.headers.get(BOOKMARK) || "first-unconstrained",
    );
    if (url.pathname === "/sessions") {
      const user = url.searchParams.get("user");
      if (!user) return json({ error: { code: "invalid", message: "user is required" } }, 422);
      const { results } = await db.prepare(ACTIVE_SESSIONS_OF_USER).bind(tenant, user).all();
      return withBookmark(json({ sessions: results }), db);
    }
    const match = url.pathname.match(/^\/sessions\/([^/]+)\/messages$/);
    if (match) {
      const { results } = await db.prepare(MESSAGES_OF_SESSION).bind(tenant, match[1]).all();
      return withBookmark(json({ messages: results }), db);
    }
    return json({ error: { code: "not_found", message: "no such route" } }, 404);
  },
};
