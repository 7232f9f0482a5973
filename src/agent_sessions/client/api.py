"""The API's operations, written once: each builds a `Call` and names the model of its answer;
`Client` sends it blocking, `AsyncClient` awaiting."""

from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from ..mirror.reads import HEADER as BOOKMARK_HEADER
from ..wire import (
    AppendResult,
    Context,
    Deleted,
    EntryPage,
    MirrorStatus,
    ParityReport,
    Pruned,
    Replaced,
    Resync,
    SearchPage,
    Session,
    SessionData,
    SessionPage,
    Writer,
)
from .transport import Call, Reply, Retry, error_of, send_async, send_blocking

R = TypeVar("R")
DEFAULT_RETRY = Retry()
Entry = Mapping[str, Any] | BaseModel


class _Default:
    """The type of `DEFAULT`."""

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()
"""`expires_at` not given: the server's default applies (SESSION_TTL_SECONDS, or none);
None is sent as null, "never expires", which overrides that default."""


def _path(session_id: str, tail: str = "") -> str:
    return f"/v1/sessions/{urllib.parse.quote(session_id, safe='')}{tail}"


def _freshness(bookmark: str | None) -> dict[str, str]:
    """A read's x-d1-bookmark header; none: the server's default (any copy of D1)."""
    return {} if bookmark is None else {BOOKMARK_HEADER: bookmark}


def _decode(reply: Reply, model: type[BaseModel] | None) -> Any:
    if reply.status >= 400:
        raise error_of(reply)
    if model is None:
        return reply.text
    return model.model_validate(reply.json())


def _entries(entries: Iterable[Entry]) -> list[Any]:
    return [
        e.model_dump(exclude_none=True) if isinstance(e, BaseModel) else dict(e) for e in entries
    ]


class Operations(Generic[R]):
    """Every operation of the HTTP API. `R` is the model itself (Client) or an awaitable of
    it (AsyncClient); each method's docstring names the model."""

    def _send(self, call: Call, model: type[BaseModel] | None) -> R:
        raise NotImplementedError

    def create_session(
        self,
        session_id: str | None = None,
        *,
        user_id: str | None = None,
        agent_name: str | None = None,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
        data: Any = None,
        expires_at: int | None = DEFAULT,
    ) -> R:
        """-> Session. `expires_at`: ms since the epoch; None for never (over the server's
        SESSION_TTL_SECONDS); left out, the server's default."""
        body = _present({
            "id": session_id, "user_id": user_id, "agent_name": agent_name, "title": title,
            "metadata": metadata, "data": data,
        })  # fmt: skip
        if expires_at is not DEFAULT:
            body["expires_at"] = expires_at
        return self._send(Call("POST", "/v1/sessions", body=body), Session)

    def get_session(self, session_id: str) -> R:
        """-> Session"""
        return self._send(Call("GET", _path(session_id)), Session)

    def update_session(
        self, session_id: str, *, expected_version: int | None = None, **changes: Any
    ) -> R:
        """-> Session. Pass the fields to change: title, user_id, agent_name, metadata,
        status, expires_at (None clears a field)."""
        body = {**changes, "expected_version": expected_version}
        if expected_version is None:
            del body["expected_version"]
        return self._send(Call("PATCH", _path(session_id), body=body), Session)

    def delete_session(self, session_id: str) -> R:
        """-> Deleted"""
        return self._send(Call("DELETE", _path(session_id)), Deleted)

    def save_data(self, session_id: str, data: Any, expected_version: int | None = None) -> R:
        """-> SessionData. The opaque blob (Flue's single-blob layout)."""
        body = {"data": data, "expected_version": expected_version}
        return self._send(Call("PUT", _path(session_id, "/data"), body=body), SessionData)

    def load_data(self, session_id: str) -> R:
        """-> SessionData"""
        return self._send(Call("GET", _path(session_id, "/data")), SessionData)

    def append(
        self,
        session_id: str,
        entries: Iterable[Entry],
        expected_version: int | None = None,
        writer: dict[str, Any] | None = None,
    ) -> R:
        """-> AppendResult. Entries are dicts or `EntryIn` models; `writer` is
        {writer_id, epoch, seq} after `claim_writer`."""
        body = {"entries": _entries(entries), "expected_version": expected_version}
        if writer is not None:
            body["writer"] = writer
        return self._send(Call("POST", _path(session_id, "/entries"), body=body), AppendResult)

    def read_entries(
        self,
        session_id: str,
        *,
        after_seq: int = 0,
        before_seq: int | None = None,
        types: list[str] | None = None,
        limit: int = 100,
        order: str = "asc",
        large: str | None = None,
    ) -> R:
        """-> EntryPage; large="prefix" answers large entries as their rows keep them."""
        query = {
            "after_seq": after_seq, "before_seq": before_seq, "types": types,
            "limit": limit, "order": order, "large": large,
        }  # fmt: skip
        return self._send(Call("GET", _path(session_id, "/entries"), query=query), EntryPage)

    def list_sessions(
        self,
        *,
        user_id: str | None = None,
        agent_name: str | None = None,
        status: str | None = None,
        updated_since: int | None = None,
        updated_before: int | None = None,
        limit: int = 100,
        cursor: str | None = None,
        bookmark: str | None = None,
    ) -> R:
        """-> SessionPage (from D1: writes appear once mirrored). `bookmark`: how fresh (a
        page's or the mirror status's `bookmark`, or "first-primary"); the page has the next."""
        query = {
            "user_id": user_id, "agent_name": agent_name, "status": status,
            "updated_since": updated_since, "updated_before": updated_before,
            "limit": limit, "cursor": cursor,
        }  # fmt: skip
        call = Call("GET", "/v1/sessions", query=query, headers=_freshness(bookmark))
        return self._send(call, SessionPage)

    def search_entries(self, q: str, limit: int = 20, bookmark: str | None = None) -> R:
        """-> SearchPage: entries whose content has every word of `q`, best first
        (`bookmark` as for list_sessions)."""
        query = {"q": q, "limit": limit}
        return self._send(
            Call("GET", "/v1/search", query, headers=_freshness(bookmark)), SearchPage
        )

    def export_session(self, session_id: str) -> R:
        """-> str (JSON Lines)"""
        return self._send(Call("GET", _path(session_id, "/export")), None)

    def import_session(self, jsonl: str, session_id: str | None = None) -> R:
        """-> Session"""
        call = Call(
            "POST",
            "/v1/sessions/import",
            query={"session_id": session_id},
            raw=jsonl.encode(),
            content_type="application/x-ndjson",
        )
        return self._send(call, Session)

    def fork_session(
        self,
        session_id: str,
        new_id: str | None = None,
        *,
        at_seq: int | None = None,
        at_entry_id: str | None = None,
        **fields: Any,
    ) -> R:
        """-> Session (the child). fields: title, user_id, agent_name, metadata."""
        body = _present({"id": new_id, "at_seq": at_seq, "at_entry_id": at_entry_id, **fields})
        return self._send(Call("POST", _path(session_id, "/fork"), body=body), Session)

    def set_leaf(self, session_id: str, entry_id: str, expected_version: int | None = None) -> R:
        """-> Session"""
        body = {"entry_id": entry_id, "expected_version": expected_version}
        return self._send(Call("PUT", _path(session_id, "/leaf"), body=body), Session)

    def read_context(self, session_id: str, large: str | None = None) -> R:
        """-> Context"""
        query = {"large": large}
        return self._send(Call("GET", _path(session_id, "/context"), query=query), Context)

    def prune(self, session_id: str, before_seq: int, expected_version: int | None = None) -> R:
        """-> Pruned"""
        body = {"before_seq": before_seq, "expected_version": expected_version}
        return self._send(Call("POST", _path(session_id, "/prune"), body=body), Pruned)

    def replace_history(
        self,
        session_id: str,
        from_seq: int,
        entries: Iterable[Entry],
        expected_version: int | None = None,
    ) -> R:
        """-> Replaced"""
        body = {
            "from_seq": from_seq,
            "entries": _entries(entries),
            "expected_version": expected_version,
        }
        return self._send(Call("POST", _path(session_id, "/replace"), body=body), Replaced)

    def claim_writer(self, session_id: str, writer_id: str) -> R:
        """-> Writer"""
        body = {"writer_id": writer_id}
        return self._send(Call("POST", _path(session_id, "/writer"), body=body), Writer)

    def get_writer(self, session_id: str) -> R:
        """-> Writer"""
        return self._send(Call("GET", _path(session_id, "/writer")), Writer)

    def mirror_status(self, session_id: str) -> R:
        """-> MirrorStatus"""
        return self._send(Call("GET", _path(session_id, "/mirror")), MirrorStatus)

    def verify_mirror(self, session_id: str) -> R:
        """-> ParityReport: the session's D1 rows against its Durable Object's."""
        return self._send(Call("POST", _path(session_id, "/mirror/verify")), ParityReport)

    def resync_mirror(self, session_id: str) -> R:
        """-> Resync: the session's D1 rows queued to be rebuilt from its Durable Object."""
        return self._send(Call("POST", _path(session_id, "/mirror/resync")), Resync)


def _present(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


class Client(Operations[Any]):
    """Blocking client: `Client("http://127.0.0.1:8787", token="...")`."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 30,
        retry: Retry = DEFAULT_RETRY,
    ) -> None:
        self.base_url, self.token, self.timeout, self.retry = base_url, token, timeout, retry

    def _send(self, call: Call, model: type[BaseModel] | None) -> Any:
        reply = send_blocking(self.base_url, self.token, call, self.timeout, self.retry)
        return _decode(reply, model)


class AsyncClient(Operations[Awaitable[Any]]):
    """Async client; in a Worker pass `fetcher=` a service binding to call through it."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 30,
        retry: Retry = DEFAULT_RETRY,
        fetcher: Any = None,
    ) -> None:
        self.base_url, self.token, self.timeout, self.retry = base_url, token, timeout, retry
        self.fetcher = fetcher

    async def _send(self, call: Call, model: type[BaseModel] | None) -> Any:
        args = (self.base_url, self.token, call, self.timeout, self.retry, self.fetcher)
        return _decode(await send_async(*args), model)
