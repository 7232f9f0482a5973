"""The systems under test, each behind the same small interface.

- agent-sessions: the engine over SQLite with the Durable Object's value rules (the adapter
  the conformance suite proves faithful); a turn is one append of two entries.
- single blob: Flue's default layout (id, data, updated_at); the app holds the conversation
  and saves all of it as JSON every turn, as a blob store must.
- OpenAI Agents SDK `SQLiteSession`: one row per item (`add_items`; `get_items` to load).
- LangGraph `SqliteSaver`: per step, the node's writes (`put_writes`) and a checkpoint whose
  messages channel holds the whole conversation (`put`), as the Pregel loop saves them.
The peers are bench-only dependencies (the `bench` extra); a missing one is skipped, loudly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from agent_sessions.adapters.runtime_values import DURABLE_OBJECT
from agent_sessions.adapters.sqlite import SqliteSql
from agent_sessions.engine import SessionEngine, SessionKey
from agent_sessions.engine.limits import MAX_ENTRIES_PER_APPEND

from .probe import open_wal

SESSION = "bench-session"
Messages = list[dict[str, Any]]


class System(Protocol):
    name: str
    database: Path

    def seed(self, messages: Messages) -> None:
        """Store a history of `messages` (not measured)."""

    def turn(self, messages: Messages) -> None:
        """Save one turn's new messages, as the system's users do after each turn."""

    def reader(self) -> Callable[[], int]:
        """A load on a fresh connection (opened here, not measured): rebuilds the context and
        returns the rows SQLite returned."""

    def compact(self, summary: str, keep: int) -> bool:
        """Replace all but the last `keep` messages by a summary; False if not supported."""


class AgentSessions:
    name = "agent-sessions"

    def __init__(self, directory: Path) -> None:
        self.database = directory / "agent-sessions.sqlite"
        self.key = SessionKey("bench", SESSION)
        self.engine = self._engine()
        self.engine.create_session(self.key)

    def _engine(self) -> SessionEngine:
        return SessionEngine(SqliteSql(open_wal(self.database), DURABLE_OBJECT))

    @staticmethod
    def _entries(messages: Messages) -> Messages:
        return [{"type": "message", **m} for m in messages]

    def seed(self, messages: Messages) -> None:
        step = MAX_ENTRIES_PER_APPEND
        for start in range(0, len(messages), step):
            self.engine.append(self.key, self._entries(messages[start : start + step]))

    def turn(self, messages: Messages) -> None:
        self.engine.append(self.key, self._entries(messages))

    def reader(self) -> Callable[[], int]:
        engine = self._engine()  # its schema check at start is not part of the load

        def load() -> int:
            # read_context reads the session row, then the branch's entries
            return 1 + len(engine.read_context(self.key)["entries"])

        return load

    def compact(self, summary: str, keep: int) -> bool:
        last = self.engine.get_session(self.key)["last_seq"]
        payload = {"first_kept_seq": max(1, last - keep + 1)}
        self.engine.append(
            self.key, [{"type": "compaction", "content": summary, "payload": payload}]
        )
        return True


class SingleBlob:
    name = "single blob (Flue default)"
    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, data TEXT, updated_at INTEGER)"
    )
    _SAVE = (
        "INSERT INTO sessions (id, data, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at"
    )
    _LOAD = "SELECT data FROM sessions WHERE id = ?"

    def __init__(self, directory: Path) -> None:
        self.database = directory / "single-blob.sqlite"
        self.conn = open_wal(self.database)
        self.conn.execute(self._SCHEMA)
        self.messages: Messages = []
        self._saves = 0

    def _save(self) -> None:
        self._saves += 1
        self.conn.execute(
            self._SAVE, (SESSION, json.dumps({"messages": self.messages}), self._saves)
        )

    def seed(self, messages: Messages) -> None:
        self.messages.extend(messages)
        self._save()

    def turn(self, messages: Messages) -> None:
        self.messages.extend(messages)
        self._save()

    def reader(self) -> Callable[[], int]:
        conn = open_wal(self.database)

        def load() -> int:
            rows = conn.execute(self._LOAD, (SESSION,)).fetchall()
            json.loads(rows[0][0])
            return len(rows)

        return load

    def compact(self, summary: str, keep: int) -> bool:
        self.messages = [{"role": "system", "content": summary}, *self.messages[-keep:]]
        self._save()
        return True


class OpenAIAgentsSession:
    name = "OpenAI Agents SQLiteSession"

    def __init__(self, directory: Path) -> None:
        from agents.memory import SQLiteSession  # noqa: PLC0415 - a bench-only peer

        self._session_class = SQLiteSession
        self.database = directory / "openai-agents.sqlite"
        self.session = SQLiteSession(SESSION, self.database)
        # One loop for the run, as an agent app has: its executor thread, and so the session's
        # thread-local connection, live across turns.
        self.loop = asyncio.new_event_loop()

    def seed(self, messages: Messages) -> None:
        self.loop.run_until_complete(self.session.add_items(messages))

    def turn(self, messages: Messages) -> None:
        self.loop.run_until_complete(self.session.add_items(messages))

    def reader(self) -> Callable[[], int]:
        session = self._session_class(SESSION, self.database)
        return lambda: len(self.loop.run_until_complete(session.get_items()))

    def compact(self, summary: str, keep: int) -> bool:
        return False  # its compaction session calls the OpenAI API: not offline


class LangGraphSaver:
    name = "LangGraph SqliteSaver"

    def __init__(self, directory: Path) -> None:
        from langgraph.checkpoint.base import empty_checkpoint  # noqa: PLC0415 - bench-only
        from langgraph.checkpoint.sqlite import SqliteSaver  # noqa: PLC0415

        self._saver_class = SqliteSaver
        self._empty = empty_checkpoint
        self.database = directory / "langgraph.sqlite"
        self.saver = SqliteSaver(open_wal(self.database))
        self.saver.setup()
        self.config: dict[str, Any] = {"configurable": {"thread_id": SESSION, "checkpoint_ns": ""}}
        self.messages: Messages = []
        self.step = 0
        self._checkpoint()  # the input checkpoint, which the first step's writes attach to

    def _put(self, new: Messages) -> None:
        self.step += 1
        self.saver.put_writes(self.config, [("messages", new)], task_id=f"task-{self.step}")
        self.messages.extend(new)
        self._checkpoint()

    def _checkpoint(self) -> None:
        checkpoint = self._empty()  # a new id, later than the last
        checkpoint["channel_values"] = {"messages": self.messages}
        checkpoint["channel_versions"] = {"messages": self.step}
        checkpoint["versions_seen"] = {"agent": {"messages": self.step}}
        metadata = {"source": "loop", "step": self.step, "parents": {}}
        self.config = self.saver.put(self.config, checkpoint, metadata, {"messages": self.step})

    def seed(self, messages: Messages) -> None:
        self._put(messages)

    def turn(self, messages: Messages) -> None:
        self._put(messages)

    def reader(self) -> Callable[[], int]:
        saver = self._saver_class(open_wal(self.database))
        config = {"configurable": {"thread_id": SESSION, "checkpoint_ns": ""}}

        def load() -> int:
            found = saver.get_tuple(config)
            assert found is not None
            return 1 + len(found.pending_writes or [])

        return load

    def compact(self, summary: str, keep: int) -> bool:
        return False  # done in the graph (RemoveMessage), not by the saver


FACTORIES: dict[str, Callable[[Path], System]] = {
    "agent-sessions": AgentSessions,
    "single-blob": SingleBlob,
    "openai-agents": OpenAIAgentsSession,
    "langgraph": LangGraphSaver,
}
