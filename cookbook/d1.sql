-- The D1 query cookbook: cross-session questions answered with plain SQL on the mirror.
-- Run them from any Worker bound to the same D1 database (env.DB.prepare(sql).bind(...)),
-- with `wrangler d1 execute agent-sessions --remote --command "..."`, or locally with
-- `sqlite3 data/d1.sqlite`. Parameters are numbered; ?1 is always the tenant.
-- tests/test_cookbook.py checks that each one is answered through an index, not a scan.
-- From a Worker, read through D1's Sessions API so that a read replica may answer:
-- env.DB.withSession(bookmark ?? "first-unconstrained").prepare(sql)..., where bookmark is
-- the caller's x-d1-bookmark (a bookmark an earlier read answered, agent-sessions' mirror
-- status of a session, or "first-primary" for the latest); hand getBookmark() back to the
-- caller for its next read (examples/consumer-worker, README "Reads that scale").

-- name: active_sessions_of_user
-- A user's active sessions, the most recently used first. ?2 = user_id
SELECT id, title, agent_name, message_count, updated_at
FROM sessions
WHERE tenant_id = ?1 AND user_id = ?2 AND status = 'active'
ORDER BY updated_at DESC
LIMIT 50;

-- name: updated_since
-- Sessions updated since a time (ms since the epoch), e.g. in the last hour. ?2 = since
SELECT id, user_id, agent_name, status, updated_at
FROM sessions
WHERE tenant_id = ?1 AND updated_at >= ?2
ORDER BY updated_at DESC;

-- name: messages_of_session
-- The messages of one session, in order. ?2 = session id
SELECT seq, role, content, created_at
FROM session_entries
WHERE tenant_id = ?1 AND session_id = ?2 AND type = 'message'
ORDER BY seq;

-- name: counts_by_agent_and_status
-- Sessions, messages and tokens per agent and status.
SELECT agent_name, status, count(*) AS sessions, sum(message_count) AS messages,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
FROM sessions
WHERE tenant_id = ?1
GROUP BY agent_name, status;

-- name: usage_by_user_and_agent
-- Tokens per user and agent since a time (ms). ?2 = since
SELECT user_id, agent_name, count(*) AS sessions,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
FROM sessions
WHERE tenant_id = ?1 AND updated_at >= ?2
GROUP BY user_id, agent_name
ORDER BY output_tokens DESC;
