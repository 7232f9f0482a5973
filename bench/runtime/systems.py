"""The systems under test, each behind the same operations, all over the loopback client.

- `http`: agent-sessions in workerd, HTTP to the gateway (`Default`), which calls the
  session's Durable Object;
- `rpc`: the same Worker called over a service binding by a JavaScript Worker (caller/);
- `floor`: a JavaScript Durable Object running the engine's own statements (floor/);
- `pyfloor`: the same in Python (pyfloor/): the platform's cost of Python;
- `peer`: the Agents SDK's AIChatAgent (peer/);
- `cpython`: the engine under CPython, `agent-sessions serve` (the local server).

Every operation returns how many entries (messages) it read or wrote, so that a run can check
that all systems did the same work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .loopback import Loopback

TENANT = "default"
Messages = Sequence[dict[str, Any]]
"""A turn's messages as the workload makes them: {"role", "content"}."""


class System(Protocol):
    key: str
    label: str
    client: Loopback

    def create(self, session: str) -> None: ...

    def append(self, session: str, messages: Messages) -> int: ...

    def read_last(self, session: str, count: int) -> int: ...

    def read_context(self, session: str) -> int: ...

    def compact(self, session: str, first_kept_seq: int) -> bool:
        """Append a compaction entry keeping seq >= first_kept_seq; False: not supported."""
        ...

    def rewind(self, session: str) -> None:
        """Move the leaf back to where it was before the compaction (if there was one): the
        context is the whole history again."""
        ...


def entries(messages: Messages) -> list[dict[str, Any]]:
    return [{"type": "message", **m} for m in messages]


def compaction(first_kept_seq: int) -> list[dict[str, Any]]:
    payload = {"first_kept_seq": first_kept_seq}
    return [{"type": "compaction", "content": "summary", "payload": payload}]


@dataclass
class Leaves:
    """Each session's leaf, from the append answers, and the one before its compaction."""

    last: dict[str, str] = field(default_factory=dict)
    before_compaction: dict[str, str] = field(default_factory=dict)

    def appended(self, session: str, answer: dict[str, Any]) -> int:
        self.last[session] = answer["entries"][-1]["id"]
        return len(answer["entries"])

    def compacting(self, session: str) -> None:
        self.before_compaction[session] = self.last[session]


@dataclass
class SessionsHttp:
    """agent-sessions' HTTP API: the Worker's gateway, or the local server (no token)."""

    key: str
    label: str
    client: Loopback
    leaves: Leaves = field(default_factory=Leaves)

    def create(self, session: str) -> None:
        self.client.call("POST", "/v1/sessions", {"id": session})

    def _append(self, session: str, batch: list[dict[str, Any]]) -> int:
        answer = self.client.call("POST", f"/v1/sessions/{session}/entries", {"entries": batch})
        return self.leaves.appended(session, answer)

    def append(self, session: str, messages: Messages) -> int:
        return self._append(session, entries(messages))

    def read_last(self, session: str, count: int) -> int:
        path = f"/v1/sessions/{session}/entries?order=desc&limit={count}"
        return len(self.client.call("GET", path)["entries"])

    def read_context(self, session: str) -> int:
        return len(self.client.call("GET", f"/v1/sessions/{session}/context")["entries"])

    def compact(self, session: str, first_kept_seq: int) -> bool:
        self.leaves.compacting(session)
        self._append(session, compaction(first_kept_seq))
        return True

    def rewind(self, session: str) -> None:
        leaf = self.leaves.before_compaction.get(session)
        if leaf is not None:
            self.client.call("PUT", f"/v1/sessions/{session}/leaf", {"entry_id": leaf})


class Floor(SessionsHttp):
    """The floors (JavaScript and Python) answer the same routes; a session is created at its
    own path."""

    def create(self, session: str) -> None:
        self.client.call("POST", f"/v1/sessions/{session}")


@dataclass
class SessionsRpc:
    """The gateway's RPC methods, through the caller Worker: POST /<method> [args...]."""

    key: str
    label: str
    client: Loopback
    leaves: Leaves = field(default_factory=Leaves)

    def _call(self, method: str, *args: Any) -> Any:
        answer = self.client.call("POST", f"/{method}", [TENANT, *args])
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["ok"]

    def create(self, session: str) -> None:
        self._call("create_session", {"id": session})

    def append(self, session: str, messages: Messages) -> int:
        return self.leaves.appended(session, self._call("append", session, entries(messages)))

    def read_last(self, session: str, count: int) -> int:
        query = {"order": "desc", "limit": count}
        return len(self._call("read_entries", session, query)["entries"])

    def read_context(self, session: str) -> int:
        return len(self._call("read_context", session)["entries"])

    def compact(self, session: str, first_kept_seq: int) -> bool:
        self.leaves.compacting(session)
        self.leaves.appended(session, self._call("append", session, compaction(first_kept_seq)))
        return True

    def rewind(self, session: str) -> None:
        leaf = self.leaves.before_compaction.get(session)
        if leaf is not None:
            self._call("set_leaf", session, leaf)


def text_part(text: str) -> dict[str, str]:
    return {"type": "text", "text": text}


@dataclass
class Peer:
    """AIChatAgent: messages in the AI SDK's UIMessage shape, ids given by the app."""

    key: str
    label: str
    client: Loopback
    _written: dict[str, int] = field(default_factory=dict)

    def create(self, session: str) -> None:
        self._written[session] = 0  # an agent exists once addressed

    def append(self, session: str, messages: Messages) -> int:
        first = self._written.get(session, 0)
        ui = [
            {"id": f"{session}-{first + i}", "role": m["role"], "parts": [text_part(m["content"])]}
            for i, m in enumerate(messages)
        ]
        self.client.call("POST", f"/peer/{session}/turn", {"messages": ui})
        self._written[session] = first + len(ui)
        return len(ui)

    def read_last(self, session: str, count: int) -> int:
        return len(self.client.call("GET", f"/peer/{session}/recent?limit={count}"))

    def read_context(self, session: str) -> int:
        return len(self.client.call("GET", f"/agents/chat-peer/{session}/get-messages"))

    def compact(self, session: str, first_kept_seq: int) -> bool:
        return False  # AIChatAgent's own surface has no compaction without a model

    def rewind(self, session: str) -> None:
        pass  # never compacted
