"""The D1 mirror: the outbox in the DO's SQLite, drained to D1 through `MirrorPort`.

Delivery is at-least-once and application is idempotent and version-guarded, so D1 ends up
exactly equal to the Durable Objects, however often a batch is retried or replayed.
"""

from .drain import MirrorDrain
from .ports import MirrorPort, Statement

__all__ = ["MirrorDrain", "MirrorPort", "Statement"]
