-- When the status last changed (set at creation too); older rows take their updated_at.
-- The same statements as schema.sql's "@upgrade 2" section, which Durable Objects run.
ALTER TABLE sessions ADD COLUMN status_changed_at INTEGER;
UPDATE sessions SET status_changed_at = updated_at;
