"""Size limits, checked before anything is written.

They keep every row far below the 2 MB row/value cap of Durable Object SQLite and D1, and
every mirrored row inside one D1 statement, so a write that the DO accepts can always reach D1.
"""

MAX_ID_LENGTH = 128
INLINE_ENTRY_BYTES = 256 * 1024
"""Content plus payload of one entry (UTF-8) that its row holds whole. A larger entry keeps
its content or payload (each one over half of this) in the blob store, and the row a prefix
and the object's reference, size and digest (engine/large.py); without a blob store this is
the largest entry there is."""
MAX_ENTRY_BYTES = 12 * 1024 * 1024
"""Content plus payload of one entry, UTF-8 encoded, with a blob store. A Python Worker has
128 MB: Python's own allocations for an 8 MiB append are about 37 MB at their peak, four to
five times the entry (README, Limits: "Large entries in workerd")."""
MAX_ENTRIES_PER_APPEND = 500
MAX_APPEND_BYTES = 16 * 1024 * 1024
"""All entries of one append together (a request body of a little more; one RPC message to
the Durable Object, far below the runtime's 32 MiB)."""
PREFIX_CHARS = 4096
"""The characters of a large content that its row keeps: what D1's search indexes, and
what a read with large="prefix" answers."""
MAX_READ_BYTES = MAX_APPEND_BYTES
"""What one read of whole entries answers with at most. A page of entries ends before the
entry that would take it past this (content and payload measured no less than an append
measures them, so a fork can copy a page as one write; a page holds one entry at least); a context
whose large parts are more is refused (read it with large="prefix")."""
BLOB_STALE_MS = 15 * 60 * 1000
"""A blob still pending this long after its write began belongs to a write that crashed
between its put and its commit: the alarm deletes it."""
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
MAX_IMPORT_BYTES = 2 * MAX_APPEND_BYTES
"""An import's JSON Lines text, after gzip: inflation stops here (a gzip bomb is a 413). Its
entries hold at most what one append does (MAX_APPEND_BYTES), which JSON may make twice as
long: the first write of the OpenAI Agents adapter is an import of one append's entries."""
EXPORT_PART_CHARS = 4 * 1024 * 1024
"""An export leaves a Durable Object in parts of about this many characters: one RPC answer
each, far below the runtime's RPC message limit, whatever the session's size (a part with a
large entry is that entry's size more)."""
MAX_IMPORT_ENTRIES = 20_000
"""Entries in one import. An import is one transaction, and locally the whole server waits for
it: 20,000 entries take about a second on a slow machine (400,000 held it for 5 s)."""
