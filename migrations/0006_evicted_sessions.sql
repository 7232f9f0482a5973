-- applies to: do
-- Migration 0006: the table of sessions the cold tier has evicted from a store (their rows
-- are in the archive only) is named for what it holds, `evicted_sessions`; it was
-- `archived_sessions`, though an archived session may still have its rows here. A Durable
-- Object's table (and a local session file's): D1 has none and runs nothing here (the
-- statements are inside the comment below, which D1 skips; scripts/sync_schema.py copies
-- them into engine/ddl.py for the stores). A store no release from 3 to 5 opened has no such
-- table yet: it is made first, as those releases made it, so the rename always applies.
/* do:
CREATE TABLE IF NOT EXISTS archived_sessions (
  tenant_id    TEXT    NOT NULL,
  session_id   TEXT    NOT NULL,
  archive_key  TEXT    NOT NULL,
  version      INTEGER NOT NULL,
  expires_at   INTEGER,
  PRIMARY KEY (tenant_id, session_id)
) STRICT;
ALTER TABLE archived_sessions RENAME TO evicted_sessions;
*/
