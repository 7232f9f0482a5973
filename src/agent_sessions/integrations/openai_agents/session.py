"""`AgentSessionsSession`: the SDK's `Session`, answering as its own `SQLiteSession` does."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from agents.items import TResponseInputItem
from agents.memory import SessionSettings, SQLiteSession
from agents.memory.session_settings import coerce_session_settings, resolve_session_limit

from ...client import AsyncClient
from ...engine import NotFound, VersionConflict
from ...engine.errors import SessionError
from ...engine.limits import MAX_PAGE_SIZE
from ...engine.values import new_id
from .._entries import resend
from .._steps import Written, append_or_create, run_async
from .batches import split
from .items import Stored, Visibility, commit_entry, read, to_entry
from .kept import KEPT, key_of

ATTEMPTS = 5
"""Tries of a write guarded by the session's version before a VersionConflict is raised."""


class AgentSessionsSession:
    """The SDK's `Session` protocol over an `AsyncClient`, behaving as `SQLiteSession`.

    - `session_settings` is a `SessionSettings`, a dict of its fields (unknown keys are a
      `TypeError`) or None (`SessionSettings()`), and `get_items` resolves its limit as the SDK
      does: None or a negative limit is everything, 0 is nothing, N the latest N items.
    - `add_items` is atomic: one append, or, past one append's limits (500 entries, 16 MiB),
      parts chained by `expected_version` that count only once the last one lands.
    - Other clients' entries in the session are not items: reads and `pop_item` skip them,
      and `pop_item` keeps them.
    - The session is created by the first write that finds it missing, with that write's
      entries, so building this object per request costs no extra request.
    - Reads are O(new): the entries read are kept in this process (kept.py), also across
      session objects, and a read asks only for what came after them, checking that nothing
      kept was removed or replaced meanwhile (if it was, it reads the whole history again).
    - `pop_item` is `SQLiteSession.pop_item` itself, over a pop that can check the item before
      removing it; that is how the SDK's `EncryptedSession` authenticates a pop on its own store,
      and it does so here: with the wrong key the pop raises `InvalidToken` and removes nothing.
    - `close()` ends it: every later call raises RuntimeError, as SQLiteSession's do.
    """

    session_settings: SessionSettings | None = None

    def __init__(
        self,
        session_id: str,
        client: AsyncClient,
        *,
        user_id: str | None = None,
        agent_name: str | None = None,
        session_settings: SessionSettings | dict[str, Any] | None = None,
    ) -> None:
        self.session_id = session_id
        self.session_settings = (
            SessionSettings()
            if session_settings is None
            else coerce_session_settings(session_settings)
        )
        self._client = client
        self._fields = {"user_id": user_id, "agent_name": agent_name}
        self._missing = False
        """A read found no session: the next write creates it at once."""
        self._closed = False

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The history in order; with a positive limit (or the settings'), the latest N."""
        self._check_open()
        limit = resolve_session_limit(limit, self.session_settings)
        if limit == 0:
            return []
        try:
            if limit is None or limit < 0:
                return await self._all_items()
            latest: list[Any] = []
            async for stored in self._items_newest_first(limit):
                latest.append(stored.item)
                if len(latest) == limit:
                    break
            return latest[::-1]
        except NotFound:
            self._missing = True
            KEPT.drop(key_of(self._client, self.session_id))
            return []

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append the items, all or none."""
        self._check_open()
        if not items:
            return
        parts = split([to_entry(item) for item in items])
        if len(parts) == 1:
            await self._write(parts[0])
            return
        for _ in range(ATTEMPTS):
            with contextlib.suppress(VersionConflict):
                await self._write_in_parts(items)
                return
        raise VersionConflict(f"session {self.session_id!r} kept changing during add_items")

    pop_item = SQLiteSession.pop_item
    """`return await self._pop_item_with_validation()`: see the class docstring."""

    async def _pop_item_with_validation(
        self, validate: Callable[[TResponseInputItem], None] | None = None
    ) -> TResponseInputItem | None:
        """Remove and return the latest item; `validate(item)` runs first, and if it raises,
        nothing is removed. Guarded by the session's version: a concurrent write makes it
        look again rather than remove the wrong item. Entries after the item that are not
        items (another client's) are written again after it is gone."""
        self._check_open()
        for _ in range(ATTEMPTS):
            try:
                session = await self._client.get_session(self.session_id)
                found = await self._latest_item()
                if found is None:
                    return None
                target, after = found
                if validate is not None:
                    validate(target.item)
                kept = [resend(s.entry) for s in after if s.item is None]
                await self._client.replace_history(
                    self.session_id, target.entry.seq, kept, expected_version=session.version
                )
            except NotFound:
                self._missing = True
                return None
            except VersionConflict:
                continue
            return target.item
        raise VersionConflict(f"session {self.session_id!r} kept changing during pop_item")

    async def clear_session(self) -> None:
        """Remove every entry; the session itself (who, what, metadata) stays."""
        self._check_open()
        try:
            await self._client.replace_history(self.session_id, 1, [])
        except NotFound:
            self._missing = True

    def close(self) -> None:
        """End this session object; the stored session is untouched."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("AgentSessionsSession is closed")

    async def _write(self, entries: list[dict[str, Any]], after: int | None = None) -> Written:
        """Append, creating the session if needed; `after` (the version a previous part left)
        guards a later part, which never creates: it must not outlive a deleted session."""
        exists = True if after is not None else (False if self._missing else None)
        steps = append_or_create(
            self.session_id, entries, self._fields, expected_version=after, exists=exists
        )
        written = await run_async(self._client, steps)
        self._missing = False
        return written

    async def _write_in_parts(self, items: list[TResponseInputItem]) -> None:
        """One add_items call as several appends, each guarded by the version the previous one
        left, so nothing interleaves; the commit record goes in the last. A failure leaves
        parts no reader counts, which this removes if nobody wrote since."""
        batch = new_id()
        parts = split([*(to_entry(item, batch) for item in items), commit_entry(batch)])
        first: Written | None = None
        version: int | None = None
        try:
            for part in parts:
                written = await self._write(part, version)
                first, version = first or written, written.version
        except SessionError:
            if first is not None:
                with contextlib.suppress(SessionError):
                    await self._client.replace_history(
                        self.session_id, first.first_seq, [], expected_version=version
                    )
            raise

    async def _all_items(self) -> list[Any]:
        """Every item, from the entries read before (by this object or an earlier one: see
        kept.py) plus the ones after them: a turn reads what is new, not the whole history."""
        key = key_of(self._client, self.session_id)
        stored = await self._read_on(KEPT.get(key))
        if stored is None:
            stored = await self._read_on([])
        KEPT.put(key, stored)
        visibility = Visibility()
        counted = [s for s in reversed(stored) if visibility.counts(s)]
        return [s.item for s in reversed(counted)]

    async def _read_on(self, kept: list[Stored]) -> list[Stored] | None:
        """`kept` and the entries after it, the first entry read again as a check: it must be
        the one kept last (same seq and id: not pruned, not replaced, not a re-created
        session), and nothing kept may have gone (seqs are never reused, so kept + new =
        entry_count). None when the check fails."""
        last = kept[-1].entry if kept else None
        after = last.seq - 1 if last is not None else 0
        fresh: list[Stored] = []
        while True:
            page = await self._client.read_entries(
                self.session_id, after_seq=after, limit=MAX_PAGE_SIZE
            )
            fresh += [read(entry) for entry in page.entries]
            if not page.has_more:
                break
            after = page.entries[-1].seq
        if last is not None:
            if not fresh or (fresh[0].entry.seq, fresh[0].entry.id) != (last.seq, last.id):
                return None
            fresh = fresh[1:]
        if len(kept) + len(fresh) != page.entry_count:
            return None
        return [*kept, *fresh]

    async def _newest_first(self, page_size: int) -> AsyncIterator[Stored]:
        """Every entry, newest first, in pages that double from `page_size`."""
        before: int | None = None
        while True:
            page = await self._client.read_entries(
                self.session_id, before_seq=before, limit=page_size, order="desc"
            )
            for entry in page.entries:
                yield read(entry)
            if not page.has_more:
                return
            before = page.entries[-1].seq
            page_size = min(MAX_PAGE_SIZE, page_size * 2)

    async def _items_newest_first(self, first_page: int) -> AsyncIterator[Stored]:
        visibility = Visibility()
        async for stored in self._newest_first(min(MAX_PAGE_SIZE, first_page)):
            if visibility.counts(stored):
                yield stored

    async def _latest_item(self) -> tuple[Stored, list[Stored]] | None:
        """The latest item and the entries after it (in seq order), or None without items."""
        visibility = Visibility()
        after: list[Stored] = []
        async for stored in self._newest_first(1):
            if visibility.counts(stored):
                return stored, after[::-1]
            after.append(stored)
        return None


# The SDK's EncryptedSession authenticates inside the pop only for SQLiteSession instances whose
# pop_item is SQLiteSession's own. Ours is, and it provides the hook that pop calls.
SQLiteSession.register(AgentSessionsSession)
