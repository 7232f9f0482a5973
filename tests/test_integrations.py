"""Drop-in stores for agent frameworks, each tested against the framework's own code:
the OpenAI Agents SDK (its `Session` protocol, its `SQLiteSession` as the reference, and its
`Runner`), Flue (its vitest contract suite for `ConversationStreamStore`), and the TypeScript
types that the Flue adapter and other Workers compile against."""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, ModelResponse, RunConfig, Runner, SQLiteSession, Usage
from agents.memory import Session
from agents.models.interface import Model
from openai.types.responses import ResponseOutputMessage, ResponseOutputText

from agent_sessions.client import AsyncClient
from agent_sessions.integrations.openai_agents import AgentSessionsSession

from .conftest import ROOT, run_tool
from .servers import Server

TOKEN = "integrations-token-0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("integrations") / "data"
    running = Server(data, env={**os.environ, "AGENT_SESSIONS_TOKENS": f"{TOKEN}=app"})
    yield running
    running.stop()


def ours(server: Server, session_id: str) -> AgentSessionsSession:
    return AgentSessionsSession(session_id, AsyncClient(server.base, TOKEN), agent_name="triage")


# -- OpenAI Agents SDK --------------------------------------------------------------------


def test_it_is_a_session_with_the_sdk_signatures(server: Server) -> None:
    session = ours(server, "protocol")
    assert isinstance(session, Session)
    for name in ("get_items", "add_items", "pop_item", "clear_session"):
        theirs = inspect.signature(getattr(SQLiteSession, name))
        mine = inspect.signature(getattr(AgentSessionsSession, name))
        assert list(mine.parameters) == list(theirs.parameters), name
        assert inspect.iscoroutinefunction(getattr(AgentSessionsSession, name)), name


ITEMS: list[Any] = [
    {"role": "user", "content": "Where is my order?"},
    {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": '{"id": 7}'},
    {"type": "function_call_output", "call_id": "c1", "output": "shipped"},
    {
        "type": "message",
        "role": "assistant",
        "id": "m1",
        "status": "completed",
        "content": [{"type": "output_text", "text": "It has shipped.", "annotations": []}],
    },
    {"role": "user", "content": "Thanks!"},
]


async def script(session: Any) -> list[Any]:
    """The same calls on any Session; what each returned."""
    seen: list[Any] = [await session.get_items(), await session.pop_item()]
    await session.add_items(ITEMS[:3])
    await session.add_items(ITEMS[3:])
    seen += [await session.get_items(), await session.get_items(limit=2)]
    seen += [await session.get_items(limit=50), await session.pop_item()]
    seen += [await session.get_items(limit=1)]
    await session.clear_session()
    seen += [await session.get_items(), await session.pop_item()]
    await session.add_items(ITEMS[:1])
    seen += [await session.get_items()]
    return seen


def test_it_answers_as_the_sdks_own_sqlite_session(server: Server, tmp_path: Path) -> None:
    """A differential test: the SDK's SQLiteSession is the reference."""
    reference = asyncio.run(script(SQLiteSession("ref", tmp_path / "ref.sqlite")))
    mine = asyncio.run(script(ours(server, "differential")))
    assert mine == reference
    assert reference[2] == ITEMS, "the script must exercise real content"


class EchoModel(Model):
    """A model that answers from a script and records the input it was given."""

    def __init__(self) -> None:
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kw: Any):
        self.inputs.append(input)
        text = f"answer {len(self.inputs)}"
        message = ResponseOutputMessage(
            id=f"msg_{len(self.inputs)}",
            type="message",
            role="assistant",
            status="completed",
            content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
        )
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def test_the_sdks_runner_keeps_its_history_in_agent_sessions(server: Server) -> None:
    """Two runs of the real Runner on one session: the second sees the first's turn, and the
    turns are entries in agent-sessions and rows in its D1 mirror."""
    model = EchoModel()
    agent = Agent(name="triage", instructions="Be brief.", model=model)
    config = RunConfig(tracing_disabled=True)
    session = ours(server, "runner")

    async def two_turns() -> tuple[Any, Any]:
        first = await Runner.run(agent, "hello", session=session, run_config=config)
        second = await Runner.run(agent, "and again", session=session, run_config=config)
        return first.final_output, second.final_output

    assert asyncio.run(two_turns()) == ("answer 1", "answer 2")
    seen = json.dumps(model.inputs[1])
    assert "hello" in seen, "the second run got the first turn from agent-sessions"
    assert "answer 1" in seen
    page = asyncio.run(AsyncClient(server.base, TOKEN).read_entries("runner"))
    assert [(e.type, e.content) for e in page.entries] == [
        ("message", "hello"),
        ("message", "answer 1"),
        ("message", "and again"),
        ("message", "answer 2"),
    ]
    d1 = sqlite3.connect(server.data_dir / "d1.sqlite")
    try:
        query = "SELECT count(*) FROM session_entries WHERE session_id = 'runner'"
        for _ in range(100):
            if d1.execute(query).fetchone() == (4,):
                break
            asyncio.run(asyncio.sleep(0.05))
        assert d1.execute(query).fetchone() == (4,)
        agent_row = "SELECT agent_name FROM sessions WHERE id = 'runner'"
        assert d1.execute(agent_row).fetchone() == ("triage",)
    finally:
        d1.close()


# -- Flue -------------------------------------------------------------------------------------


def test_flues_contract_suite_passes(tmp_path: Path) -> None:
    """Flue's own `defineConversationStreamStoreContractTests`, against the local server.
    Its seven submission-authorization tests return early without a submission store, which
    a stream-only adapter does not have (see integrations/flue)."""
    report = tmp_path / "vitest.json"
    command = ["node_modules/.bin/vitest", "run", "--root", "integrations/flue"]
    command += ["--reporter=json", f"--outputFile={report}"]
    run_tool(command, env={"AGENT_SESSIONS_PYTHON": sys.executable})
    result = json.loads(report.read_text())
    assert (result["numFailedTests"], result["numPendingTests"]) == (0, 0)
    assert result["numPassedTests"] == 21, result["numPassedTests"]


# -- TypeScript ----------------------------------------------------------------------------


def test_the_api_types_are_generated_from_the_current_api() -> None:
    run_tool([sys.executable, "scripts/gen_types.py", "--check"])


def test_the_typescript_compiles_against_flue_and_the_api_types() -> None:
    run_tool(["node_modules/.bin/tsc", "-p", "integrations/flue"])


def test_the_rpc_types_list_every_gateway_method() -> None:
    tree = ast.parse((ROOT / "src/agent_sessions/worker/gateway.py").read_text())
    (default,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Default"]
    methods = {
        n.name
        for n in default.body
        if isinstance(n, ast.AsyncFunctionDef) and not n.name.startswith("_") and n.name != "fetch"
    }
    typed = set(re.findall(r"^  (\w+)\(", (ROOT / "clients/typescript/rpc.d.ts").read_text(), re.M))
    assert typed == methods
