-- The change-log cookbook: history beyond D1, from the `sessions` and `entries` streams
-- (README: "The change log"). The sink only appends, and a record may arrive more than
-- once (at-least-once delivery: the same idempotency_key and columns; an entry sent again
-- by a resync has a later version), so every query picks the state it wants by version and
-- collapses copies with GROUP BY.
--
-- They are written for R2 SQL, which has GROUP BY, HAVING and aggregates but no subqueries,
-- joins, window functions or SELECT DISTINCT. Where that needs an ordered aggregate
-- (last_value(x ORDER BY version): the column's value in the record of the highest version),
-- a second version of the query, marked "-- dialect: sqlite", does the same on SQLite with
-- its documented bare-column rule (with max(), the other columns come from the row holding
-- the maximum). tests/test_change_log.py runs the unmarked ones on Apache DataFusion (R2
-- SQL's engine) and on SQLite, and the sqlite ones on SQLite, over records the drain sent.
-- Parameters: $1 is the tenant, $2 a session id. On R2 SQL, write the values in place and
-- prefix the tables with their namespace (e.g. agent_sessions.sessions).

-- name: latest_sessions
-- Each live session's latest row: one record per session, from the highest version; a
-- session whose latest record is its deletion is left out.
SELECT tenant_id, session_id, max(version) AS version,
       last_value(status ORDER BY version) AS status,
       last_value(title ORDER BY version) AS title,
       last_value(agent_name ORDER BY version) AS agent_name,
       last_value(user_id ORDER BY version) AS user_id,
       last_value(entry_count ORDER BY version) AS entry_count,
       last_value(input_tokens ORDER BY version) AS input_tokens,
       last_value(output_tokens ORDER BY version) AS output_tokens,
       last_value(updated_at ORDER BY version) AS updated_at
FROM sessions
WHERE tenant_id = $1
GROUP BY tenant_id, session_id
HAVING last_value(op ORDER BY version) = 'upsert'
ORDER BY session_id;

-- name: latest_sessions
-- dialect: sqlite
SELECT tenant_id, session_id, max(version) AS version, status, title, agent_name, user_id,
       entry_count, input_tokens, output_tokens, updated_at
FROM sessions
WHERE tenant_id = $1
GROUP BY tenant_id, session_id
HAVING op = 'upsert'
ORDER BY session_id;

-- name: entries_of_session
-- Every entry a session was ever given, in the order it was written (a re-created session's
-- entries after the first incarnation's), each once however often it was sent: a copy sent
-- again by a resync has a later version, and the entry's is its first.
SELECT min(version) AS version, seq, id, type, role, content, input_tokens, output_tokens,
       created_at
FROM entries
WHERE tenant_id = $1 AND session_id = $2 AND op = 'append'
GROUP BY idempotency_key, seq, id, type, role, content, input_tokens, output_tokens,
         created_at
ORDER BY version, seq;

-- name: removed_ranges
-- The entries a prune or a replace removed from a session: seq through seq_to, at version.
SELECT version, seq, seq_to, at
FROM entries
WHERE tenant_id = $1 AND session_id = $2 AND op = 'delete'
GROUP BY idempotency_key, version, seq, seq_to, at
ORDER BY version;

-- name: copies
-- Records that arrived more than once (resent after a lost acknowledgement), per stream key.
SELECT idempotency_key, count(*) AS copies
FROM entries
WHERE tenant_id = $1
GROUP BY idempotency_key
HAVING count(*) > 1
ORDER BY idempotency_key;
