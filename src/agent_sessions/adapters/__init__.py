"""Adapters for the engine's `SqlPort`: sqlite3 under CPython, `ctx.storage.sql` in a DO."""
