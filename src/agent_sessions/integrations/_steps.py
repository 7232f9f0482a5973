"""An integration's operations written once for blocking and awaiting callers.

An operation is a generator of steps: it yields each request it needs, built by `PLAN` (every
method of the client, sending nothing), and is sent the answer back, or thrown the client's
typed error (`NotFound`, `VersionConflict`, ...), exactly as a call on a client would return
or raise. It may also yield results of its own (a listing yields them one by one). `run_sync`
and `iterate_sync` drive it with a `Client`, `run_async` and `iterate_async` with an
`AsyncClient`, so a LangGraph saver's `put` and `aput` are one implementation, and inside a
Worker the awaiting path never needs a thread.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from ..client import AsyncClient, Client, Operations
from ..client.transport import Call
from ..engine import AlreadyExists, NotFound
from ..engine.errors import SessionError
from ..engine.snapshot import FORMAT

T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """One client call, not yet sent."""

    call: Call
    model: type[BaseModel] | None


class _Plan(Operations[Request]):
    def _send(self, call: Call, model: type[BaseModel] | None) -> Request:
        return Request(call, model)


PLAN = _Plan()
Steps = Generator[Any, Any, T]
"""Yields `Request`s (answered) and results (passed on); returns the operation's value."""


_DONE = object()


def _advance(steps: Steps[Any], answer: Any, error: SessionError | None) -> Any:
    """The operation's next step after it is given `answer` (or thrown `error`)."""
    try:
        return steps.send(answer) if error is None else steps.throw(error)
    except StopIteration:
        return _DONE


def iterate_sync(client: Client, steps: Steps[Any]) -> Iterator[Any]:
    """The results an operation yields, its requests sent with a blocking client."""
    step = _advance(steps, None, None)
    while step is not _DONE:
        answer, error = None, None
        if isinstance(step, Request):
            try:
                answer = client._send(step.call, step.model)
            except SessionError as exc:
                error = exc
        else:
            yield step
        step = _advance(steps, answer, error)


async def iterate_async(client: AsyncClient, steps: Steps[Any]) -> AsyncIterator[Any]:
    """The results an operation yields, its requests awaited on an async client."""
    step = _advance(steps, None, None)
    while step is not _DONE:
        answer, error = None, None
        if isinstance(step, Request):
            try:
                answer = await client._send(step.call, step.model)
            except SessionError as exc:
                error = exc
        else:
            yield step
        step = _advance(steps, answer, error)


def _returning(steps: Steps[T], box: list[T]) -> Steps[None]:
    box.append((yield from steps))


def run_sync(client: Client, steps: Steps[T]) -> T:
    """What an operation returns, with a blocking client."""
    box: list[T] = []
    for _ in iterate_sync(client, _returning(steps, box)):
        pass
    return box[0]


async def run_async(client: AsyncClient, steps: Steps[T]) -> T:
    """What an operation returns, with an async client."""
    box: list[T] = []
    async for _ in iterate_async(client, _returning(steps, box)):
        pass
    return box[0]


@dataclass(frozen=True)
class Written:
    """Where an append landed: the session's new version and the batch's seqs."""

    version: int
    first_seq: int
    last_seq: int


def append_or_create(
    session_id: str,
    entries: list[dict[str, Any]],
    fields: Mapping[str, Any],
    *,
    expected_version: int | None = None,
    exists: bool | None = None,
) -> Steps[Written]:
    """Append `entries` atomically, creating the session with them if it does not exist yet.

    The creation is an import (a session and its first entries in one transaction), so a new
    session costs one request and an existing one never pays for a `create` that answers 409:
    a handler that builds its store object per request stays at one request per write.
    `exists=False` (a read just found nothing) skips the append that would answer 404;
    `exists=True` never creates (a later part of a write that must not outlive its session).
    """
    if exists is not False:
        try:
            appended = yield PLAN.append(session_id, entries, expected_version)
            return Written(appended.version, appended.first_seq, appended.last_seq)
        except NotFound:
            if exists:
                raise
    try:
        created = yield PLAN.import_session(_document(fields, entries), session_id)
        return Written(created.version, 1, created.last_seq)
    except AlreadyExists:  # another writer created it meanwhile
        appended = yield PLAN.append(session_id, entries, expected_version)
        return Written(appended.version, appended.first_seq, appended.last_seq)


def _document(fields: Mapping[str, Any], entries: list[dict[str, Any]]) -> str:
    """An import document: the session's fields, then one entry per line. ASCII JSON, so no
    character of the content can be taken for a line break."""
    session = {k: v for k, v in fields.items() if v is not None}
    lines = [{"format": FORMAT, "session": session}, *entries]
    return "".join(json.dumps(line) + "\n" for line in lines)
