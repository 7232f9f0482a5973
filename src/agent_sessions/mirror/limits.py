"""D1's limits, and how the drain stays inside them.

D1 binds at most 100 parameters per statement, accepts statements up to 100 KB, and counts at
most 1,000 queries per Worker invocation (paid plan). A statement's bound values are kept
under STATEMENT_BYTES unless one row alone is larger (a single entry up to the engine's
256 KiB limit then travels alone, which D1 accepts: the 2 MB row cap is what bounds it).
"""

MAX_PARAMS = 100
STATEMENT_BYTES = 90_000
STATEMENTS_PER_BATCH = 50
BATCH_BYTES = 1_000_000
STATEMENTS_PER_DRAIN = 800
"""Statements one drain sends before yielding to the next alarm: under the 1,000 queries an
invocation may run, with room for the parity reads."""
OUTBOX_PAGE = 200
"""Outbox rows one batch plan reads."""

BACKOFF_BASE_MS = 1_000
BACKOFF_CAP_MS = 5 * 60_000
FAST_PATH_DELAY_MS = 2_000
"""The alarm set after a write, as a safety net behind the fast path's drain."""
FAST_PATH_WINDOW_MS = 50
"""How long the Durable Object's fast-path drain waits after the write that asks for it, in
memory (no alarm), with the writes until then riding along: a turn's writes (a create, its
appends) leave in one batch, and the drain starts after the answer the write is part of has
left, where the gateway shares the object's isolate (wrangler dev always, and a deployment
wherever both run in one place). Local mode drains at once: it shares nothing, and its
listings then show a write as soon as it is answered."""
MAX_DRAIN_DELAY_MS = 60_000
"""The longest MIRROR_DRAIN_DELAY_MS: D1 lags by that much at most while healthy."""
