-- applies to: d1
-- Migration 0001: the shared tables and D1's query indexes, as in schema.sql at the time.
-- D1 only: Durable Objects and local session files of release 1 got the same two tables from
-- that release's schema.sql (and no indexes); every store starts at version 1.
-- Applied migrations are frozen; later schema changes get new numbered files.

CREATE TABLE IF NOT EXISTS sessions ( tenant_id TEXT NOT NULL, id TEXT NOT NULL, data TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, user_id TEXT, agent_name TEXT, title TEXT, status TEXT NOT NULL DEFAULT 'active', parent_id TEXT, forked_from_seq INTEGER, leaf_id TEXT, entry_count INTEGER NOT NULL DEFAULT 0, message_count INTEGER NOT NULL DEFAULT 0, last_seq INTEGER NOT NULL DEFAULT 0, compacted_through_seq INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL, expires_at INTEGER, metadata TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (tenant_id, id) ) STRICT;
CREATE TABLE IF NOT EXISTS session_entries ( tenant_id TEXT NOT NULL, session_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, parent_id TEXT, type TEXT NOT NULL, role TEXT, content TEXT, payload TEXT, input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, PRIMARY KEY (tenant_id, session_id, seq), UNIQUE (tenant_id, session_id, id) ) STRICT;
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (tenant_id, user_id, status, updated_at);
CREATE INDEX IF NOT EXISTS sessions_by_agent ON sessions (tenant_id, agent_name, status, updated_at);
CREATE INDEX IF NOT EXISTS sessions_by_updated ON sessions (tenant_id, updated_at);
CREATE INDEX IF NOT EXISTS entries_by_created ON session_entries (tenant_id, session_id, created_at);
