"""The LangGraph checkpointer against LangGraph itself and the real local server: the
conformance suite from PyPI (`langgraph-checkpoint-conformance`) through the async methods and
again through the sync ones, and a real `StateGraph` interrupted in one process and resumed
in another."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import Capability
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from agent_sessions.client import Client
from agent_sessions.client.transport import Call
from agent_sessions.integrations.langgraph import AgentSessionsSaver
from agent_sessions.integrations.langgraph.records import session_of

from .conftest import ROOT
from .servers import Server

TOKEN = "langgraph-token-0123456789"
CAPABILITIES = {c.value for c in Capability} - {"delete_for_runs"}
"""What the saver declares; delete_for_runs would have to read every thread of a tenant."""
THREADS_OF_A_USER = """\
SELECT json_extract(s.metadata, '$.langgraph.thread_id') AS thread_id, s.updated_at,
       (SELECT count(*) FROM session_entries e
         WHERE e.tenant_id = s.tenant_id AND e.session_id = s.id
           AND e.role = 'langgraph.checkpoint') AS checkpoints
  FROM sessions s
 WHERE s.tenant_id = ? AND s.user_id = ?
   AND json_extract(s.metadata, '$.langgraph.thread_id') IS NOT NULL
 ORDER BY s.updated_at DESC"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("langgraph") / "data"
    running = Server(data, env={**os.environ, "AGENT_SESSIONS_TOKENS": f"{TOKEN}=app"})
    yield running
    running.stop()


class Recording(Client):
    """The real client, recording each request's method and last path segment."""

    def __init__(self, base: str) -> None:
        super().__init__(base, TOKEN)
        self.requests: list[tuple[str, str]] = []

    def _send(self, call: Call, model: Any) -> Any:
        self.requests.append((call.method, call.path.rsplit("/", 1)[-1]))
        return super()._send(call, model)


class SyncDriven(AgentSessionsSaver):
    """The saver's sync methods behind the async names the conformance suite calls."""

    async def aput(self, *args: Any) -> Any:
        return await asyncio.to_thread(self.put, *args)

    async def aput_writes(self, *args: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(self.put_writes, *args, **kwargs)

    async def aget_tuple(self, config: Any) -> Any:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(self, config: Any, **kwargs: Any) -> AsyncIterator[Any]:
        for found in await asyncio.to_thread(lambda: list(self.list(config, **kwargs))):
            yield found

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def acopy_thread(self, source: str, target: str) -> None:
        await asyncio.to_thread(self.copy_thread, source, target)

    async def aprune(self, thread_ids: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(self.prune, thread_ids, **kwargs)


@pytest.mark.parametrize("kind", [AgentSessionsSaver, SyncDriven], ids=["async", "sync"])
def test_the_conformance_suite_passes_for_every_capability(server: Server, kind: type) -> None:
    @checkpointer_test(name=kind.__name__)
    async def saver() -> AsyncIterator[AgentSessionsSaver]:
        yield kind(Client(server.base, TOKEN))

    report = asyncio.run(validate(saver)).to_dict()
    results = report["results"]
    assert {name for name, r in results.items() if r["detected"]} == CAPABILITIES
    failures = {name: r["failures"] for name, r in results.items() if r["tests_failed"]}
    assert failures == {}
    assert all(results[name]["tests_passed"] > 0 for name in CAPABILITIES)
    assert report["conformance_level"] == "FULL"


def run_phase(server: Server, thread: str, phase: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "tests.langgraph_app", server.base, thread, phase]
    env = {**os.environ, "AGENT_SESSIONS_TOKEN": TOKEN}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_a_state_graph_resumes_in_another_process(server: Server) -> None:
    """Process 1 runs the graph (blocking API) until it asks a question; process 2 resumes
    it with the answer (async API), from nothing but the thread in agent-sessions."""
    first = run_phase(server, "trip-1", "start")
    assert first == {
        "messages": ["Plan my trip", "I see 1 messages"],
        "decision": None,
        "interrupted": True,
    }
    second = run_phase(server, "trip-1", "resume")
    assert second == {
        "messages": ["Plan my trip", "I see 1 messages", "decision: yes", "I see 3 messages"],
        "decision": "yes",
        "interrupted": False,
    }
    d1 = sqlite3.connect(server.data_dir / "d1.sqlite")
    try:
        rows: list[Any] = []
        for _ in range(100):
            rows = d1.execute(THREADS_OF_A_USER, ("app", "ada")).fetchall()
            if rows and rows[0][2] == 5:
                break
            asyncio.run(asyncio.sleep(0.05))
        assert [(thread, count) for thread, _, count in rows] == [("trip-1", 5)]
    finally:
        d1.close()


def test_the_readme_shows_the_d1_query() -> None:
    assert THREADS_OF_A_USER in (ROOT / "README.md").read_text()


def checkpoint(checkpoint_id: str, values: dict[str, Any], versions: dict[str, str]) -> Any:
    return {
        "v": 4,
        "id": checkpoint_id,
        "ts": "2026-01-01T00:00:00+00:00",
        "channel_values": values,
        "channel_versions": versions,
        "versions_seen": {},
        "updated_channels": None,
    }


def config(thread: str, checkpoint_id: str | None = None) -> Any:
    conf = {"thread_id": thread, "checkpoint_ns": ""}
    return {"configurable": conf | ({"checkpoint_id": checkpoint_id} if checkpoint_id else {})}


def test_a_step_stores_what_it_changed_in_one_request_each(server: Server) -> None:
    """A put is one append holding only the changed channels; a put_writes is one append; the
    latest checkpoint, its values and its writes are one read, plus one point read for a
    value stored many steps back."""
    client = Recording(server.base)
    saver = AgentSessionsSaver(client)
    docs = ["a long document"] * 100
    first = checkpoint("01", {"docs": docs, "messages": []}, {"docs": "1", "messages": "1"})
    saver.put(config("steps"), first, {}, {"docs": "1", "messages": "1"})
    messages: list[str] = []
    for step in range(2, 12):
        messages.append(f"message {step}")
        versions = {"docs": "1", "messages": str(step)}
        values = {"docs": docs, "messages": list(messages)}
        client.requests.clear()
        parent = config("steps", f"{step - 1:02}")
        saver.put(parent, checkpoint(f"{step:02}", values, versions), {}, {"messages": str(step)})
        saver.put_writes(config("steps", f"{step:02}"), [("messages", "next")], f"task-{step}")
        assert client.requests == [("POST", "entries"), ("POST", "entries")]
        stored = client.read_entries("steps", order="desc", limit=3).entries[::-1]
        assert [e.role for e in stored] == [
            "langgraph.value",
            "langgraph.checkpoint",
            "langgraph.writes",
        ]
        assert stored[0].payload["channel"] == "messages"

    client.requests.clear()
    latest = AgentSessionsSaver(client).get_tuple(config("steps"))
    assert latest is not None
    assert latest.checkpoint["channel_values"] == {"docs": docs, "messages": messages}
    assert latest.pending_writes == [("task-11", "messages", "next")]
    assert len(client.requests) == 2, "one page, and one point read for the docs"


def test_writes_that_arrive_before_their_checkpoint_are_its_pending_writes(server: Server) -> None:
    """LangGraph sends a checkpoint's writes without waiting for its put."""
    saver = AgentSessionsSaver(Client(server.base, TOKEN))
    saver.put(config("early"), checkpoint("1", {}, {}), {}, {})
    saver.put_writes(config("early", "2"), [("a", 1)], "task-1")
    saver.put(config("early", "1"), checkpoint("2", {}, {}), {}, {})
    saver.put_writes(config("early", "2"), [("b", 2)], "task-2")
    for reader in (saver, AgentSessionsSaver(Client(server.base, TOKEN))):
        found = reader.get_tuple(config("early"))
        assert found is not None
        assert found.pending_writes == [("task-1", "a", 1), ("task-2", "b", 2)]
        listed = list(reader.list(config("early")))
        assert [t.pending_writes for t in listed] == [found.pending_writes, []]


def test_any_thread_id_is_a_thread(server: Server) -> None:
    """A thread id that is no session id is kept under a digest, and named in its metadata."""
    saver = AgentSessionsSaver(Client(server.base, TOKEN))
    thread = "user 42 / chat #7"
    saver.put(config(thread), checkpoint("1", {"x": 1}, {"x": "1"}), {}, {"x": "1"})
    found = saver.get_tuple(config(thread))
    assert found is not None
    assert found.config["configurable"]["thread_id"] == thread
    assert found.checkpoint["channel_values"] == {"x": 1}
    session = Client(server.base, TOKEN).get_session(session_of(thread))
    assert session.id.startswith("lg-")
    assert session.metadata == {"langgraph": {"thread_id": thread}}


def test_copy_thread_refuses_a_target_that_exists(server: Server) -> None:
    saver = AgentSessionsSaver(Client(server.base, TOKEN))
    for thread in ("copy-a", "copy-b"):
        saver.put(config(thread), checkpoint("1", {}, {}), {}, {})
    with pytest.raises(ValueError, match="already exists"):
        saver.copy_thread("copy-a", "copy-b")


def test_a_saver_that_read_a_thread_before_another_pruned_it_writes_what_reads_back(
    server: Server,
) -> None:
    """Saver A's memory of where values are goes stale when B prunes the thread; A's next
    checkpoint still reads back whole (the value is found by its channel and version)."""
    a, b = (AgentSessionsSaver(Client(server.base, TOKEN)) for _ in range(2))
    docs = {"docs": ["a long document"] * 10, "messages": ["one"]}
    a.put(config("pruned"), checkpoint("1", docs, {"docs": "1", "messages": "1"}), {}, {})
    two = docs | {"messages": ["one", "two"]}
    versions = {"docs": "1", "messages": "2"}
    a.put(config("pruned", "1"), checkpoint("2", two, versions), {}, {"messages": "2"})
    b.prune(["pruned"], strategy="keep_latest")
    assert [t.checkpoint["id"] for t in b.list(config("pruned"))] == ["2"]
    three = docs | {"messages": ["one", "two", "three"]}
    versions = {"docs": "1", "messages": "3"}
    a.put(config("pruned", "2"), checkpoint("3", three, versions), {}, {"messages": "3"})
    for reader in (a, b, AgentSessionsSaver(Client(server.base, TOKEN))):
        found = reader.get_tuple(config("pruned"))
        assert found is not None
        assert found.checkpoint["channel_values"] == three
    b.prune(["pruned"], strategy="keep_latest")
    (kept,) = AgentSessionsSaver(Client(server.base, TOKEN)).list(config("pruned"))
    assert (kept.checkpoint["id"], kept.checkpoint["channel_values"]) == ("3", three)


class ToolState(TypedDict, total=False):
    messages: Annotated[list[BaseMessage], add_messages]


PAGE = "<p>a fetched page é</p>\n" * (8 * 2**20 // 24)
"""An 8 MB tool output: more than a row holds, so it goes to the blob store."""


def fetch(state: ToolState) -> ToolState:
    return {"messages": [ToolMessage(content=PAGE, tool_call_id="fetch-1")]}


def answer(state: ToolState) -> ToolState:
    size = len(state["messages"][-1].content)
    return {"messages": [AIMessage(content=f"the page has {size} characters")]}


def tool_graph(saver: AgentSessionsSaver) -> Any:
    builder = StateGraph(ToolState)
    builder.add_node("fetch", fetch)
    builder.add_node("answer", answer)
    builder.add_edge(START, "fetch")
    builder.add_edge("fetch", "answer")
    builder.add_edge("answer", END)
    return builder.compile(checkpointer=saver)


def test_a_graph_with_an_8_mb_tool_output_resumes_from_the_saver(server: Server) -> None:
    """The tool's output is in the checkpointed state: a new saver (nothing in memory) reads
    it back whole, and its pending writes too. (Two such pages in one channel would be one
    value of 17 MB as the saver encodes it: past the per-entry maximum, a 413.)"""
    thread = {"configurable": {"thread_id": "big-page"}}
    done = tool_graph(AgentSessionsSaver(Client(server.base, TOKEN))).invoke(
        {"messages": [HumanMessage(content="fetch the page")]}, thread
    )
    assert done["messages"][-1].content == f"the page has {len(PAGE)} characters"
    fresh = tool_graph(AgentSessionsSaver(Client(server.base, TOKEN)))
    state = fresh.get_state(thread)
    assert [m.content for m in state.values["messages"]][1] == PAGE
    history = list(fresh.get_state_history(thread))
    after_fetch = next(s for s in history if s.next == ("answer",))
    assert after_fetch.values["messages"][-1].content == PAGE
    short = Client(server.base, TOKEN).read_entries("big-page", large="prefix", limit=1000)
    assert any(e.blob is not None for e in short.entries), "the page is in the blob store"
