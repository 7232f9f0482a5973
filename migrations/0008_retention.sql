-- applies to: d1
-- Migration 0008: the index D1's retention sweep finds its sessions by (mirror/retention.py):
-- sessions no longer active, oldest first by updated_at, across tenants. D1 and the local
-- D1 file only.
CREATE INDEX IF NOT EXISTS sessions_by_age ON sessions (status, updated_at);
