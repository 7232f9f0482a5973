-- applies to: shared
-- Migration 0007: an entry whose content or payload is larger than INLINE_ENTRY_BYTES keeps
-- that part in the blob store; `blob` says where ({"key", "bytes", "sha256", "fields"}), and
-- the row keeps a prefix of the content (which D1's search indexes). NULL for every entry
-- stored whole in its row, which is every entry written before this migration. D1 runs it
-- through wrangler; Durable Objects and local files run the same statement
-- (scripts/sync_schema.py copies it into engine/ddl.py).
ALTER TABLE session_entries ADD COLUMN blob TEXT;
