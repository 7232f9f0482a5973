-- applies to: d1
-- Migration 0004: full-text search over entry content: an external-content FTS5 index kept in
-- step by triggers, built over the entries D1 already holds. D1 and the local D1 file only;
-- Durable Objects need no search.
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
INSERT INTO entries_fts (entries_fts) VALUES ('rebuild');
