"""Generated from schema.sql and migrations/ by scripts/sync_schema.py. Do not edit by
hand."""

SCHEMA_DIGEST = "adc3332799d90080"
"""Of the statements below, normalised: a comment or whitespace changes nothing."""

SHARED_STATEMENTS: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS sessions ( tenant_id TEXT NOT NULL, id TEXT NOT NULL, data TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, user_id TEXT, agent_name TEXT, title TEXT, status TEXT NOT NULL DEFAULT 'active', parent_id TEXT, forked_from_seq INTEGER, leaf_id TEXT, entry_count INTEGER NOT NULL DEFAULT 0, message_count INTEGER NOT NULL DEFAULT 0, last_seq INTEGER NOT NULL DEFAULT 0, compacted_through_seq INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL, expires_at INTEGER, metadata TEXT NOT NULL DEFAULT '{}', status_changed_at INTEGER, archive_key TEXT, PRIMARY KEY (tenant_id, id) ) STRICT",
    'CREATE TABLE IF NOT EXISTS session_entries ( tenant_id TEXT NOT NULL, session_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, parent_id TEXT, type TEXT NOT NULL, role TEXT, content TEXT, payload TEXT, input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, blob TEXT, PRIMARY KEY (tenant_id, session_id, seq), UNIQUE (tenant_id, session_id, id) ) STRICT',
)

DO_STATEMENTS: tuple[str, ...] = (
    'CREATE TABLE IF NOT EXISTS store_meta ( key TEXT PRIMARY KEY, value TEXT NOT NULL ) STRICT',
    'CREATE TABLE IF NOT EXISTS mirror_outbox ( id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, session_id TEXT NOT NULL, op TEXT NOT NULL, version INTEGER NOT NULL, seq_from INTEGER, seq_to INTEGER, created_at INTEGER NOT NULL ) STRICT',
    'CREATE TABLE IF NOT EXISTS session_writers ( tenant_id TEXT NOT NULL, session_id TEXT NOT NULL, epoch INTEGER NOT NULL, writer_id TEXT NOT NULL, next_seq INTEGER NOT NULL, last_digest TEXT, last_result TEXT, PRIMARY KEY (tenant_id, session_id) ) STRICT',
    'CREATE TABLE IF NOT EXISTS evicted_sessions ( tenant_id TEXT NOT NULL, session_id TEXT NOT NULL, archive_key TEXT NOT NULL, version INTEGER NOT NULL, expires_at INTEGER, PRIMARY KEY (tenant_id, session_id) ) STRICT',
    'CREATE TABLE IF NOT EXISTS session_blobs ( key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, session_id TEXT NOT NULL, state TEXT NOT NULL, at INTEGER NOT NULL ) STRICT',
    'CREATE TABLE IF NOT EXISTS mirror_state ( id INTEGER PRIMARY KEY CHECK (id = 1), attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, last_attempt_at INTEGER, last_success_at INTEGER, next_attempt_at INTEGER, delivered INTEGER NOT NULL DEFAULT 0, batches INTEGER NOT NULL DEFAULT 0, statements INTEGER NOT NULL DEFAULT 0 ) STRICT',
)

D1_STATEMENTS: tuple[str, ...] = (
    'CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (tenant_id, user_id, status, updated_at)',
    'CREATE INDEX IF NOT EXISTS sessions_by_agent ON sessions (tenant_id, agent_name, status, updated_at)',
    'CREATE INDEX IF NOT EXISTS sessions_by_updated ON sessions (tenant_id, updated_at)',
    'CREATE INDEX IF NOT EXISTS sessions_by_age ON sessions (status, updated_at)',
    'CREATE INDEX IF NOT EXISTS entries_by_created ON session_entries (tenant_id, session_id, created_at)',
    "CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5( content, content = 'session_entries', content_rowid = 'rowid' )",
    'CREATE TRIGGER IF NOT EXISTS entries_fts_insert AFTER INSERT ON session_entries BEGIN INSERT INTO entries_fts (rowid, content) VALUES (new.rowid, new.content); END',
    "CREATE TRIGGER IF NOT EXISTS entries_fts_delete AFTER DELETE ON session_entries BEGIN INSERT INTO entries_fts (entries_fts, rowid, content) VALUES ('delete', old.rowid, old.content); END",
    "CREATE TRIGGER IF NOT EXISTS entries_fts_update AFTER UPDATE OF content ON session_entries BEGIN INSERT INTO entries_fts (entries_fts, rowid, content) VALUES ('delete', old.rowid, old.content); INSERT INTO entries_fts (rowid, content) VALUES (new.rowid, new.content); END",
)

SCHEMA_VERSION = 9
"""The number of the last migration."""
MIGRATIONS: tuple[
    tuple[int, str, str, tuple[str, ...], tuple[tuple[str, str], ...]], ...
] = (
    (1, '0001_initial.sql', 'd1', (
        "CREATE TABLE IF NOT EXISTS sessions ( tenant_id TEXT NOT NULL, id TEXT NOT NULL, data TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, user_id TEXT, agent_name TEXT, title TEXT, status TEXT NOT NULL DEFAULT 'active', parent_id TEXT, forked_from_seq INTEGER, leaf_id TEXT, entry_count INTEGER NOT NULL DEFAULT 0, message_count INTEGER NOT NULL DEFAULT 0, last_seq INTEGER NOT NULL DEFAULT 0, compacted_through_seq INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL, expires_at INTEGER, metadata TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (tenant_id, id) ) STRICT",
        'CREATE TABLE IF NOT EXISTS session_entries ( tenant_id TEXT NOT NULL, session_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, parent_id TEXT, type TEXT NOT NULL, role TEXT, content TEXT, payload TEXT, input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, PRIMARY KEY (tenant_id, session_id, seq), UNIQUE (tenant_id, session_id, id) ) STRICT',
        'CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (tenant_id, user_id, status, updated_at)',
        'CREATE INDEX IF NOT EXISTS sessions_by_agent ON sessions (tenant_id, agent_name, status, updated_at)',
        'CREATE INDEX IF NOT EXISTS sessions_by_updated ON sessions (tenant_id, updated_at)',
        'CREATE INDEX IF NOT EXISTS entries_by_created ON session_entries (tenant_id, session_id, created_at)',
    ), ()),
    (2, '0002_status_changed_at.sql', 'shared', (
        'ALTER TABLE sessions ADD COLUMN status_changed_at INTEGER',
        'UPDATE sessions SET status_changed_at = updated_at',
    ), (('sessions', 'status_changed_at'),)),
    (3, '0003_archive_key.sql', 'shared', (
        'ALTER TABLE sessions ADD COLUMN archive_key TEXT',
    ), (('sessions', 'archive_key'),)),
    (4, '0004_search.sql', 'd1', (
        "CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5( content, content = 'session_entries', content_rowid = 'rowid' )",
        'CREATE TRIGGER IF NOT EXISTS entries_fts_insert AFTER INSERT ON session_entries BEGIN INSERT INTO entries_fts (rowid, content) VALUES (new.rowid, new.content); END',
        "CREATE TRIGGER IF NOT EXISTS entries_fts_delete AFTER DELETE ON session_entries BEGIN INSERT INTO entries_fts (entries_fts, rowid, content) VALUES ('delete', old.rowid, old.content); END",
        "CREATE TRIGGER IF NOT EXISTS entries_fts_update AFTER UPDATE OF content ON session_entries BEGIN INSERT INTO entries_fts (entries_fts, rowid, content) VALUES ('delete', old.rowid, old.content); INSERT INTO entries_fts (rowid, content) VALUES (new.rowid, new.content); END",
        "INSERT INTO entries_fts (entries_fts) VALUES ('rebuild')",
    ), ()),
    (5, '0005_outbox_ids.sql', 'do', (
        'CREATE TABLE mirror_outbox_next ( id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, session_id TEXT NOT NULL, op TEXT NOT NULL, version INTEGER NOT NULL, seq_from INTEGER, seq_to INTEGER, created_at INTEGER NOT NULL ) STRICT',
        'INSERT INTO mirror_outbox_next (id, tenant_id, session_id, op, version, seq_from, seq_to, created_at) SELECT id, tenant_id, session_id, op, version, seq_from, seq_to, created_at FROM mirror_outbox',
        'DROP TABLE mirror_outbox',
        'ALTER TABLE mirror_outbox_next RENAME TO mirror_outbox',
    ), ()),
    (6, '0006_evicted_sessions.sql', 'do', (
        'CREATE TABLE IF NOT EXISTS archived_sessions ( tenant_id TEXT NOT NULL, session_id TEXT NOT NULL, archive_key TEXT NOT NULL, version INTEGER NOT NULL, expires_at INTEGER, PRIMARY KEY (tenant_id, session_id) ) STRICT',
        'ALTER TABLE archived_sessions RENAME TO evicted_sessions',
    ), (('evicted_sessions', ''),)),
    (7, '0007_entry_blobs.sql', 'shared', (
        'ALTER TABLE session_entries ADD COLUMN blob TEXT',
    ), (('session_entries', 'blob'),)),
    (8, '0008_retention.sql', 'd1', (
        'CREATE INDEX IF NOT EXISTS sessions_by_age ON sessions (status, updated_at)',
    ), ()),
    (9, '0009_mirror_counts.sql', 'do', (
        'ALTER TABLE mirror_state ADD COLUMN batches INTEGER NOT NULL DEFAULT 0',
        'ALTER TABLE mirror_state ADD COLUMN statements INTEGER NOT NULL DEFAULT 0',
    ), (('mirror_state', 'batches'), ('mirror_state', 'statements'))),
)
"""migrations/, in order: (version, file name (what d1_migrations records), where it
applies ("shared", "d1" or "do"), its statements, the (table, column) pairs they add:
an upgrade whose columns a store already has was applied there before, and is skipped)."""

SESSION_COLUMNS: tuple[str, ...] = (
    'tenant_id',
    'id',
    'data',
    'created_at',
    'updated_at',
    'user_id',
    'agent_name',
    'title',
    'status',
    'parent_id',
    'forked_from_seq',
    'leaf_id',
    'entry_count',
    'message_count',
    'last_seq',
    'compacted_through_seq',
    'input_tokens',
    'output_tokens',
    'version',
    'expires_at',
    'metadata',
    'status_changed_at',
    'archive_key',
)

ENTRY_COLUMNS: tuple[str, ...] = (
    'tenant_id',
    'session_id',
    'seq',
    'id',
    'parent_id',
    'type',
    'role',
    'content',
    'payload',
    'input_tokens',
    'output_tokens',
    'created_at',
    'blob',
)
