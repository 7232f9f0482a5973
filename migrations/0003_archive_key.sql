-- applies to: shared
-- Migration 0003: where the cold tier keeps the session's snapshot (R2 key), once it has been
-- archived. D1 runs it through wrangler; Durable Objects and local files run the same
-- statement (scripts/sync_schema.py copies it into engine/ddl.py).
ALTER TABLE sessions ADD COLUMN archive_key TEXT;
