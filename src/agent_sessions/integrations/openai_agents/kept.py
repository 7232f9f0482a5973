"""What the adapter has read of each session, kept for the session objects that come after.

An app often builds its session object per request (a web handler), and the SDK reads the
whole history at every `Runner.run`. So the entries read are kept per (server, token,
session) in this process, and the next read asks only for what came after them (checked
against the server: see `AgentSessionsSession._read_on`). The least recently read sessions
are dropped first, once more than `MAX_KEPT_ENTRIES` entries are kept in all.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from ...client import AsyncClient
from .items import Stored

MAX_KEPT_ENTRIES = 50_000

Key = tuple[str, str, str]


def key_of(client: AsyncClient, session_id: str) -> Key:
    """The token only as a digest: a kept history belongs to who may read it."""
    token = hashlib.sha256((client.token or "").encode()).hexdigest()
    return (client.base_url, token, session_id)


class Kept:
    def __init__(self, limit: int = MAX_KEPT_ENTRIES) -> None:
        self._limit = limit
        self._entries: OrderedDict[Key, list[Stored]] = OrderedDict()
        self._count = 0

    def get(self, key: Key) -> list[Stored]:
        if key not in self._entries:
            return []
        self._entries.move_to_end(key)
        return self._entries[key]

    def put(self, key: Key, stored: list[Stored]) -> None:
        self.drop(key)
        self._entries[key] = stored
        self._count += len(stored)
        while self._count > self._limit and len(self._entries) > 1:
            _, oldest = self._entries.popitem(last=False)
            self._count -= len(oldest)

    def drop(self, key: Key) -> None:
        self._count -= len(self._entries.pop(key, ()))


KEPT = Kept()
