"""Local embedded mode: the same API under CPython, one SQLite file per session."""
