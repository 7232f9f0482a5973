"""Size limits, checked before anything is written.

They keep every row far below the 2 MB row/value cap of Durable Object SQLite and D1, and
every mirrored row inside one D1 statement, so a write that the DO accepts can always reach D1.
"""

MAX_ID_LENGTH = 128
MAX_ENTRY_BYTES = 256 * 1024
"""Content plus payload of one entry, UTF-8 encoded."""
MAX_ENTRIES_PER_APPEND = 500
MAX_APPEND_BYTES = 4 * 1024 * 1024
"""All entries of one append together."""
MAX_DATA_BYTES = 1024 * 1024
"""The opaque `data` blob of a session."""
MAX_METADATA_BYTES = 16 * 1024
MAX_TEXT_FIELD = 1024
"""user_id, agent_name, title, role."""
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_JSON_DEPTH = 32
"""How deep a JSON value (payload, data, metadata) may nest: arrays and objects inside one
another. The one limit for parsing, storing and answering: pydantic-core serializes at most 49
levels when built for WebAssembly (the Worker), and a response wraps a payload in 3 more."""
BODY_DEPTH = MAX_JSON_DEPTH + 3
"""The deepest a request body (or a line of an import) nests: a payload sits 3 levels down
({"entries": [{...}]})."""
MAX_IMPORT_BYTES = 16 * 1024 * 1024
"""An import's JSON Lines text, after gzip: inflation stops here (a gzip bomb is a 413)."""
EXPORT_PART_CHARS = 4 * 1024 * 1024
"""An export leaves a Durable Object in parts of about this many characters: one RPC answer
each, far below the runtime's RPC message limit, whatever the session's size."""
MAX_IMPORT_ENTRIES = 20_000
"""Entries in one import. An import is one transaction, and locally the whole server waits for
it: 20,000 entries take about a second on a slow machine (400,000 held it for 5 s)."""
