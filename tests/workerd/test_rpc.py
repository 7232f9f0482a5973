"""RPC in real workerd: another Worker calling the Durable Object through a namespace
binding and the gateway through a service binding (JavaScript arguments, converted by the
runtime and the SDK), the example Python Worker calling over its binding, typed errors as
data, and what only workerd shows: the frozen clock and a Durable Object's input gates."""

from __future__ import annotations

import concurrent.futures
import threading

from .stack import TOKEN, Stack


def rows_of(stack: Stack, session_id: str, table: str, select: str) -> list[tuple[object, ...]]:
    """Rows of one session in its Durable Object's own SQLite file."""
    column = "id" if table == "sessions" else "session_id"
    sql = f"SELECT {select} FROM {table} WHERE tenant_id = 'acme' AND {column} = ?"
    return stack.object_rows(sql, session_id)


def test_durable_object_rpc_round_trip(stack: Stack) -> None:
    made = stack.do(
        "acme:s1", "create_session", "acme", "s1", {"user_id": "u1", "metadata": {"k": [1]}}
    )
    assert made["ok"]["version"] == 1, made
    turn = [
        {"type": "message", "role": "user", "content": "hi", "id": "12", "input_tokens": 3},
        {"type": "tool_call", "payload": {"n": 2**40, "f": 0.5, "b": True, "z": None}},
        {"type": "message", "role": "assistant", "content": "yo", "output_tokens": 4},
    ]
    appended = stack.do("acme:s1", "append", "acme", "s1", turn, None)
    assert [e["seq"] for e in appended["ok"]["entries"]] == [1, 2, 3], appended
    page = stack.do("acme:s1", "read_entries", "acme", "s1", 0, None, None, 100, "asc")["ok"]
    assert page["entries"][0]["id"] == "12"
    assert page["entries"][1]["payload"] == {"n": 2**40, "f": 0.5, "b": True, "z": None}
    assert (
        stack.do("acme:s1", "save_data", "acme", "s1", {"blob": ["x", 1]}, 2)["ok"]["version"] == 3
    )
    assert stack.do("acme:s1", "load_data", "acme", "s1")["ok"]["data"] == {"blob": ["x", 1]}
    session = stack.do("acme:s1", "get_session", "acme", "s1")["ok"]
    assert (session["entry_count"], session["message_count"], session["last_seq"]) == (3, 2, 3)
    assert (session["input_tokens"], session["output_tokens"], session["metadata"]) == (
        3,
        4,
        {"k": [1]},
    )


def test_stored_values_keep_their_declared_types(stack: Stack) -> None:
    """workerd binds every Python number as a REAL: in the object's own SQLite file, each
    column holds its declared type, and an id sent as the text "12" is the text '12'."""
    stack.do("acme:typed", "create_session", "acme", "typed", {})
    stack.do(
        "acme:typed",
        "append",
        "acme",
        "typed",
        [{"type": "message", "id": "12", "input_tokens": 7}],
        None,
    )
    for table in ("sessions", "session_entries"):
        declared = dict(
            stack.object_rows(f"SELECT name, lower(type) FROM pragma_table_info('{table}')")
        )
        for column, kind in declared.items():
            kinds = {r[0] for r in rows_of(stack, "typed", table, f"typeof({column})")}
            assert kinds <= {kind, "null"}, (table, column, kinds)
    assert rows_of(stack, "typed", "session_entries", "id, seq, input_tokens") == [("12", 1, 7)]


def test_typed_errors_cross_rpc_as_data(stack: Stack) -> None:
    assert stack.do("acme:errs", "get_session", "acme", "errs")["error"]["code"] == "not_found"
    stack.do("acme:errs", "create_session", "acme", "errs", {})
    assert (
        stack.do("acme:errs", "create_session", "acme", "errs", {})["error"]["code"]
        == "already_exists"
    )
    invalid = stack.do("acme:errs", "append", "acme", "errs", [{"role": "user"}], None)
    assert invalid["error"]["code"] == "invalid", invalid
    conflict = stack.do("acme:errs", "save_data", "acme", "errs", {}, 9)["error"]
    assert (conflict["code"], conflict["details"]) == (
        "version_conflict",
        {"current_version": 1, "expected_version": 9},
    )
    assert stack.do("acme:errs", "get_session", "acme", "errs")["ok"]["version"] == 1


def test_gateway_rpc_for_service_bindings(stack: Stack) -> None:
    """The gateway's RPC beyond one session's operations (those are the conformance suite's,
    tests/conformance/ over RPC in test_conformance.py): export and import, listing and
    search from D1, and refusals of its own arguments."""
    made = stack.rpc("GATEWAY", "create_session", "svc", {"id": "rpc1", "user_id": "eve"})
    assert "ok" in made, made
    entries = [{"type": "message", "content": "via rpc", "input_tokens": 5}]
    stack.rpc("GATEWAY", "append", "svc", "rpc1", entries, None)
    exported = stack.rpc("GATEWAY", "export_session", "svc", "rpc1")["ok"]
    assert stack.rpc("GATEWAY", "import_session", "svc", exported, "rpc2")["ok"]["entry_count"] == 1

    def listed() -> list[str]:
        answer = stack.rpc("GATEWAY", "list_sessions", "svc", {"user_id": "eve"})["ok"]
        return sorted(s["id"] for s in answer["sessions"])

    assert stack.wait_for("both sessions in D1", lambda: listed() == ["rpc1", "rpc2"])
    found = stack.rpc("GATEWAY", "search_entries", "svc", "via rpc", 10)["ok"]
    assert sorted((h["session_id"], h["seq"]) for h in found["hits"]) == [("rpc1", 1), ("rpc2", 1)]
    assert "[via] [rpc]" in found["hits"][0]["snippet"], found
    for method, args in (
        ("list_sessions", ("svc", {"limit": 0})),
        ("get_session", ("bad tenant", "rpc1")),
        ("read_entries", ("svc", "rpc1", "not a query")),
    ):
        code = stack.rpc("GATEWAY", method, *args)["error"]["code"]
        assert code == "invalid", (method, code)


def test_python_worker_calls_through_a_service_binding(stack: Stack) -> None:
    """examples/python-rpc-worker, deployed as its own Worker, with its binding to ours."""
    assert stack.worker_call("NOTES", "POST", "/notes/groceries", {"text": "milk"}) == (
        201,
        {"seq": 1},
    )
    assert stack.worker_call("NOTES", "POST", "/notes/groceries", {"text": "eggs"}) == (
        201,
        {"seq": 2},
    )
    assert stack.worker_call("NOTES", "GET", "/notes/groceries") == (
        200,
        {"notes": ["milk", "eggs"]},
    )
    status, missing = stack.worker_call("NOTES", "GET", "/notes/unknown")
    assert (status, missing["error"]["code"]) == (404, "not_found"), missing
    stored = stack.rpc("GATEWAY", "get_session", "shop", "groceries")["ok"]
    assert (stored["title"], stored["message_count"]) == ("notes", 2), stored


def test_the_python_client_inside_a_worker(stack: Stack) -> None:
    """AsyncClient in a Python Worker (tests/workerd/pyclient), sending through a service
    binding's fetch to the gateway's HTTP API: models back, typed errors back."""
    status, answer = stack.worker_call(
        "PYCLIENT", "POST", "/turn/from-client", {"text": "hi"}, TOKEN
    )
    assert (status, answer) == (
        200,
        {"last_seq": 1, "contents": ["hi"], "user_id": "client-in-a-worker"},
    ), answer
    status, again = stack.worker_call(
        "PYCLIENT", "POST", "/turn/from-client", {"text": "yo"}, TOKEN
    )
    assert again["contents"] == ["hi", "yo"], again
    assert stack.worker_call("PYCLIENT", "GET", "/missing", token=TOKEN) == (
        200,
        {"raised": "NotFound", "status": 404},
    )


def test_the_frozen_clock(stack: Stack) -> None:
    """Inside one event workerd's clock does not move: a batch of 500 generated ids in one
    millisecond is still unique, and the session's time equals its entries' time."""
    stack.do("acme:clock", "create_session", "acme", "clock", {})
    batch = [{"type": "message", "content": str(i)} for i in range(500)]
    appended = stack.do("acme:clock", "append", "acme", "clock", batch, None)["ok"]
    assert len({e["id"] for e in appended["entries"]}) == 500
    page = stack.do("acme:clock", "read_entries", "acme", "clock", 0, None, None, 1000, "asc")["ok"]
    times = {e["created_at"] for e in page["entries"]}
    session = stack.do("acme:clock", "get_session", "acme", "clock")["ok"]
    assert times == {session["updated_at"]}, "one event, one instant"
    again = stack.do("acme:clock", "append", "acme", "clock", [{"type": "message"}], None)["ok"]
    later = stack.do("acme:clock", "get_session", "acme", "clock")["ok"]
    assert (again["version"], later["updated_at"] >= session["updated_at"]) == (3, True)


def test_fifty_concurrent_writers_on_one_object(stack: Stack) -> None:
    """Input gates serialize the object's events: of 50 writers racing with the same
    expected_version exactly one lands, and every other one is told the version it lost to."""
    stack.http("POST", "/v1/sessions", {"id": "hot"})
    start = threading.Barrier(50)

    def writer(n: int) -> tuple[int, object]:
        body = {"entries": [{"type": "message", "id": f"w{n}"}], "expected_version": 1}
        start.wait()
        return stack.http("POST", "/v1/sessions/hot/entries", body)

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(writer, range(50)))
    assert sorted(status for status, _ in answers) == [201] + [409] * 49
    refusals = [a["error"] for status, a in answers if status == 409]
    assert {(r["code"], r["details"]["current_version"]) for r in refusals} == {
        ("version_conflict", 2)
    }
    session = stack.http("GET", "/v1/sessions/hot")[1]
    assert (session["entry_count"], session["version"]) == (1, 2), "no lost or doubled update"


def test_concurrent_appends_without_versions_all_land(stack: Stack) -> None:
    stack.http("POST", "/v1/sessions", {"id": "crowd"})

    def append(n: int) -> int:
        status, answer = stack.http(
            "POST", "/v1/sessions/crowd/entries", {"entries": [{"type": "message", "id": f"c{n}"}]}
        )
        assert status == 201, answer
        return answer["last_seq"]

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        seqs = sorted(pool.map(append, range(50)))
    assert seqs == list(range(1, 51))
