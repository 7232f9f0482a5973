-- agent-sessions: the storage layout as it is now, runnable as is (sqlite3 db < schema.sql).
--
-- Sections are marked with "-- @section <name>" lines:
--   shared  tables that exist with identical columns in every Durable Object and in D1;
--   do      tables only a Durable Object (or a local session file) holds;
--   d1      indexes only D1 (or the local mirror file) needs, for cross-session queries.
--
-- scripts/sync_schema.py turns this file and migrations/ into src/agent_sessions/engine/ddl.py
-- (what a Durable Object and the local store run at start); tests/test_schema.py holds
-- migrations/ to this file.
--
-- Tables are STRICT: an INTEGER column then refuses text (a bool bound in a Durable Object
-- arrives as 'true') and fractions. STRICT does not help TEXT columns: the Python Workers
-- runtime binds every number as a REAL, which a TEXT column stores as '42.0', so the engine
-- never binds a number where text is meant (agent_sessions/engine/values.py).
-- Times are milliseconds since the Unix epoch. JSON columns hold compact JSON text.
--
-- Changing the layout: edit it here (what a new store gets). When an existing store must
-- change too (a column, a rebuilt table, a backfill) or D1 gains a table or an index, write
-- the upgrade once, as the next migrations/000N_*.sql, its first line saying where it applies
-- ("-- applies to: shared", "d1" or "do"; the README's "Schema versions" says how). A table
-- or index only Durable Objects hold needs no migration: a store whose schema digest changed
-- runs this file's CREATE ... IF NOT EXISTS again at its next start.

-- @section shared
CREATE TABLE IF NOT EXISTS sessions (
  tenant_id              TEXT    NOT NULL,
  id                     TEXT    NOT NULL,
  data                   TEXT,
  created_at             INTEGER NOT NULL,
  updated_at             INTEGER NOT NULL,
  user_id                TEXT,
  agent_name             TEXT,
  title                  TEXT,
  status                 TEXT    NOT NULL DEFAULT 'active',
  parent_id              TEXT,
  forked_from_seq        INTEGER,
  leaf_id                TEXT,
  entry_count            INTEGER NOT NULL DEFAULT 0,
  message_count          INTEGER NOT NULL DEFAULT 0,
  last_seq               INTEGER NOT NULL DEFAULT 0,
  compacted_through_seq  INTEGER NOT NULL DEFAULT 0,
  input_tokens           INTEGER NOT NULL DEFAULT 0,
  output_tokens          INTEGER NOT NULL DEFAULT 0,
  version                INTEGER NOT NULL,
  expires_at             INTEGER,
  metadata               TEXT    NOT NULL DEFAULT '{}',
  status_changed_at      INTEGER,
  archive_key            TEXT,
  PRIMARY KEY (tenant_id, id)
) STRICT;

CREATE TABLE IF NOT EXISTS session_entries (
  tenant_id      TEXT    NOT NULL,
  session_id     TEXT    NOT NULL,
  seq            INTEGER NOT NULL,
  id             TEXT    NOT NULL,
  parent_id      TEXT,
  type           TEXT    NOT NULL,
  role           TEXT,
  content        TEXT,
  payload        TEXT,
  input_tokens   INTEGER NOT NULL DEFAULT 0,
  output_tokens  INTEGER NOT NULL DEFAULT 0,
  created_at     INTEGER NOT NULL,
  blob           TEXT,
  PRIMARY KEY (tenant_id, session_id, seq),
  UNIQUE (tenant_id, session_id, id)
) STRICT;

-- @section do
-- Key/value facts about this store: the schema version, and per-session high-water marks
-- that must outlive a deleted session (so a re-created session never reuses a version).
CREATE TABLE IF NOT EXISTS store_meta (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
) STRICT;

-- Mirror work, written in the same transaction as the change it describes, and removed
-- only after D1 has acknowledged it. The id orders the work and is never reused
-- (AUTOINCREMENT): an acknowledgement deletes "id <= n", and a reused id would name work that
-- was never sent. op is one of
--   upsert_session  the session row changed (ship the current row);
--   append_entries  entries seq_from..seq_to were added (seq_from advances as pages ship);
--   delete_session  the session was deleted at `version` (a tombstone);
--   delete_entries  entries seq_from..seq_to were deleted (prune, replace): a tombstone;
--   resync          rebuild this session's D1 rows from scratch (see parity repair).
CREATE TABLE IF NOT EXISTS mirror_outbox (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id   TEXT    NOT NULL,
  session_id  TEXT    NOT NULL,
  op          TEXT    NOT NULL,
  version     INTEGER NOT NULL,
  seq_from    INTEGER,
  seq_to      INTEGER,
  created_at  INTEGER NOT NULL
) STRICT;

-- The fence of the session's writer (see SessionEngine.claim_writer): a claim increments
-- epoch and fences every earlier writer; next_seq is the writer sequence the next append
-- must carry; the last append's digest and result answer an exact retry. Kept across a
-- delete, so writers of a deleted session stay fenced.
CREATE TABLE IF NOT EXISTS session_writers (
  tenant_id    TEXT    NOT NULL,
  session_id   TEXT    NOT NULL,
  epoch        INTEGER NOT NULL,
  writer_id    TEXT    NOT NULL,
  next_seq     INTEGER NOT NULL,
  last_digest  TEXT,
  last_result  TEXT,
  PRIMARY KEY (tenant_id, session_id)
) STRICT;

-- Sessions the cold tier has moved to R2 and evicted from this store: their snapshot's key
-- and the version it holds (a hydrate restores it; an older snapshot is never restored), and
-- when the session expires (the lifecycle sweep still deletes it on time).
CREATE TABLE IF NOT EXISTS evicted_sessions (
  tenant_id    TEXT    NOT NULL,
  session_id   TEXT    NOT NULL,
  archive_key  TEXT    NOT NULL,
  version      INTEGER NOT NULL,
  expires_at   INTEGER,
  PRIMARY KEY (tenant_id, session_id)
) STRICT;

-- Objects in the blob store (R2, locally a directory) holding the large part of an entry
-- (engine/large.py): `blob` in session_entries is {"key", "bytes", "sha256", "fields"}. A key
-- is 'pending' from before its put until the write that stores its entry commits ('live'),
-- and 'doomed' from the transaction that removes its entry until the object is deleted. The
-- alarm deletes doomed objects and pending ones older than BLOB_STALE_MS (a write that
-- crashed between the put and its commit), so no object outlives the rows that refer to it.
CREATE TABLE IF NOT EXISTS session_blobs (
  key         TEXT    PRIMARY KEY,
  tenant_id   TEXT    NOT NULL,
  session_id  TEXT    NOT NULL,
  state       TEXT    NOT NULL,
  at          INTEGER NOT NULL
) STRICT;

-- The drain's health: consecutive failures, the last error, and when to try again.
-- One row (id = 1); pending count and age come from mirror_outbox itself.
CREATE TABLE IF NOT EXISTS mirror_state (
  id               INTEGER PRIMARY KEY CHECK (id = 1),
  attempts         INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT,
  last_attempt_at  INTEGER,
  last_success_at  INTEGER,
  next_attempt_at  INTEGER,
  delivered        INTEGER NOT NULL DEFAULT 0,
  batches          INTEGER NOT NULL DEFAULT 0,
  statements       INTEGER NOT NULL DEFAULT 0
) STRICT;

-- @section d1
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (tenant_id, user_id, status, updated_at);
CREATE INDEX IF NOT EXISTS sessions_by_agent ON sessions (tenant_id, agent_name, status, updated_at);
CREATE INDEX IF NOT EXISTS sessions_by_updated ON sessions (tenant_id, updated_at);
-- The retention sweep's: sessions no longer active, by age, across tenants.
CREATE INDEX IF NOT EXISTS sessions_by_age ON sessions (status, updated_at);
CREATE INDEX IF NOT EXISTS entries_by_created ON session_entries (tenant_id, session_id, created_at);

-- Full-text search over entry content (the console's search box, GET /v1/search): an
-- external-content FTS5 index of session_entries kept in step by triggers, so every write the
-- mirror makes (upserts, tombstones, resync purges) updates it without knowing it exists.
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(
  content, content = 'session_entries', content_rowid = 'rowid'
);
CREATE TRIGGER IF NOT EXISTS entries_fts_insert AFTER INSERT ON session_entries BEGIN
  INSERT INTO entries_fts (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER IF NOT EXISTS entries_fts_delete AFTER DELETE ON session_entries BEGIN
  INSERT INTO entries_fts (entries_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;
CREATE TRIGGER IF NOT EXISTS entries_fts_update AFTER UPDATE OF content ON session_entries BEGIN
  INSERT INTO entries_fts (entries_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
  INSERT INTO entries_fts (rowid, content) VALUES (new.rowid, new.content);
END;

