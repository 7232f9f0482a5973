-- applies to: do
-- Migration 0009: the mirror status counts the D1 batches the drain sent (one per database a
-- batch went to) and the statements in them, recorded with each success in the same
-- statement (mirror/statements.py RECORD_SUCCESS), so counting costs a turn nothing more.
-- mirror_state is a Durable Object's table (and a local session file's); D1 has none and
-- runs nothing here: the statements are inside the comment below, as in 0005.
/* do:
ALTER TABLE mirror_state ADD COLUMN batches INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mirror_state ADD COLUMN statements INTEGER NOT NULL DEFAULT 0;
*/
