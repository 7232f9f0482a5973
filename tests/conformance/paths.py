"""The paths of the conformance suite: every way a caller reaches the per-session operations.

A path offers each operation of engine/operations.py by name, taking the session's id and
then the operation's arguments (by position in the table's order, or by the table's names),
and answers as the engine does: its JSON result, or one of its typed errors (`NotFound`,
`VersionConflict`, `InvalidInput`, `TooLarge`, `DuplicateEntry`, `Fenced`, `AlreadyExists`).
A spec test is written once against this interface and runs on every path.

What a path cannot do is a `Capability` it lacks, declared with the path; a test that needs
one says so (`@pytest.mark.requires(...)`) and is skipped on the paths without it, with the
reason in the report. The paths:

- `EnginePath`: the engine over one SQL adapter (conftest.BACKENDS), with a settable clock and
  every table visible: the one path where raw rows, crashes and the lifecycle sweep are seen.
- `HostPath`: the engine inside its host (what a Durable Object runs) with a directory for its
  blob store: large entries, with both tables and objects visible.
- `ClientPath`: the Python `Client` over HTTP: against `agent-sessions serve` (local mode),
  and against the Worker's gateway in real workerd (tests/workerd/test_conformance.py).
- `RpcPath`: the gateway's RPC methods, called from another Worker (the stack's driver).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path as FilePath
from typing import Any

import pytest

from agent_sessions.adapters.directory_archive import DirectoryArchive
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine import SessionEngine, SessionError, SessionKey
from agent_sessions.engine import snapshot as document
from agent_sessions.engine.lifecycle import NO_LIFECYCLE, Lifecycle
from agent_sessions.engine.operations import OPERATIONS, Operation
from agent_sessions.host import SessionHost
from agent_sessions.service.fork import fork_session
from agent_sessions.service.sessions import Sessions


class Capability(Enum):
    """What some paths can do and others cannot. Everything else is the base: every path."""

    TABLES = "every table's rows are visible (snapshots, stored types, statement costs)"
    CRASH = "a crash can be injected at any SQL statement of a write"
    CLOCK = "the test sets the store's clock"
    LIFECYCLE = "a lifecycle policy set by the test, and a sweep run when the test says"
    NATIVE_VALUES = "Python values that JSON cannot carry (a set, NaN) reach the engine"
    LOOSE_ARGUMENTS = (
        "an argument of another JSON type than the operation takes reaches it (the Python "
        "client's signature and the HTTP query string make it right or refuse to send it)"
    )
    RAW_IMPORT = (
        "import_session takes the session's fields as given (elsewhere an import is an export "
        "document, whose archived status becomes active: service/transfer.py)"
    )
    ADOPT = "adopt_entries, a step of fork that only the engine offers (internal elsewhere)"
    FORK = "the fork use case (service/fork.py), which runs above the engine"
    MIRROR = "mirror_status and verify_mirror, answered by a host beside a mirror, not the engine"
    LARGE = (
        "entries larger than a row holds, their large part in a blob store (the host's, "
        "above the engine: archive/blobs.py)"
    )
    OBJECTS = "the blob store's objects are visible to the test"


_ABOVE_ENGINE = {Capability.FORK, Capability.MIRROR, Capability.LARGE, Capability.OBJECTS}
ENGINE_CAPABILITIES = frozenset(Capability) - _ABOVE_ENGINE
HOST_CAPABILITIES = (ENGINE_CAPABILITIES - {Capability.CRASH, Capability.LIFECYCLE}) | {
    Capability.LARGE,
    Capability.OBJECTS,
    Capability.FORK,
}
HTTP_CAPABILITIES = frozenset({Capability.FORK, Capability.MIRROR, Capability.LARGE})
LOCAL_HTTP_CAPABILITIES = HTTP_CAPABILITIES | {Capability.OBJECTS}
RPC_CAPABILITIES = frozenset(
    {Capability.FORK, Capability.MIRROR, Capability.LOOSE_ARGUMENTS, Capability.LARGE}
)


def new_id(prefix: str = "c") -> str:
    """A session id no other test uses: a server serves the whole suite (a stack, the tier)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Path:
    """One way of reaching the operations. Subclasses answer `_send`; the operations' methods
    are made from the table (below), so a path offers exactly the declared ones."""

    name: str
    capabilities: frozenset[Capability]
    tenant: str

    def call(self, name: str, session_id: str, *args: Any, **named: Any) -> Any:
        operation = OPERATIONS[name]
        operation.bind(args, named)  # refuses what the operation does not take
        given = dict(zip(operation.params, args, strict=False)) | named
        return self._send(operation, session_id, given)

    def _send(self, operation: Operation, session_id: str, named: dict[str, Any]) -> Any:
        """Run `operation` with the arguments given (by the table's names; those left out take
        the operation's defaults)."""
        raise NotImplementedError

    def elsewhere(self) -> Path:
        """The same store, as a second tenant sees it."""
        raise NotImplementedError

    def fork(self, session_id: str, child_id: str, **request: Any) -> dict[str, Any]:
        """The fork use case: request holds at_seq or at_entry_id and the child's fields."""
        raise NotImplementedError

    def objects(self, session_id: str) -> list[str]:
        """The keys of the blob store's objects of this session (Capability.OBJECTS)."""
        raise NotImplementedError

    def export(self, session_id: str) -> str:
        """The export document, as a user gets it: here, from the operation's parts."""
        parts, after = [], 0
        while after is not None:
            part = self.call("export_session", session_id, after)
            parts.append(part["text"])
            after = part["next_after_seq"]
        return "".join(parts)

    def state(self, session_id: str) -> Any:
        """What "nothing changed" is compared against: every row of every table where they
        are visible, else the session as the operations show it (its version, counters and
        times: every write moves the version, the rule the table-visible paths prove)."""
        try:
            return self.call("get_session", session_id)
        except SessionError as error:
            return type(error).__name__

    def __repr__(self) -> str:
        return self.name


def _method(operation: Operation) -> Callable[..., Any]:
    def method(self: Path, session_id: str, *args: Any, **named: Any) -> Any:
        return self.call(operation.name, session_id, *args, **named)

    method.__name__ = method.__qualname__ = operation.name
    return method


for _operation in OPERATIONS.values():
    setattr(Path, _operation.name, _method(_operation))


class Unsupported(Exception):
    """An operation this path does not offer: a test that reaches it lacks a `requires`."""


class EnginePath(Path):
    """The engine on one SQL adapter (`backend`, a conftest.Backend) with a settable clock."""

    capabilities = ENGINE_CAPABILITIES

    def __init__(
        self, backend: Any, clock: Any, lifecycle: Lifecycle = NO_LIFECYCLE, tenant: str = "acme"
    ) -> None:
        self.name, self.backend, self.clock, self.tenant = backend.name, backend, clock, tenant
        self.lifecycle = lifecycle
        self.engine = SessionEngine(backend.sql, clock, lifecycle)

    def _send(self, operation: Operation, session_id: str, named: dict[str, Any]) -> Any:
        method = getattr(self.engine, operation.name, None)
        if method is None:
            raise Unsupported(f"{self.name} does not offer {operation.name}")
        return method(SessionKey(self.tenant, session_id), **named)

    def elsewhere(self) -> EnginePath:
        return EnginePath(self.backend, self.clock, self.lifecycle, "other-tenant")

    def with_lifecycle(self, lifecycle: Lifecycle) -> EnginePath:
        """The same store, with an engine applying `lifecycle`."""
        return EnginePath(self.backend, self.clock, lifecycle, self.tenant)

    def sweep(self) -> dict[str, Any]:
        return self.engine.sweep()

    def snapshot(self) -> list[Any]:
        """Every row of every table."""
        raw = self.backend.raw
        tables = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [(t, raw.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()) for t in tables]

    def state(self, session_id: str) -> Any:
        return self.snapshot()


class HostPath(EnginePath):
    """The engine inside its host (host.py, what a Durable Object runs) over the sqlite
    adapter, with a directory as its blob store: the one path that sees both the tables and
    the objects of large entries."""

    capabilities = HOST_CAPABILITIES

    def __init__(self, backend: Any, clock: Any, archive: FilePath, tenant: str = "acme") -> None:
        super().__init__(backend, clock, NO_LIFECYCLE, tenant)
        self.name, self.archive = "host", archive
        self.host = SessionHost(
            backend.sql,
            SqliteMirror(":memory:"),
            _nothing,
            clock,
            archive=DirectoryArchive(archive),
        )
        self.engine = self.host.engine

    def _send(self, operation: Operation, session_id: str, named: dict[str, Any]) -> Any:
        args = operation.bind((), named)
        return asyncio.run(
            self.host.call(operation.name, SessionKey(self.tenant, session_id), args)
        )

    def elsewhere(self) -> HostPath:
        return HostPath(self.backend, self.clock, self.archive, "other-tenant")

    def fork(self, session_id: str, child_id: str, **request: Any) -> dict[str, Any]:
        async def send(key: SessionKey, name: str, args: tuple[Any, ...]) -> Any:
            return await self.host.call(name, key, args)

        at_seq, at_entry_id = request.pop("at_seq", None), request.pop("at_entry_id", None)
        source, child = SessionKey(self.tenant, session_id), SessionKey(self.tenant, child_id)
        return asyncio.run(
            fork_session(Sessions(send), source, child, at_seq, at_entry_id, request)
        )

    def objects(self, session_id: str) -> list[str]:
        return stored_objects(self.archive, self.tenant, session_id)

    def collect(self) -> int | None:
        """The alarm's part for the blob store, as the alarm runs it."""
        return asyncio.run(self.host.blobs.collect())


def stored_objects(archive: FilePath, tenant: str, session_id: str) -> list[str]:
    """The objects of a session in a directory blob store (the local server's and HostPath's)."""
    root = archive / "agent-sessions" / tenant / "blobs" / session_id
    return sorted(p.name for p in root.glob("*") if not p.name.startswith("."))


async def _nothing() -> None:
    """The host's after-write hook: no alarm to set here (tests run the alarm's parts)."""


class ClientPath(Path):
    """The Python client over HTTP; `clients` maps each tenant to a client whose token is the
    tenant's (the first is this path's). `archive`: the server's blob store directory, where
    it is visible (local mode)."""

    capabilities = HTTP_CAPABILITIES

    def __init__(
        self,
        name: str,
        clients: dict[str, Any],
        tenant: str | None = None,
        archive: FilePath | None = None,
    ) -> None:
        self.name, self.clients = name, clients
        self.tenant = tenant or next(iter(clients))
        self.client = clients[self.tenant]
        self.archive = archive

    def _send(self, operation: Operation, session_id: str, named: dict[str, Any]) -> Any:
        name, client = operation.name, self.client
        if operation.internal:
            raise Unsupported(f"{name} is internal over HTTP")
        if name == "create_session":
            answer = client.create_session(session_id, **(named.get("fields") or {}))
        elif name == "update_session":
            changes = named.get("changes") or {}
            answer = client.update_session(
                session_id, expected_version=named.get("expected_version"), **changes
            )
        elif name == "import_session":
            text = document.encode(named["session"], named["entries"])
            answer = client.import_session(text, session_id=session_id)
        else:
            answer = getattr(client, name)(session_id, **named)
        return answer.model_dump(exclude_unset=True)  # the JSON the server sent

    def elsewhere(self) -> ClientPath:
        other = next(t for t in self.clients if t != self.tenant)
        return ClientPath(self.name, self.clients, other, self.archive)

    def fork(self, session_id: str, child_id: str, **request: Any) -> dict[str, Any]:
        return self.client.fork_session(session_id, child_id, **request).model_dump(
            exclude_unset=True
        )

    def export(self, session_id: str) -> str:
        return self.client.export_session(session_id)

    def objects(self, session_id: str) -> list[str]:
        if self.archive is None:
            raise Unsupported(f"{self.name} does not show its blob store")
        return stored_objects(self.archive, self.tenant, session_id)


class RpcPath(Path):
    """The gateway's RPC methods, called from another Worker through a service binding:
    `rpc(method, *args)` is the stack's driver (`{"ok": ...}` or `{"error": {...}}`)."""

    capabilities = RPC_CAPABILITIES

    def __init__(self, name: str, rpc: Callable[..., Any], tenants: Iterable[str]) -> None:
        self.name, self.rpc = name, rpc
        self.tenants = tuple(tenants)
        self.tenant = self.tenants[0]

    def _unwrap(self, answer: dict[str, Any]) -> Any:
        if "error" in answer:
            raise SessionError.from_dict(answer["error"])
        return answer["ok"]

    def _send(self, operation: Operation, session_id: str, named: dict[str, Any]) -> Any:
        name, tenant = operation.name, self.tenant
        if operation.internal:
            raise Unsupported(f"{name} is internal: the gateway does not offer it over RPC")
        if name == "create_session":
            fields = {**(named.get("fields") or {}), "id": session_id}
            return self._unwrap(self.rpc(name, tenant, fields))
        if name == "read_entries":
            return self._unwrap(self.rpc(name, tenant, session_id, named))
        if name == "import_session":
            text = document.encode(named["session"], named["entries"])
            return self._unwrap(self.rpc(name, tenant, text, session_id))
        return self._unwrap(self.rpc(name, tenant, session_id, *operation.bind((), named)))

    def export(self, session_id: str) -> str:
        return self._unwrap(self.rpc("export_session", self.tenant, session_id))

    def elsewhere(self) -> RpcPath:
        return RpcPath(self.name, self.rpc, (*self.tenants[1:], self.tenants[0]))

    def fork(self, session_id: str, child_id: str, **request: Any) -> dict[str, Any]:
        return self._unwrap(
            self.rpc("fork_session", self.tenant, session_id, {"id": child_id, **request})
        )


def skip_unless_capable(request: Any, path: str, capabilities: frozenset[Capability]) -> None:
    """Skip the requesting test, with the reason, if it needs a capability `path` lacks."""
    needed = [c for mark in request.node.iter_markers("requires") for c in mark.args]
    missing = [c for c in needed if c not in capabilities]
    if missing:
        names = ", ".join(c.name.lower() for c in missing)
        pytest.skip(f"{path} lacks {names}: {missing[0].value}")


requires = pytest.mark.requires
"""`@requires(Capability.X, ...)`: the test runs only on the paths that have them all."""


def messages(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"type": "message", "role": "user", "content": f"hello {i}", "payload": {"i": i}}
        for i in range(start, start + n)
    ]
