"""One OpenAI Agents turn through the adapter, as an app runs it: a new
`AgentSessionsSession` per request (a web handler's), `Runner.run` with an offline model
that answers ~1 KB at once, against the Worker over HTTP and the local server, and, for
what the SDK itself costs, the same turn over its own `SQLiteSession` (a file, in the bench's
process) and over a history kept in a list (no storage at all: what the Runner alone costs
with that much history). The turn is what the session does around the model (read the
history, append the turn's items) and what the Runner does with the history it read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from agents import Agent, ModelResponse, RunConfig, Runner, SQLiteSession, Usage
from agents.memory import Session
from agents.models.interface import Model
from openai.types.responses import ResponseOutputMessage, ResponseOutputText

from agent_sessions.client import AsyncClient
from agent_sessions.integrations.openai_agents import AgentSessionsSession
from bench.workload import Conversation

from .plan import Plan
from .progress import progress
from .sampling import interleave, quiesce
from .targets import BARE

CONFIG = RunConfig(tracing_disabled=True)
SDK = "sdk"
"""The key of the SDK's own SQLiteSession, measured in the bench's own process."""
IN_PROCESS_KEYS = (SDK, BARE)


class ListSession:
    """The SDK's `Session` over a list per session id, shared by the per-turn objects: the
    Runner's turn with nothing stored, read or sent."""

    histories: ClassVar[dict[str, list[Any]]] = {}
    session_settings = None

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.items = self.histories.setdefault(session_id, [])

    async def get_items(self, limit: int | None = None) -> list[Any]:
        return list(self.items if limit is None else self.items[-limit:])

    async def add_items(self, items: list[Any]) -> None:
        self.items.extend(items)

    async def pop_item(self) -> Any:
        return self.items.pop() if self.items else None

    async def clear_session(self) -> None:
        self.items.clear()


class ScriptedModel(Model):
    """Answers every turn with the next assistant message of the workload: no network."""

    def __init__(self) -> None:
        self.conversation = Conversation(seed=7)

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        text = self.conversation.take(2)[1]["content"]
        reply = ResponseOutputMessage(
            id="msg_bench",
            type="message",
            role="assistant",
            status="completed",
            content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
        )
        return ModelResponse(output=[reply], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class AgentsTurns:
    """Runner turns on one event loop (an app's), one session object per turn."""

    def __init__(self, servers: Mapping[str, tuple[str, str | None]], sdk_file: Path) -> None:
        """servers: system key -> (base URL, token); `sdk_file`: the SQLiteSession's."""
        self.servers = servers
        self.sdk_file = sdk_file
        self.keys = [*servers, *IN_PROCESS_KEYS]
        self.agent = Agent(name="bench", instructions="Be brief.", model=ScriptedModel())
        self.loop = asyncio.new_event_loop()

    def session(self, key: str, session_id: str) -> Session:
        if key == SDK:
            return SQLiteSession(session_id, self.sdk_file)
        if key == BARE:
            return ListSession(session_id)
        base, token = self.servers[key]
        return AgentSessionsSession(session_id, AsyncClient(base, token), agent_name="bench")

    def seed(self, key: str, session_id: str, history: int, batch: int) -> None:
        items = Conversation().take(history)
        session = self.session(key, session_id)
        for start in range(0, history, batch):
            self.loop.run_until_complete(session.add_items(items[start : start + batch]))

    def turn(self, key: str, session_id: str, text: str) -> None:
        run = Runner.run(self.agent, text, session=self.session(key, session_id), run_config=CONFIG)
        self.loop.run_until_complete(run)

    def close(self) -> None:
        self.loop.close()


def runner(turns: AgentsTurns, key: str, session: str, texts: list[str]) -> Callable[[int], object]:
    return lambda rep: turns.turn(key, session, texts[rep])


def run_agents(turns: AgentsTurns, pids: Mapping[str, int], plan: Plan) -> list[dict[str, Any]]:
    cells = []
    for history in plan.agents_histories:
        session = f"agents{history}"
        for key in turns.keys:
            turns.seed(key, session, history, plan.seed_batch)
        quiesce(pids)
        texts = [m["content"] for m in Conversation(seed=history).take(plan.agents_reps + 1)]
        calls = {key: runner(turns, key, session, texts) for key in turns.keys}
        samples = interleave(calls, pids, plan.agents_reps)
        summary = {key: s.summary() for key, s in samples.items()}
        cells.append({"op": "agents_turn", "history": history, "systems": summary})
        progress(f"OpenAI Agents turns at history {history:,} done")
    return cells
