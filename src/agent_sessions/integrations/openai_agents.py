"""An OpenAI Agents SDK `Session` kept in agent-sessions.

    from agents import Agent, Runner
    from agent_sessions.client import AsyncClient
    from agent_sessions.integrations.openai_agents import AgentSessionsSession

    client = AsyncClient("http://127.0.0.1:8787", token=...)
    session = AgentSessionsSession("support-42", client, user_id="ada", agent_name="triage")
    await Runner.run(agent, "Where is my order?", session=session)

Each SDK item becomes one entry: messages as `message`, tool calls as `tool_call`, their
outputs as `tool_result`, anything else as `custom`. The item itself is the entry's payload
(what `get_items` returns, unchanged); its text, when it has some, is the entry's content, so
D1 queries see the conversation. `pop_item` and `clear_session` are `replace_history`
truncations: atomic, mirrored to D1 as tombstones, and seqs are never reused.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from ..engine import AlreadyExists, NotFound, VersionConflict
from ..engine.limits import MAX_ENTRIES_PER_APPEND, MAX_PAGE_SIZE

if TYPE_CHECKING:
    from agents.items import TResponseInputItem
    from agents.memory import SessionSettings

    from ..client import AsyncClient

ROLES = frozenset({"user", "assistant", "system", "developer"})
POP_ATTEMPTS = 5


def _text(item: dict[str, Any]) -> str | None:
    content = item.get("content", item.get("output"))
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        texts = [p for p in parts if isinstance(p, str)]
        return "\n".join(texts) if texts else None
    return None


def to_entry(item: TResponseInputItem) -> dict[str, Any]:
    """The entry that stores one SDK item."""
    raw = dict(item)
    kind = str(raw.get("type") or "")
    if kind == "message" or (not kind and raw.get("role") in ROLES):
        entry_type = "message"
    elif kind.endswith("_call_output"):
        entry_type = "tool_result"
    elif kind.endswith("_call"):
        entry_type = "tool_call"
    else:
        entry_type = "custom"
    role = raw.get("role")
    return {
        "type": entry_type,
        "role": role if isinstance(role, str) else None,
        "content": _text(raw),
        "payload": raw,
    }


class AgentSessionsSession:
    """The SDK's `Session` protocol (`get_items`, `add_items`, `pop_item`, `clear_session`)
    over an `AsyncClient`. The session is created on the first `add_items`."""

    def __init__(
        self,
        session_id: str,
        client: AsyncClient,
        *,
        user_id: str | None = None,
        agent_name: str | None = None,
        session_settings: SessionSettings | None = None,
    ) -> None:
        self.session_id = session_id
        self.session_settings = session_settings
        self._client = client
        self._fields = {"user_id": user_id, "agent_name": agent_name}
        self._created = False

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The history in order; with `limit` (or the settings' limit), the latest N."""
        if limit is None and self.session_settings is not None:
            limit = self.session_settings.limit
        try:
            if limit is None:
                entries = await self._all_entries()
            else:
                entries = list(reversed(await self._latest_entries(limit)))
        except NotFound:
            return []
        return [e.payload for e in entries if e.payload is not None]

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        if not items:
            return
        await self._ensure_session()
        entries = [to_entry(item) for item in items]
        for start in range(0, len(entries), MAX_ENTRIES_PER_APPEND):
            await self._client.append(
                self.session_id, entries[start : start + MAX_ENTRIES_PER_APPEND]
            )

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove the latest item, guarded by the session's version: a concurrent write makes
        it look again rather than remove the wrong item."""
        for _ in range(POP_ATTEMPTS):
            try:
                session = await self._client.get_session(self.session_id)
                latest = await self._latest_entries(1)
                if not latest:
                    return None
                await self._client.replace_history(
                    self.session_id, latest[0].seq, [], expected_version=session.version
                )
            except NotFound:
                return None
            except VersionConflict:
                continue
            return latest[0].payload
        raise VersionConflict(f"session {self.session_id!r} kept changing during pop_item")

    async def clear_session(self) -> None:
        """Remove every item; the session itself (who, what, metadata) stays."""
        try:
            await self._client.replace_history(self.session_id, 1, [])
        except NotFound:
            return

    async def _ensure_session(self) -> None:
        if self._created:
            return
        fields = {k: v for k, v in self._fields.items() if v is not None}
        with contextlib.suppress(AlreadyExists):
            await self._client.create_session(self.session_id, **fields)
        self._created = True

    async def _all_entries(self) -> list[Any]:
        entries: list[Any] = []
        after = 0
        while True:
            page = await self._client.read_entries(
                self.session_id, after_seq=after, limit=MAX_PAGE_SIZE
            )
            entries += page.entries
            if not page.has_more:
                return entries
            after = page.entries[-1].seq

    async def _latest_entries(self, limit: int) -> list[Any]:
        """Up to `limit` entries, newest first."""
        entries: list[Any] = []
        before = None
        while len(entries) < limit:
            page = await self._client.read_entries(
                self.session_id,
                before_seq=before,
                limit=min(MAX_PAGE_SIZE, limit - len(entries)),
                order="desc",
            )
            entries += page.entries
            if not page.has_more:
                break
            before = page.entries[-1].seq
        return entries
