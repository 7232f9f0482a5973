-- applies to: shared
-- Migration 0002: when the status last changed (set at creation too); older rows take their
-- updated_at. D1 runs it through wrangler; Durable Objects and local files run the same
-- statements (scripts/sync_schema.py copies them into engine/ddl.py).
ALTER TABLE sessions ADD COLUMN status_changed_at INTEGER;
UPDATE sessions SET status_changed_at = updated_at;
