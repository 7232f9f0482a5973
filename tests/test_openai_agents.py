"""The OpenAI Agents SDK adapter against the SDK itself and the real local server: its
`Session` protocol, its own `SQLiteSession` as the reference for every behaviour the SDK
defines, its `Runner`, and its `EncryptedSession` wrapped around the adapter."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, ModelResponse, RunConfig, Runner, SQLiteSession, Usage
from agents.extensions.memory import EncryptedSession
from agents.memory import Session, SessionSettings
from agents.models.interface import Model
from cryptography.fernet import Fernet, InvalidToken
from openai.types.responses import ResponseOutputMessage, ResponseOutputText

from agent_sessions.client import AsyncClient, Client
from agent_sessions.client.transport import ApiError, Call
from agent_sessions.engine.limits import MAX_APPEND_BYTES
from agent_sessions.http.body import MAX_REQUEST_BYTES
from agent_sessions.integrations.openai_agents import AgentSessionsSession
from agent_sessions.integrations.openai_agents.batches import MAX_BODY_BYTES, stored_bytes
from agent_sessions.integrations.openai_agents.items import to_entry

from .servers import Server

TOKEN = "openai-agents-token-0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("openai-agents") / "data"
    running = Server(data, env={**os.environ, "AGENT_SESSIONS_TOKENS": f"{TOKEN}=app"})
    yield running
    running.stop()


class Recording(AsyncClient):
    """The real client, recording each request (method, last path segment); `before` may act
    (or raise) before a request is sent."""

    def __init__(self, base: str, before: Callable[[Call], None] | None = None) -> None:
        super().__init__(base, TOKEN)
        self.requests: list[tuple[str, str]] = []
        self.before = before

    async def _send(self, call: Call, model: Any) -> Any:
        if self.before is not None:
            self.before(call)
        self.requests.append((call.method, call.path.rsplit("/", 1)[-1]))
        return await super()._send(call, model)


def ours(server: Server, session_id: str, **kwargs: Any) -> AgentSessionsSession:
    client = AsyncClient(server.base, TOKEN)
    return AgentSessionsSession(session_id, client, agent_name="triage", **kwargs)


def entries(server: Server, session_id: str) -> list[Any]:
    """Every stored entry (pages end early past MAX_READ_BYTES: read on to the end)."""
    client, found, after = Client(server.base, TOKEN), [], 0
    while True:
        page = client.read_entries(session_id, after_seq=after, limit=1000)
        found += page.entries
        if page.next_cursor is None:
            return found
        after = page.next_cursor


def message(text: str, role: str = "user") -> dict[str, Any]:
    return {"role": role, "content": text}


def tool_output(call_id: str, size: int) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": "x" * size}


# -- the protocol, and the SDK's SQLiteSession as the reference ----------------------------


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
        "content": [
            {"type": "output_text", "text": "It has shipped.", "annotations": []},
            {"type": "output_text", "text": "", "annotations": []},
            {"type": "output_text", "text": "Line one\nline two.", "annotations": []},
        ],
    },
    {"role": "user", "content": "Thanks!"},
]


async def script(session: Any) -> list[Any]:
    """The same calls on any Session; what each returned."""
    seen: list[Any] = [await session.get_items(), await session.pop_item()]
    await session.add_items(ITEMS[:3])
    await session.add_items(ITEMS[3:])
    await session.add_items([])
    for limit in (None, 2, 1, 0, -1, -5, 5, 50):
        seen.append(await session.get_items(limit=limit))
    seen += [await session.pop_item(), await session.get_items(limit=1)]
    await session.clear_session()
    seen += [await session.get_items(), await session.pop_item()]
    await session.add_items(ITEMS[:1])
    seen += [await session.get_items()]
    return seen


def test_it_answers_as_the_sdks_own_sqlite_session(server: Server, tmp_path: Path) -> None:
    """A differential test: the SDK's SQLiteSession is the reference, limits included (a
    negative limit is everything, 0 is nothing)."""
    reference = asyncio.run(script(SQLiteSession("ref", tmp_path / "ref.sqlite")))
    mine = asyncio.run(script(ours(server, "differential")))
    assert mine == reference
    assert reference[2] == ITEMS, "the script must exercise real content"
    assert reference[5] == [], "0 is nothing"
    assert reference[6] == ITEMS, "-1 is everything"


@pytest.mark.parametrize(
    "settings", [None, {"limit": 2}, {}, SessionSettings(limit=1), {"limit": -1}]
)
def test_session_settings_are_taken_as_the_sdk_takes_them(
    server: Server, tmp_path: Path, settings: Any
) -> None:
    reference = SQLiteSession("ref", tmp_path / "ref.sqlite", session_settings=settings)
    mine = ours(server, f"settings-{len(str(settings))}", session_settings=settings)
    assert mine.session_settings == reference.session_settings
    assert isinstance(mine.session_settings, SessionSettings)

    async def run(session: Any) -> list[Any]:
        await session.add_items(ITEMS)
        return [await session.get_items(), await session.get_items(limit=3)]

    assert asyncio.run(run(mine)) == asyncio.run(run(reference))


@pytest.mark.parametrize("settings", [{"limit": 2, "depth": 3}, {"max": 1}, "limit=2", 5])
def test_bad_session_settings_are_the_sdks_type_error(tmp_path: Path, settings: Any) -> None:
    with pytest.raises(TypeError) as theirs:
        SQLiteSession("ref", tmp_path / "ref.sqlite", session_settings=settings)
    with pytest.raises(TypeError) as mine:
        AgentSessionsSession("bad", AsyncClient("http://127.0.0.1:9"), session_settings=settings)
    assert str(mine.value) == str(theirs.value)


def test_a_closed_session_refuses_every_call_as_sqlite_session_does(tmp_path: Path) -> None:
    reference = SQLiteSession("ref", tmp_path / "ref.sqlite")
    mine = AgentSessionsSession("closed", AsyncClient("http://127.0.0.1:9"))
    for session in (reference, mine):
        session.close()
        session.close()
        for call in (
            session.get_items(),
            session.add_items([]),
            session.pop_item(),
            session.clear_session(),
        ):
            with pytest.raises(RuntimeError, match="is closed"):
                asyncio.run(call)


# -- sizes ---------------------------------------------------------------------------------


def test_a_140_kb_message_is_stored_once_and_comes_back_whole(server: Server) -> None:
    """Its text is the entry's content (searchable, in D1), and not again in the payload."""
    text = "Please summarise: " + "lorem ipsum é 😀 " * 8_500
    assert len(text.encode()) > 140_000
    session = ours(server, "big-message")
    item = {"role": "user", "content": text}
    asyncio.run(session.add_items([item]))
    assert asyncio.run(session.get_items()) == [item]
    (stored,) = entries(server, "big-message")
    assert stored.content == text
    assert len(json.dumps(stored.payload)) < 200


def test_the_runner_stores_a_140_kb_user_message(server: Server) -> None:
    text = "a long paste " * 11_000
    agent = Agent(name="triage", instructions="Be brief.", model=EchoModel())
    session = ours(server, "big-turn")
    result = asyncio.run(Runner.run(agent, text, session=session, run_config=CONFIG))
    assert result.final_output == "answer 1"
    assert asyncio.run(session.get_items())[0] == {"role": "user", "content": text}


def test_an_8_mb_tool_output_is_stored_and_read_back_whole(server: Server) -> None:
    """Larger than a row holds: its text goes to the blob store, and the SDK gets it back
    whole, from this session object and from a new one (nothing kept in memory)."""
    output = tool_output("read-file", 0) | {"output": "a file line é\n" * (8 * 2**20 // 14)}
    session = ours(server, "eight-mb")
    asyncio.run(session.add_items([message("read the file"), output]))
    assert asyncio.run(session.get_items()) == [message("read the file"), output]
    assert asyncio.run(ours(server, "eight-mb").get_items()) == [message("read the file"), output]
    short = asyncio.run(
        AsyncClient(server.base, TOKEN).read_entries("eight-mb", large="prefix")
    ).entries
    assert short[1].blob is not None
    assert short[1].blob.fields == ["content"]


def test_the_runner_gives_the_model_an_8_mb_tool_output_from_the_session(
    server: Server,
) -> None:
    output = tool_output("fetch", 0) | {"output": "<html>page</html>\n" * (8 * 2**20 // 18)}
    session = ours(server, "eight-mb-run")
    call = {
        "type": "function_call", "call_id": "fetch", "name": "fetch_page",
        "arguments": "{}", "id": "fc_1", "status": "completed",
    }  # fmt: skip
    asyncio.run(session.add_items([message("fetch it"), call, output]))
    model = EchoModel()
    agent = Agent(name="triage", instructions="Be brief.", model=model)
    result = asyncio.run(Runner.run(agent, "summarise it", session=session, run_config=CONFIG))
    assert result.final_output == "answer 1"
    given = [i for i in model.inputs[0] if i.get("type") == "function_call_output"]
    assert [i["output"] for i in given] == [output["output"]]
    items = asyncio.run(ours(server, "eight-mb-run").get_items())
    assert items[:3] == [message("fetch it"), call, output]


def test_a_turn_of_40_tool_outputs_of_60_kb_is_one_append(server: Server) -> None:
    client = Recording(server.base)
    session = AgentSessionsSession("forty-tools", client)
    items = [tool_output(f"c{i}", 60_000) for i in range(40)]
    asyncio.run(session.add_items(items))
    assert client.requests == [("POST", "entries"), ("POST", "import")]
    assert asyncio.run(session.get_items()) == items


def test_a_call_past_one_append_is_written_in_parts_and_reads_whole(
    server: Server, tmp_path: Path
) -> None:
    """17.6 MB (over the 16 MiB append) and 600 items (over 500): parts, then all of it, in
    order, as SQLiteSession stores it."""
    items = [tool_output(f"c{i}", 220_000) for i in range(80)]
    items += [message(f"note {i}") for i in range(600)]
    client = Recording(server.base)
    session = AgentSessionsSession("parts", client)
    asyncio.run(session.add_items(items))
    appends = [r for r in client.requests if r[0] == "POST"]
    assert len(appends) >= 3
    reference = SQLiteSession("ref", tmp_path / "ref.sqlite")
    asyncio.run(reference.add_items(items))
    assert asyncio.run(session.get_items()) == asyncio.run(reference.get_items())
    assert asyncio.run(session.get_items(limit=3)) == items[-3:]


def test_a_call_in_parts_that_fails_half_way_leaves_nothing(server: Server) -> None:
    """The second part fails: no reader ever counts the first, and it is removed."""
    asyncio.run(ours(server, "half").add_items([message("before")]))
    appends = 0

    def fail_second_append(call: Call) -> None:
        nonlocal appends
        if call.method == "POST" and call.path.endswith("/entries"):
            appends += 1
            if appends == 2:
                raise ApiError("the connection dropped")

    session = AgentSessionsSession("half", Recording(server.base, fail_second_append))
    with pytest.raises(ApiError):
        asyncio.run(session.add_items([tool_output(f"c{i}", 220_000) for i in range(80)]))
    assert asyncio.run(session.get_items()) == [message("before")]
    assert [e.content for e in entries(server, "half")] == ["before"]


def test_a_writer_between_parts_makes_the_call_start_again_atomically(server: Server) -> None:
    """Another client appends between two parts: the second part's version guard refuses, the
    call is written again after it, and the items that count are contiguous."""
    appends = 0

    def intrude_before_the_second_part(call: Call) -> None:
        nonlocal appends
        if call.method == "POST" and call.path.endswith("/entries"):
            appends += 1
            if appends == 2:
                Client(server.base, TOKEN).append("between", [{"type": "metadata"}])

    asyncio.run(ours(server, "between").add_items([message("first")]))
    session = AgentSessionsSession(
        "between", Recording(server.base, intrude_before_the_second_part)
    )
    items = [tool_output(f"c{i}", 220_000) for i in range(80)]
    asyncio.run(session.add_items(items))
    assert appends > 3, "the call was written again"
    assert asyncio.run(session.get_items()) == [message("first"), *items]
    stored = entries(server, "between")
    other = next(e.seq for e in stored if e.type == "metadata" and e.payload is None)
    counted = [e.seq for e in stored if e.type == "tool_result"][-80:]
    assert counted == list(range(counted[0], counted[0] + 80)), "contiguous"
    assert other < counted[0]


def items_of(stored: int, char: str, count: int = 20) -> list[dict[str, Any]]:
    """`count` tool outputs of `char`s whose entries hold `stored` bytes together."""
    width = len(char.encode())
    each = stored // count // width
    items = [tool_output(f"c{i:02}", 0) | {"output": char * each} for i in range(count)]
    missing = stored - sum(stored_bytes(to_entry(item)) for item in items)
    items[-1]["output"] = char * (each + missing // width)
    return items


@pytest.mark.parametrize(
    ("stored", "char", "appends"),
    [
        (MAX_APPEND_BYTES, "x", 1),  # exactly the append limit: one append
        (MAX_APPEND_BYTES + 16, "x", 2),  # just over it
        (12 * 2**20, "😀", 2),  # under it, but 36 MiB as ASCII JSON (past the body limit)
    ],
    ids=["at-limit", "past-limit", "past-body-limit"],
)
def test_appends_are_cut_where_the_server_measures(
    server: Server, stored: int, char: str, appends: int
) -> None:
    items = items_of(stored, char)
    assert sum(stored_bytes(to_entry(item)) for item in items) == stored
    client = Recording(server.base)
    session = AgentSessionsSession(f"cut-{stored}-{len(char.encode())}", client)
    asyncio.run(session.add_items(items))
    assert len([r for r in client.requests if r[0] == "POST"]) == 1 + appends  # + the 404
    assert asyncio.run(session.get_items()) == items


def test_the_body_limit_is_the_servers() -> None:
    assert MAX_BODY_BYTES == MAX_REQUEST_BYTES


# -- other clients' entries ----------------------------------------------------------------


def test_entries_of_other_clients_are_skipped_and_kept(server: Server, tmp_path: Path) -> None:
    """get_items(limit=2) and pop_item answer as SQLiteSession with the same items, which
    never sees such rows; pop_item removes the item and keeps the other entries."""
    session = ours(server, "foreign")
    reference = SQLiteSession("ref", tmp_path / "ref.sqlite")
    other = AsyncClient(server.base, TOKEN)
    for store in (session, reference):
        asyncio.run(store.add_items(ITEMS[:3]))
    note = {"type": "message", "role": "user", "content": "a note from the console"}
    asyncio.run(other.append("foreign", [note, {"type": "tool_call", "payload": {"n": 1}}]))

    async def probe(store: Any) -> list[Any]:
        return [await store.get_items(limit=2), await store.pop_item(), await store.get_items()]

    assert asyncio.run(probe(session)) == asyncio.run(probe(reference))
    left = entries(server, "foreign")
    assert [e.content for e in left if e.payload is None or "openai_agents" not in e.payload] == [
        "a note from the console",
        None,
    ]


# -- requests --------------------------------------------------------------------------------


class EchoModel(Model):
    """A model that answers from a script and records the input it was given."""

    def __init__(self) -> None:
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kw: Any):
        self.inputs.append(input)
        text = f"answer {len(self.inputs)}"
        reply = ResponseOutputMessage(
            id=f"msg_{len(self.inputs)}",
            type="message",
            role="assistant",
            status="completed",
            content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
        )
        return ModelResponse(output=[reply], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


CONFIG = RunConfig(tracing_disabled=True)


def test_a_turn_is_three_requests_with_a_session_built_per_request(server: Server) -> None:
    """As a web handler uses it: a new session object each turn. No create ever (the first
    write creates the session with its entries), three requests a turn, the first included."""
    agent = Agent(name="triage", instructions="Be brief.", model=EchoModel())
    client = Recording(server.base)
    counts = []
    for turn in range(3):
        session = AgentSessionsSession("per-request", client, user_id="ada", agent_name="triage")
        client.requests.clear()
        asyncio.run(Runner.run(agent, f"turn {turn}", session=session, run_config=CONFIG))
        counts.append(len(client.requests))
        assert ("POST", "sessions") not in client.requests
    assert counts == [3, 3, 3]
    made = asyncio.run(client.get_session("per-request"))
    assert (made.user_id, made.agent_name, made.entry_count) == ("ada", "triage", 6)


def test_the_runner_keeps_its_history_in_agent_sessions(server: Server) -> None:
    """Two runs of the real Runner on one session: the second sees the first's turn, and the
    turns are entries in agent-sessions and rows in its D1 mirror."""
    model = EchoModel()
    agent = Agent(name="triage", instructions="Be brief.", model=model)
    session = ours(server, "runner")

    async def two_turns() -> tuple[Any, Any]:
        first = await Runner.run(agent, "hello", session=session, run_config=CONFIG)
        second = await Runner.run(agent, "and again", session=session, run_config=CONFIG)
        return first.final_output, second.final_output

    assert asyncio.run(two_turns()) == ("answer 1", "answer 2")
    seen = json.dumps(model.inputs[1])
    assert "hello" in seen, "the second run got the first turn from agent-sessions"
    assert "answer 1" in seen
    assert [(e.type, e.content) for e in entries(server, "runner")] == [
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


def test_the_runner_reads_the_limit_from_dict_settings(server: Server) -> None:
    model = EchoModel()
    agent = Agent(name="triage", instructions="Be brief.", model=model)
    session = ours(server, "runner-limit", session_settings={"limit": 2})

    async def three_turns() -> None:
        for text in ("one", "two", "three"):
            await Runner.run(agent, text, session=session, run_config=CONFIG)

    asyncio.run(three_turns())
    history = [item.get("content") for item in model.inputs[2]]
    assert history[-1] == "three"
    assert len(history) == 3, "two items of history, then the new input"


# -- the SDK's EncryptedSession over the adapter ---------------------------------------------


def test_encrypted_pop_with_the_wrong_key_removes_nothing(server: Server, tmp_path: Path) -> None:
    """As over the SDK's own SQLiteSession: the pop raises InvalidToken and the history stays;
    with the right key it pops and decrypts."""
    key, wrong = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stores = {
        "reference": SQLiteSession("enc", tmp_path / "enc.sqlite"),
        "ours": ours(server, "encrypted"),
    }
    outcome = {}
    for name, store in stores.items():
        right = EncryptedSession("enc", store, encryption_key=key)
        asyncio.run(right.add_items(ITEMS))
        with pytest.raises(InvalidToken):
            asyncio.run(EncryptedSession("enc", store, encryption_key=wrong).pop_item())
        outcome[name] = [
            asyncio.run(right.get_items()),
            asyncio.run(right.pop_item()),
            asyncio.run(right.get_items(limit=2)),
        ]
    assert outcome["ours"] == outcome["reference"]
    assert outcome["ours"][0] == ITEMS


# -- reads that are O(new) ---------------------------------------------------------------------


class Reading(Recording):
    """Recording the entries each read brings back, too."""

    def __init__(self, base: str) -> None:
        super().__init__(base)
        self.read: list[int] = []

    async def _send(self, call: Call, model: Any) -> Any:
        answer = await super()._send(call, model)
        if call.path.endswith("/entries") and call.method == "GET":
            self.read.append(len(answer.entries))
        return answer


def test_a_turn_reads_only_what_is_new_even_with_a_session_built_per_request(
    server: Server,
) -> None:
    """The SDK reads the whole history at every Runner.run; the adapter keeps what it read
    (kept.py) and reads on from there: the last entry it kept again, then the new ones."""
    first = AgentSessionsSession("grows", Reading(server.base), agent_name="triage")
    asyncio.run(first.add_items([message(f"m{i}") for i in range(300)]))
    assert len(asyncio.run(first.get_items())) == 300
    for turn in range(3):
        client = Reading(server.base)
        later = AgentSessionsSession("grows", client, agent_name="triage")
        asyncio.run(later.add_items([message(f"turn {turn}"), message("ok", "assistant")]))
        items = asyncio.run(later.get_items())
        assert len(items) == 302 + 2 * turn
        assert items[-2:] == [message(f"turn {turn}"), message("ok", "assistant")]
        assert client.read == [3], "the entry kept last, then the two new ones"


@pytest.mark.parametrize("change", ["pop", "prune", "replace", "recreate"])
def test_what_another_client_removed_is_never_served_from_what_was_kept(
    server: Server, tmp_path: Path, change: str
) -> None:
    """Kept entries are checked at every read: a removal or a re-created session makes the
    adapter read the whole history again, and it answers as SQLiteSession would."""
    session_id = f"kept-{change}"
    mine = ours(server, session_id)
    theirs = AsyncClient(server.base, TOKEN)
    reference = SQLiteSession(session_id, str(tmp_path / "reference.sqlite"))
    start = [message(f"m{i}") for i in range(6)]
    for store in (mine, reference):
        asyncio.run(store.add_items(start))
        assert len(asyncio.run(store.get_items())) == 6
    if change == "pop":
        asyncio.run(ours(server, session_id).pop_item())
        asyncio.run(reference.pop_item())
    elif change == "prune":
        asyncio.run(theirs.prune(session_id, 3))
        asyncio.run(reference.clear_session())
        asyncio.run(reference.add_items(start[2:]))
    elif change == "replace":
        other = {"type": "message", "role": "user", "content": "not an item"}
        asyncio.run(theirs.replace_history(session_id, 6, [other]))
        asyncio.run(reference.pop_item())
    else:
        asyncio.run(theirs.delete_session(session_id))
        again = ours(server, session_id)
        asyncio.run(again.add_items([message("new life")]))
        asyncio.run(reference.clear_session())
        asyncio.run(reference.add_items([message("new life")]))
    got = asyncio.run(ours(server, session_id).get_items())
    assert got == asyncio.run(reference.get_items()), change
