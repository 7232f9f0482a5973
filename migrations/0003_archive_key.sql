-- Where the cold tier keeps the session's snapshot (R2 key), once it has been archived.
-- The same statement as schema.sql's "@upgrade 3" section, which Durable Objects run.
ALTER TABLE sessions ADD COLUMN archive_key TEXT;
