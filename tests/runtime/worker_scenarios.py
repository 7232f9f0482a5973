"""The Worker's shells in Pyodide: SessionObject over RPC, the gateway over the SDK's ASGI
bridge, and the mirror draining into miniflare's real D1. Run by tests/runtime/harness.mjs;
each scenario raises on failure, and `run_all` reports them for tests/test_runtime.py."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import js  # type: ignore[import-not-found]  # Pyodide only
from pyodide.ffi import create_proxy, jsnull, to_js  # type: ignore[import-not-found]
from workers.rpc import _EnvWrapper

from agent_sessions.adapters.d1 import D1Mirror
from agent_sessions.adapters.durable_object import DurableObjectSql
from agent_sessions.adapters.r2 import R2Archive
from agent_sessions.api.sessions import Sessions
from agent_sessions.engine import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    SessionKey,
    TooLarge,
    VersionConflict,
)
from agent_sessions.engine import snapshot as doc
from agent_sessions.engine.ddl import ENTRY_COLUMNS
from agent_sessions.engine.limits import MAX_ENTRY_BYTES
from agent_sessions.worker.gateway import durable_object_transport
from entry import Default, SessionObject

H = js.__harness
ENV = _EnvWrapper(H.env)
SCENARIOS: list[Callable[[], Awaitable[None]]] = []


def scenario(fn: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    SCENARIOS.append(fn)
    return fn


def instance(name: str) -> Any:
    return H.env.SESSIONS.instance(name)


def raw(name: str, sql: str) -> list[list[Any]]:
    return instance(name).storage.rawQuery(sql).to_py()


def sessions() -> Sessions:
    return Sessions(durable_object_transport(ENV))


async def expect(error: type, call: Awaitable[Any]) -> Any:
    try:
        await call
    except error as exc:
        return exc
    raise AssertionError(f"expected {error.__name__}")


@scenario
async def rpc_round_trip() -> None:
    """The DO's RPC methods through the SDK's namespace and stub wrappers."""
    stub = ENV.SESSIONS.getByName("acme:s1")
    made = await stub.create_session("acme", "s1", {"user_id": "u1", "metadata": {"k": [1]}})
    assert made["ok"]["version"] == 1, made
    turn = [
        {"type": "message", "role": "user", "content": "hi", "id": "12", "input_tokens": 3},
        {"type": "tool_call", "payload": {"n": 2**40, "f": 0.5, "b": True, "z": None}},
        {"type": "message", "role": "assistant", "content": "yo", "output_tokens": 4},
    ]
    appended = await stub.append("acme", "s1", turn, None)
    assert "ok" in appended, appended
    assert [e["seq"] for e in appended["ok"]["entries"]] == [1, 2, 3], appended
    page = (await stub.read_entries("acme", "s1", 0, None, None, 100, "asc"))["ok"]
    assert page["entries"][0]["id"] == "12"
    assert page["entries"][1]["payload"] == {"n": 2**40, "f": 0.5, "b": True, "z": None}
    saved = await stub.save_data("acme", "s1", {"blob": ["x", 1]}, 2)
    assert saved["ok"]["version"] == 3, saved
    loaded = (await stub.load_data("acme", "s1"))["ok"]
    assert loaded["data"] == {"blob": ["x", 1]}
    session = (await stub.get_session("acme", "s1"))["ok"]
    assert (session["entry_count"], session["message_count"], session["last_seq"]) == (3, 2, 3)
    assert (session["input_tokens"], session["output_tokens"]) == (3, 4)
    assert session["metadata"] == {"k": [1]}
    missing = await stub.get_session("acme", "other")
    assert missing["error"]["code"] == "not_found", missing


@scenario
async def stored_values_are_faithful() -> None:
    """In the DO's SQLite every column holds its declared type and ids are the text sent."""
    for table in ("sessions", "session_entries", "mirror_outbox"):
        declared = {r[1]: r[2].lower() for r in raw("acme:s1", f"PRAGMA table_info({table})")}
        for column, kind in declared.items():
            kinds = {r[0] for r in raw("acme:s1", f"SELECT DISTINCT typeof({column}) FROM {table}")}
            assert kinds <= {kind, "null"}, (table, column, kinds)
    ids = raw("acme:s1", "SELECT id, seq FROM session_entries ORDER BY seq")
    assert ids[0] == ["12", 1], ids


@scenario
async def harness_catches_a_wrong_conversion() -> None:
    """A deliberately wrong adapter (digit strings bound as ints) must be caught here: the
    stand-in stores '12.0' like workerd, and the round trip shows it."""
    sabotaged = DurableObjectSql.execute

    def execute(self: DurableObjectSql, sql: str, params: Any = ()) -> Any:
        wrong = [int(p) if isinstance(p, str) and p.isdigit() else p for p in params]
        return sabotaged(self, sql, wrong)

    DurableObjectSql.execute = execute  # type: ignore[method-assign]
    try:
        stub = ENV.SESSIONS.getByName("acme:sabotaged")
        await stub.create_session("acme", "sabotaged", {})
        await stub.append("acme", "sabotaged", [{"type": "message", "id": "12"}], None)
        page = (await stub.read_entries("acme", "sabotaged", 0, None, None, 10, "asc"))["ok"]
    finally:
        DurableObjectSql.execute = sabotaged  # type: ignore[method-assign]
    assert page["entries"][0]["id"] == "12.0", "the stand-in must reproduce workerd's REAL binding"


@scenario
async def typed_errors_cross_rpc() -> None:
    api = sessions()
    key = SessionKey("acme", "errs")
    await expect(NotFound, api.get_session(key))
    await api.create_session(key, {})
    await expect(AlreadyExists, api.create_session(key, {}))
    await expect(InvalidInput, api.append(key, [{"role": "user"}], None))
    big = [{"type": "message", "content": "x" * (MAX_ENTRY_BYTES + 1)}]
    await expect(TooLarge, api.append(key, big, None))
    conflict = await expect(VersionConflict, api.save_data(key, {}, 9))
    assert conflict.details == {"current_version": 1, "expected_version": 9}
    assert (await api.get_session(key))["version"] == 1, "refused writes changed nothing"


TOKEN = "worker-test-token-0123456789"


async def http(
    gateway: Any, method: str, path: str, body: Any = None, raw_body: str | None = None
) -> tuple[int, Any]:
    headers = {"content-type": "application/json", "authorization": f"Bearer {TOKEN}"}
    init: dict[str, Any] = {"method": method, "headers": headers}
    if body is not None or raw_body is not None:
        init["body"] = raw_body if raw_body is not None else json.dumps(body)
    request = js.Request.new(
        f"https://sessions.example{path}", to_js(init, dict_converter=js.Object.fromEntries)
    )
    response = await gateway.fetch(request)
    text = await response.text()
    if "ndjson" in (response.headers.get("content-type") or ""):
        return response.status, [json.loads(line) for line in text.splitlines()]
    return response.status, json.loads(text)


@scenario
async def gateway_http_round_trip() -> None:
    """HTTP through the real ASGI bridge, FastAPI and pydantic, routed to the DO over RPC."""
    gateway = Default(H.executionContext(), H.env)
    status, made = await http(gateway, "POST", "/v1/sessions", {"id": "web", "user_id": "ada"})
    assert status == 201, made
    turn = {
        "entries": [
            {"type": "message", "role": "user", "content": "What is 2+2?"},
            {"type": "tool_call", "payload": {"name": "calc"}},
            {"type": "message", "role": "assistant", "content": "4", "output_tokens": 1},
        ]
    }
    status, appended = await http(gateway, "POST", "/v1/sessions/web/entries", turn)
    assert (status, appended["last_seq"]) == (201, 3), appended
    status, page = await http(gateway, "GET", "/v1/sessions/web/entries?limit=2")
    assert status == 200
    assert [e["seq"] for e in page["entries"]] == [1, 2]
    assert page["next_cursor"] == 2
    status, error = await http(gateway, "GET", "/v1/sessions/nope")
    assert (status, error["error"]["code"]) == (404, "not_found"), error
    status, error = await http(gateway, "POST", "/v1/sessions/web/entries", {"entries": [{}]})
    assert (status, error["error"]["code"]) == (422, "invalid"), error
    status, error = await http(gateway, "PUT", "/v1/sessions/web/data", raw_body='{"data": ')
    assert (status, error["error"]["code"]) == (400, "malformed"), error
    big = {"entries": [{"type": "message", "content": "x" * (MAX_ENTRY_BYTES + 1)}]}
    status, error = await http(gateway, "POST", "/v1/sessions/web/entries", big)
    assert (status, error["error"]["code"]) == (413, "too_large"), error
    status, spec = await http(gateway, "GET", "/openapi.json")
    assert status == 200
    assert spec["openapi"].startswith("3.1")


@scenario
async def gateway_without_its_secret_refuses_everyone() -> None:
    gateway = Default(H.executionContext(), H.envWithoutSecret)
    status, error = await http(gateway, "GET", "/v1/sessions/web")
    assert (status, error["error"]["code"]) == (401, "unauthorized"), error
    assert "no tokens configured" in error["error"]["message"]


@scenario
async def gateway_lists_sessions_from_d1() -> None:
    await H.settle()
    gateway = Default(H.executionContext(), H.env)
    status, page = await http(gateway, "GET", "/v1/sessions?user_id=ada")
    assert status == 200, page
    assert [s["id"] for s in page["sessions"]] == ["web"], page
    status, exported = await http(gateway, "GET", "/v1/sessions/web/export")
    assert status == 200
    assert exported[0]["format"] == "agent-sessions.v1"
    assert [e["seq"] for e in exported[1:]] == [1, 2, 3]


def as_js(value: Any) -> Any:
    """A value as a service binding delivers it: a JS value, not a Python one."""
    return to_js(value, dict_converter=js.Object.fromEntries) if value is not None else jsnull


@scenario
async def gateway_rpc_for_service_bindings() -> None:
    """Default's RPC methods, called with JS arguments as another Worker's binding would."""
    gateway = Default(H.executionContext(), H.env)
    made = await gateway.create_session(as_js("svc"), as_js({"id": "rpc1", "user_id": "eve"}))
    assert made["ok"]["id"] == "rpc1", made
    entries = as_js([{"type": "message", "content": "via rpc", "input_tokens": 5}])
    appended = await gateway.append(as_js("svc"), as_js("rpc1"), entries, as_js(None))
    assert appended["ok"]["last_seq"] == 1, appended
    page = await gateway.read_entries(as_js("svc"), as_js("rpc1"), as_js({"limit": 10}))
    assert [e["content"] for e in page["ok"]["entries"]] == ["via rpc"], page
    updated = await gateway.update_session(as_js("svc"), as_js("rpc1"), as_js({"title": "T"}))
    assert updated["ok"]["title"] == "T", updated
    exported = (await gateway.export_session(as_js("svc"), as_js("rpc1")))["ok"]
    copy = await gateway.import_session(as_js("svc"), as_js(exported), as_js("rpc2"))
    assert copy["ok"]["entry_count"] == 1, copy
    await H.settle()
    listed = await gateway.list_sessions(as_js("svc"), as_js({"user_id": "eve"}))
    assert sorted(s["id"] for s in listed["ok"]["sessions"]) == ["rpc1", "rpc2"], listed
    found = await gateway.search_entries(as_js("svc"), as_js("via rpc"), as_js(10))
    hits = sorted((h["session_id"], h["seq"]) for h in found["ok"]["hits"])
    assert hits == [("rpc1", 1), ("rpc2", 1)], found  # FTS5 in miniflare's real D1
    assert "[via] [rpc]" in found["ok"]["hits"][0]["snippet"], found
    missing = await gateway.get_session(as_js("svc"), as_js("nope"))
    assert missing["error"]["code"] == "not_found", missing
    bad = await gateway.append(as_js("svc"), as_js("rpc1"), as_js([{"role": "x"}]), as_js(None))
    assert bad["error"]["code"] == "invalid", bad
    bad = await gateway.list_sessions(as_js("svc"), as_js({"limit": 0}))
    assert bad["error"]["code"] == "invalid", bad
    bad = await gateway.get_session(as_js("bad tenant"), as_js("rpc1"))
    assert bad["error"]["code"] == "invalid", bad


def load_example(name: str, path: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, f"/project/{path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@scenario
async def python_worker_calls_through_a_service_binding() -> None:
    """examples/python-rpc-worker, its own code, with SESSIONS bound to our gateway: the SDK
    converts its Python arguments to JS and back, as between two deployed Workers."""
    binding = H.serviceBinding()
    binding.entrypoint = create_proxy(Default(H.executionContext(), H.env))
    env = js.Object.fromEntries(to_js([["SESSIONS", binding], ["SESSIONS_TENANT", "shop"]]))
    example = load_example("python_rpc_worker", "examples/python-rpc-worker/src/entry.py")
    worker = example.Default(H.executionContext(), env)

    async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        init = {"method": method} | ({"body": json.dumps(body)} if body is not None else {})
        url = f"https://notes.example{path}"
        request = js.Request.new(url, to_js(init, dict_converter=js.Object.fromEntries))
        response = await worker.fetch(request)
        return response.status, json.loads(await response.text())

    assert await call("POST", "/notes/groceries", {"text": "milk"}) == (201, {"seq": 1})
    assert await call("POST", "/notes/groceries", {"text": "eggs"}) == (201, {"seq": 2})
    assert await call("GET", "/notes/groceries") == (200, {"notes": ["milk", "eggs"]})
    status, missing = await call("GET", "/notes/unknown")
    assert (status, missing["error"]["code"]) == (404, "not_found"), missing
    stored = await sessions().get_session(SessionKey("shop", "groceries"))
    assert (stored["title"], stored["message_count"]) == ("notes", 2), stored


@scenario
async def async_client_through_a_fetcher() -> None:
    """The Python client inside Pyodide, sending through a service binding's fetch."""
    from agent_sessions.client import AsyncClient  # noqa: PLC0415

    client = AsyncClient(
        "https://sessions.example", TOKEN, fetcher=Default(H.executionContext(), H.env)
    )
    session = await client.create_session("from-client", user_id="zed")
    assert session.version == 1
    result = await client.append("from-client", [{"type": "message", "content": "hi"}])
    assert result.last_seq == 1
    assert (await client.read_entries("from-client")).entries[0].content == "hi"
    await expect(NotFound, client.get_session("absent"))


@scenario
async def mirror_drains_into_real_d1() -> None:
    """The writes above reached miniflare's D1, equal to the DOs row by row."""
    await H.settle()
    d1 = D1Mirror(ENV.DB)
    rows = await d1.query(
        f"SELECT {', '.join(ENTRY_COLUMNS)} FROM session_entries "
        "WHERE tenant_id = ? AND session_id = ? ORDER BY seq",
        ("default", "web"),
    )
    assert [r["content"] for r in rows] == ["What is 2+2?", None, "4"], rows
    assert rows[0]["id"] == raw("default:web", "SELECT id FROM session_entries WHERE seq = 1")[0][0]
    for name in ("default:web", "acme:s1", "acme:errs"):
        tenant, session_id = name.split(":")
        stub = ENV.SESSIONS.getByName(name)
        status = (await stub.mirror_status(tenant, session_id))["ok"]
        assert status["pending"] == 0, status
        report = (await stub.verify_mirror(tenant, session_id))["ok"]
        assert report["equal"], report
        assert await instance(name).storage.getAlarm() is not None, "the safety alarm is set"


@scenario
async def consumer_worker_reads_the_mirror() -> None:
    """Another Worker (examples/consumer-worker, JavaScript) bound to the same D1 answers
    "sessions by user" and "messages of a session" with plain D1 SQL."""
    answer = json.loads(await H.consumer("/sessions?tenant=default&user=ada"))
    assert answer["status"] == 200, answer
    assert [s["id"] for s in answer["body"]["sessions"]] == ["web"], answer
    assert answer["body"]["sessions"][0]["message_count"] == 2
    answer = json.loads(await H.consumer("/sessions/web/messages?tenant=default"))
    assert [m["content"] for m in answer["body"]["messages"]] == ["What is 2+2?", "4"], answer
    answer = json.loads(await H.consumer("/sessions?tenant=acme&user=ada"))
    assert answer["body"]["sessions"] == [], "tenants do not see each other's sessions"


@scenario
async def alarm_retries_until_d1_has_it() -> None:
    """D1 down: the write still succeeds, the failure is recorded, the alarm moves to the
    backoff time, and alarms drain it once D1 is back."""
    H.env.DB.failures = 3
    stub = ENV.SESSIONS.getByName("acme:outage")
    made = await stub.create_session("acme", "outage", {})
    assert "ok" in made, made
    await stub.append("acme", "outage", [{"type": "message", "content": "during"}], None)
    await H.settle()
    status = (await stub.mirror_status("acme", "outage"))["ok"]
    assert status["pending"] == 2, status
    assert status["attempts"] >= 1, status
    assert "Network connection lost" in status["last_error"], status
    assert await instance("acme:outage").storage.getAlarm() <= status["next_attempt_at"]
    for _ in range(5):
        await H.env.SESSIONS.fireAlarm("acme:outage")
        status = (await stub.mirror_status("acme", "outage"))["ok"]
        if not status["pending"]:
            break
    assert (status["pending"], status["attempts"], status["last_error"]) == (0, 0, None), status
    assert (await stub.verify_mirror("acme", "outage"))["ok"]["equal"]


@scenario
async def lifecycle_alarm_abandons_expires_and_d1_follows() -> None:
    """The DO reads its policy from vars (a string, as `wrangler secret`/.dev.vars give it,
    and a number, as a TOML [vars] value does); its alarm marks the quiet session abandoned
    and deletes the expired one, and D1 follows both."""
    quiet, doomed = ENV.SESSIONS.getByName("ttl:quiet"), ENV.SESSIONS.getByName("ttl:doomed")
    made = (await quiet.create_session("ttl", "quiet", {}))["ok"]
    assert made["expires_at"] == made["created_at"] + 3_600_000, made
    assert made["status_changed_at"] == made["created_at"], made
    gone = await doomed.create_session("ttl", "doomed", {"expires_at": made["created_at"]})
    assert "ok" in gone, gone
    await doomed.append("ttl", "doomed", [{"type": "message", "content": "bye"}], None)
    await H.settle()
    await asyncio.sleep(1.1)  # past IDLE_TIMEOUT_SECONDS = 1
    for name in ("ttl:quiet", "ttl:doomed"):
        await H.env.SESSIONS.fireAlarm(name)
        await H.env.SESSIONS.fireAlarm(name)  # at-least-once: a second run changes nothing
    session = (await quiet.get_session("ttl", "quiet"))["ok"]
    assert session["status"] == "abandoned", session
    assert await instance("ttl:quiet").storage.getAlarm() == session["expires_at"]
    assert (await doomed.get_session("ttl", "doomed"))["error"]["code"] == "not_found"
    assert raw("ttl:doomed", "SELECT count(*) FROM session_entries") == [[0]]
    d1 = D1Mirror(ENV.DB)
    rows = await d1.query("SELECT id, status FROM sessions WHERE tenant_id = ?", ("ttl",))
    assert [(r["id"], r["status"]) for r in rows] == [("quiet", "abandoned")], rows
    for stub, session_id in ((quiet, "quiet"), (doomed, "doomed")):
        assert (await stub.verify_mirror("ttl", session_id))["ok"]["equal"]


@scenario
async def cold_tier_archives_to_r2_and_hydrates() -> None:
    """With an ARCHIVE bucket bound (miniflare's R2, through the SDK's wrapper): the alarm
    moves an idle session to R2 and out of the DO, D1 keeps its row as archived, and the next
    use brings it back."""
    stub = ENV.SESSIONS.getByName("cold:quiet")
    assert "ok" in await stub.create_session("cold", "quiet", {"title": "Q"})
    await stub.append("cold", "quiet", [{"type": "message", "content": "kept"}], None)
    await H.settle()
    await asyncio.sleep(1.1)  # past ARCHIVE_AFTER_SECONDS = 1
    await H.env.SESSIONS.fireAlarm("cold:quiet")
    await H.settle()
    assert raw("cold:quiet", "SELECT count(*) FROM session_entries") == [[0]]
    archive = R2Archive(_EnvWrapper(cold_env()).ARCHIVE)
    body = await archive.get("agent-sessions/cold/sessions/quiet.json.gz")
    session, entries = doc.parse(doc.decompress(body))
    assert (session["status"], [e["content"] for e in entries]) == ("archived", ["kept"])
    assert await archive.get("agent-sessions/cold/sessions/absent.json.gz") is None
    rows = await D1Mirror(ENV.DB).query(
        "SELECT status, archive_key FROM sessions WHERE tenant_id = 'cold'"
    )
    assert [(r["status"], r["archive_key"]) for r in rows] == [
        ("archived", "agent-sessions/cold/sessions/quiet.json.gz")
    ], rows
    got = (await stub.get_session("cold", "quiet"))["ok"]
    assert (got["status"], got["entry_count"]) == ("archived", 1), got
    await stub.append("cold", "quiet", [{"type": "message", "content": "again"}], None)
    assert (await stub.get_session("cold", "quiet"))["ok"]["status"] == "active"
    await H.settle()
    assert (await stub.verify_mirror("cold", "quiet"))["ok"]["equal"]


def cold_env() -> Any:
    """The test env plus an R2 archive, for the objects of tenant 'cold'."""
    extra = js.Object.fromEntries(to_js([["ARCHIVE", H.archive], ["ARCHIVE_AFTER_SECONDS", "1"]]))
    return js.Object.assign(js.Object.new(), H.env, extra)


def lifecycle_env() -> Any:
    """The test env plus the lifecycle vars, for the objects of tenant 'ttl'."""
    extra = to_js(
        {"SESSION_TTL_SECONDS": "3600", "IDLE_TIMEOUT_SECONDS": 1},
        dict_converter=js.Object.fromEntries,
    )
    return js.Object.assign(js.Object.new(), H.env, extra)


async def run_all() -> list[dict[str, Any]]:
    envs = {"ttl": lifecycle_env(), "cold": cold_env()}

    def make(ctx: Any) -> SessionObject:
        return SessionObject(ctx, envs.get(str(ctx.id.name).split(":")[0], H.env))

    H.env.SESSIONS.factory = create_proxy(make)
    results = []
    for fn in SCENARIOS:
        try:
            await fn()
            results.append({"name": fn.__name__, "ok": True, "error": None})
        except BaseException:
            results.append({"name": fn.__name__, "ok": False, "error": traceback.format_exc()})
    return results
