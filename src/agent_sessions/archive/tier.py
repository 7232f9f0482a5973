"""Moving sessions between a store (a Durable Object, a local file) and the archive.

Archiving one session is four steps, each safe to repeat, run by the store's alarm:

1. mark: status 'archived' and the snapshot's key, a normal mirrored write;
2. flush: write the snapshot (skipped when the archive already holds these exact bytes);
3. verify: read it back and compare version and counts with the store;
4. evict: once D1 has every change, drop the session's rows from the store, keeping a note of
   the snapshot's key and version.

A crash between any two steps leaves the session whole in the store (steps 1-3) or whole in
the archive (after 4); the next alarm resumes, since a session marked archived with rows in
the store is due again. Any use of an evicted session hydrates it first (a read brings the
rows back; a write also makes it active again), and a session the store has never heard of is
looked for in the archive before it counts as missing, in case the store itself was emptied.
A snapshot older than the store's version floor is never restored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..engine import NotFound, SessionEngine, SessionKey
from ..engine import snapshot as doc
from .ports import ArchivePort

RETRY_MS = 60_000
"""When an archive that could not finish (the snapshot did not verify) is tried again; one
waiting for D1 is retried sooner, with the mirror's backoff."""


def archive_key(prefix: str, key: SessionKey) -> str:
    """`{prefix}/{tenant}/sessions/{session}.json.gz`; ids cannot contain '/'."""
    return f"{prefix}/{key.tenant_id}/sessions/{key.session_id}.json.gz"


class ColdTier:
    def __init__(
        self,
        engine: SessionEngine,
        archive: ArchivePort,
        prefix: str,
        after_ms: int | None,
    ) -> None:
        self._engine = engine
        self._archive = archive
        self._prefix = prefix
        self._after_ms = after_ms

    def key_of(self, key: SessionKey) -> str:
        return archive_key(self._prefix, key)

    async def flush(self, key: SessionKey) -> int:
        """Write the session's snapshot; returns the version it captured."""
        session, entries = self._engine.snapshot(key)
        body = doc.compress(doc.encode(session, entries))
        target = session["archive_key"] or self.key_of(key)
        if await self._archive.get(target) != body:
            await self._archive.put(target, body)
        return session["version"]

    async def verify(self, key: SessionKey, version: int) -> bool:
        """The archived snapshot holds this version of the session, with all its entries."""
        current = self._engine.get_session(key)
        body = await self._archive.get(current["archive_key"] or self.key_of(key))
        if body is None:
            return False
        session, entries = doc.parse(doc.decompress(body))
        return (
            session.get("version") == version == current["version"]
            and session.get("entry_count") == len(entries) == current["entry_count"]
            and session.get("last_seq") == current["last_seq"]
        )

    async def archive(self, key: SessionKey, drain: Callable[[], Awaitable[int]]) -> bool:
        """Steps 1-4 for one session; False if it must wait for the next alarm (the session
        changed meanwhile, the snapshot did not verify, or D1 still lags). A session deleted
        while its archive was under way needs nothing more: its snapshot is never restored."""
        try:
            self._engine.mark_archived(key, self.key_of(key))
            version = await self.flush(key)
            if not await self.verify(key, version):
                return False
            if await drain():
                return False
            return self._engine.evict(key, version)
        except NotFound:
            return True

    async def hydrate(self, key: SessionKey) -> bool:
        """Bring an archived session back into the store; False if the archive has none."""
        evicted = self._engine.evicted(key)
        body = await self._archive.get(evicted["archive_key"] if evicted else self.key_of(key))
        if body is None:
            if evicted:
                raise NotFound(f"session {key.session_id!r}: its archived snapshot is missing")
            return False
        session, entries = doc.parse(doc.decompress(body))
        self._engine.hydrate(key, session, entries)
        return True

    async def run(
        self, now: int, drain: Callable[[], Awaitable[int]], changing: Callable[[], None]
    ) -> int | None:
        """The alarm's part: archive what is due, delete archived sessions whose expiry came;
        `changing` is called first when there is any (what the host knows goes stale).
        Returns when the tier is due again."""
        expired = self._engine.expired_evictions()
        due_now = [] if self._after_ms is None else self._engine.archive_due(now, self._after_ms)
        if expired or due_now:
            changing()
        for key, target in expired:
            if self._engine.delete_evicted(key):
                await self._archive.delete(target)
        waiting = False
        for key in due_now:
            waiting |= not await self.archive(key, drain)
        due = [self._engine.next_evicted_expiry()]
        if self._after_ms is not None:
            due.append(self._engine.next_archive_at(self._after_ms))
        if waiting:
            due.append(now + RETRY_MS)
        times = [t for t in due if t is not None]
        return min(times) if times else None

    async def forget(self, key: SessionKey) -> None:
        """After a delete: the snapshot is garbage (the version floor already refuses it)."""
        await self._archive.delete(self.key_of(key))
