-- applies to: do
-- Migration 0005: outbox ids that are never reused (see mirror_outbox in schema.sql). SQLite
-- cannot add AUTOINCREMENT to a table, so the outbox is rebuilt, keeping its pending work and
-- ids. The outbox is a Durable Object's table (and a local session file's); D1 has none and
-- runs nothing here: the statements are inside the comment below, which wrangler and D1 skip
-- as they skip any comment, and which scripts/sync_schema.py copies into engine/ddl.py for
-- the Durable Objects. The file keeps D1's migration numbers in step with the stores'
-- schema versions.
/* do:
CREATE TABLE mirror_outbox_next (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id   TEXT    NOT NULL,
  session_id  TEXT    NOT NULL,
  op          TEXT    NOT NULL,
  version     INTEGER NOT NULL,
  seq_from    INTEGER,
  seq_to      INTEGER,
  created_at  INTEGER NOT NULL
) STRICT;
INSERT INTO mirror_outbox_next (id, tenant_id, session_id, op, version, seq_from, seq_to, created_at)
  SELECT id, tenant_id, session_id, op, version, seq_from, seq_to, created_at FROM mirror_outbox;
DROP TABLE mirror_outbox;
ALTER TABLE mirror_outbox_next RENAME TO mirror_outbox;
*/
