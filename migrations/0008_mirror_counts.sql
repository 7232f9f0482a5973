-- applies to: do
-- Migration 0008: the drain counts what it has sent D1, all time: `batches` (each one D1
-- batch call, one per database written) and `statements` in them. The mirror status shows
-- both beside `delivered`, so D1's cost of a workload is read from the drain itself (the
-- scale bench, bench/scale_workerd.py, divides them by the turns it wrote). A Durable
-- Object's table (and a local session file's): D1 has none and runs nothing here (the
-- statements are inside the comment below, which D1 skips; scripts/sync_schema.py copies
-- them into engine/ddl.py for the stores). A store made before mirror_state existed has no
-- such table yet: it is made first, as it was before this migration, so the columns always
-- apply.
/* do:
CREATE TABLE IF NOT EXISTS mirror_state (
  id               INTEGER PRIMARY KEY CHECK (id = 1),
  attempts         INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT,
  last_attempt_at  INTEGER,
  last_success_at  INTEGER,
  next_attempt_at  INTEGER,
  delivered        INTEGER NOT NULL DEFAULT 0
) STRICT;
ALTER TABLE mirror_state ADD COLUMN batches INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mirror_state ADD COLUMN statements INTEGER NOT NULL DEFAULT 0;
*/
