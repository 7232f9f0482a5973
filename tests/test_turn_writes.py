"""The turn's writes answered before FastAPI (http/turn_writes.py) answer exactly as the app
does: every request here goes to two apps over stores alike, one asking the shortcut first
and one without it, and both must give the same status, body and headers and end with the
same sessions. The shortcut must answer the writes that pass and the engine's refusals, and
decline everything the app refuses before an operation runs (so that the app answers it).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_sessions.engine.batches import prepare_batch, session_columns
from agent_sessions.engine.errors import Misconfigured, SessionError
from agent_sessions.engine.limits import BODY_DEPTH, MAX_ENTRIES_PER_APPEND, MAX_TEXT_FIELD
from agent_sessions.engine.rules import ENTRY_TYPES
from agent_sessions.http import turn_writes
from agent_sessions.http.app import create_app
from agent_sessions.http.body import MAX_REQUEST_BYTES
from agent_sessions.http.routes import append_args, create_call
from agent_sessions.local.store import LocalStore
from agent_sessions.service.auth import TokenTable
from agent_sessions.service.services import Services
from agent_sessions.service.sessions import Sessions
from agent_sessions.wire import AppendRequest, EntryIn, SessionCreate

WRITER = "writer-token-0123456789"
READER = "reader-token-0123456789"
TOKENS = f"{WRITER}=t1,{READER}=t1:ro"
JSON_TYPE = "application/json"


class Case(NamedTuple):
    name: str
    path: str
    body: bytes
    headers: dict[str, str]
    status: int
    shortcut: bool
    """Whether the shortcut answers it (else it declines and the app answers)."""


def _as(token: str | None = WRITER, content_type: str | None = JSON_TYPE) -> dict[str, str]:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    return headers if content_type is None else {**headers, "content-type": content_type}


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _turn(entry_id: str, **extra: Any) -> bytes:
    """One message, its id given (a generated one would differ between the two stores)."""
    entry = {"id": entry_id, "type": "message", "role": "user", "content": "hi"}
    return _json({"entries": [entry], **extra})


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


CREATE, APPEND = "/v1/sessions", "/v1/sessions/a/entries"
CASES = [
    Case("create", CREATE, _json({"id": "a", "title": "t"}), _as(), 201, True),
    Case(
        "create, charset",
        CREATE,
        _json({"id": "b"}),
        _as(content_type=f"{JSON_TYPE}; charset=utf-8"),
        201,
        True,
    ),
    Case("create again: 409", CREATE, _json({"id": "a"}), _as(), 409, True),
    Case("append", APPEND, _turn("e1"), _as(), 201, True),
    Case("append at a version", APPEND, _turn("e2", expected_version=2), _as(), 201, True),
    Case(
        "append at a stale version: 409", APPEND, _turn("e3", expected_version=1), _as(), 409, True
    ),
    Case("append to no session: 404", "/v1/sessions/zz/entries", _turn("e4"), _as(), 404, True),
    Case(
        "append fenced, no claim: 409, the app's",
        APPEND,
        _turn("e5", writer={"writer_id": "w", "epoch": 1, "seq": 0}),
        _as(),
        409,
        False,
    ),
    Case("no token", CREATE, _json({"id": "c"}), _as(None), 401, False),
    Case("no token, bad body: 401 first", CREATE, _json({"id": 1}), _as(None), 401, False),
    Case(
        "an unknown token", CREATE, _json({"id": "c"}), _as("unknown-token-0123456789"), 401, False
    ),
    Case(
        "not bearer",
        CREATE,
        _json({"id": "c"}),
        {"authorization": WRITER, "content-type": JSON_TYPE},
        401,
        False,
    ),
    Case("read-only", APPEND, _turn("e6"), _as(READER), 403, False),
    Case("no content type", CREATE, _json({"id": "c"}), _as(content_type=None), 422, False),
    Case("text/plain", CREATE, _json({"id": "c"}), _as(content_type="text/plain"), 422, False),
    Case(
        "+json, which the app parses",
        CREATE,
        _json({"id": "d"}),
        _as(content_type="application/vnd.x+json"),
        201,
        False,
    ),
    Case("not JSON", CREATE, b'{"id": ', _as(), 400, False),
    Case("not UTF-8", CREATE, b'{"id": "\xff"}', _as(), 400, False),
    Case("no body", CREATE, b"", _as(), 422, False),
    Case("null", CREATE, b"null", _as(), 422, False),
    Case("a list", CREATE, b"[]", _as(), 422, False),
    Case("an id not a string", CREATE, _json({"id": 1}), _as(), 422, False),
    Case("an id out of pattern", CREATE, _json({"id": "bad id!"}), _as(), 422, False),
    Case("an unknown field", CREATE, _json({"id": "c", "colour": 1}), _as(), 422, False),
    Case(
        "a title too long",
        CREATE,
        _json({"id": "c", "title": "x" * (MAX_TEXT_FIELD + 1)}),
        _as(),
        422,
        False,
    ),
    Case("expires_at negative", CREATE, _json({"id": "c", "expires_at": -1}), _as(), 422, False),
    Case("expires_at fractional", CREATE, _json({"id": "c", "expires_at": 1.5}), _as(), 422, False),
    Case("expires_at a boolean", CREATE, _json({"id": "c", "expires_at": True}), _as(), 422, False),
    Case("metadata a list", CREATE, _json({"id": "c", "metadata": [1]}), _as(), 422, False),
    Case("too deep", CREATE, _json({"id": "c", "data": _deep(BODY_DEPTH + 1)}), _as(), 422, False),
    Case("too large", CREATE, b" " * (MAX_REQUEST_BYTES + 1), _as(), 413, False),
    Case("no entries", APPEND, _json({"entries": []}), _as(), 422, False),
    Case(
        "too many entries",
        APPEND,
        _json({"entries": [{"type": "message"}] * (MAX_ENTRIES_PER_APPEND + 1)}),
        _as(),
        413,
        False,
    ),
    Case("an unknown type", APPEND, _json({"entries": [{"type": "mystery"}]}), _as(), 422, False),
    Case(
        "tokens negative",
        APPEND,
        _json({"entries": [{"type": "message", "input_tokens": -1}]}),
        _as(),
        422,
        False,
    ),
    Case(
        "a session id out of pattern", "/v1/sessions/bad!id/entries", _turn("e7"), _as(), 422, False
    ),
    Case("a slash at the end", CREATE + "/", _json({"id": "e"}), _as(), 307, False),
    Case("an empty id", CREATE, _json({"id": ""}), _as(), 422, False),
    Case("metadata null", CREATE, _json({"id": "c", "metadata": None}), _as(), 422, False),
    Case("a title null: the app's", CREATE, _json({"id": "f", "title": None}), _as(), 201, False),
    Case(
        "tokens null",
        APPEND,
        _json({"entries": [{"type": "message", "input_tokens": None}]}),
        _as(),
        422,
        False,
    ),
    Case(
        "a version as 1.0: the app's 409",
        APPEND,
        _turn("e8", expected_version=1.0),
        _as(),
        409,
        False,
    ),
]


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """(asking the shortcut first, without it), each over a store of its own."""
    made = []
    for name, first in (("shortcut", True), ("app", False)):
        store = LocalStore(tmp_path / name)
        services = Services(Sessions(store.transport), store.shards, TokenTable.parse(TOKENS))
        app = create_app(lambda _request, s=services: s, turn_writes=first)
        made.append((TestClient(app, follow_redirects=False), store))
    try:
        yield made[0][0], made[1][0]
    finally:
        for _, store in made:
            store.close()


class Counted:
    """`turn_writes.answer`, counting what it answered and what it declined."""

    def __init__(self, answer: Any) -> None:
        self._answer = answer
        self.answered = self.declined = 0

    async def __call__(self, *args: Any) -> Any:
        result = await self._answer(*args)
        if result is None:
            self.declined += 1
        else:
            self.answered += 1
        return result


TIMES = frozenset({"created_at", "updated_at", "status_changed_at"})


def _without_times(value: Any) -> Any:
    """The two stores write at different moments; all else must be equal."""
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def _answer(response: Any) -> tuple[int, Any, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k != "content-length"}
    body = response.json() if response.content else None
    return response.status_code, _without_times(body), headers


def test_the_shortcut_answers_as_the_app_does(
    apps: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    shortcut, app = apps
    for case in CASES:
        counted = Counted(turn_writes.answer)
        monkeypatch.setattr(turn_writes, "answer", counted)
        fast = shortcut.post(case.path, content=case.body, headers=case.headers)
        slow = app.post(case.path, content=case.body, headers=case.headers)
        assert fast.status_code == case.status, (case.name, fast.text[:500])
        assert _answer(fast) == _answer(slow), case.name
        assert counted.answered == case.shortcut, case.name
        assert counted.answered + counted.declined <= 1, case.name  # or the guard refused
    headers = _as()
    for path in ("/v1/sessions/a", "/v1/sessions/a/entries", "/v1/sessions/d"):
        fast, slow = shortcut.get(path, headers=headers), app.get(path, headers=headers)
        assert fast.status_code == 200, (path, fast.text[:500])
        assert _answer(fast) == _answer(slow), path


class _NoSessions:
    async def text(self, *_: Any) -> str:
        raise AssertionError("a declined request reached an operation")


@pytest.mark.parametrize("case", [c for c in CASES if not c.shortcut], ids=lambda c: c.name)
def test_what_the_app_refuses_is_declined_before_any_operation(case: Case) -> None:
    """Without the body guard before it too (the Worker asks it first of all)."""
    services = SimpleNamespace(tokens=TokenTable.parse(TOKENS), sessions=_NoSessions())
    answered = asyncio.run(
        turn_writes.answer("POST", case.path, case.headers.get, case.body, lambda: services)
    )
    assert answered is None


def test_settings_that_cannot_serve_are_the_app_s_to_answer() -> None:
    """A deployment that cannot place the write (worker/gateway.py `mirror_of`): declined."""

    def services() -> Services:
        raise Misconfigured("MIRROR_DRAIN_DELAY_MS must be a whole number")

    body = _json({"id": "a"})
    answered = asyncio.run(turn_writes.answer("POST", CREATE, _as().get, body, services))
    assert answered is None


def test_a_fault_is_the_app_s_500_saying_nothing_inside(caplog: pytest.LogCaptureFixture) -> None:
    """As the app's catch-all answers one (http/errors.py), logged, never a bare failure."""

    class Broken:
        async def text(self, *_: Any) -> str:
            raise RuntimeError("the transport broke")

    services = SimpleNamespace(tokens=TokenTable.parse(TOKENS), sessions=Broken())
    body = _json({"id": "a"})
    answered = asyncio.run(turn_writes.answer("POST", CREATE, _as().get, body, lambda: services))
    assert answered is not None
    assert answered.status_code == 500
    assert json.loads(answered.body) == {
        "error": {"code": "internal", "message": "internal error", "details": None}
    }
    assert "the transport broke" in caplog.text


def test_a_create_without_an_id_gets_a_new_one(apps: tuple[TestClient, TestClient]) -> None:
    shortcut, _ = apps
    made = [shortcut.post(CREATE, content=b"{}", headers=_as()) for _ in range(2)]
    assert [m.status_code for m in made] == [201, 201]
    assert made[0].json()["id"] != made[1].json()["id"]


def _mostly(usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> Any:
    """`usual` five times in six, `rare` else (a one_of would draw them about evenly)."""
    return st.integers(0, 5).flatmap(lambda drawn: rare if drawn == 5 else usual)


TEXTS = _mostly(
    st.sampled_from(["a", "s-1", "7"]),
    st.sampled_from(["", "bad id!", "x" * (MAX_TEXT_FIELD + 1), "\ud800"]),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**53 + 1), st.floats(), TEXTS)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(TEXTS, inner, max_size=2),
    max_leaves=4,
)
"""What JSON parses into."""
COUNTS = _mostly(st.integers(0, 3), st.sampled_from([-1, 1.0, 2**52, 2**52 + 1]))
LIKELY = {
    "type": st.sampled_from(sorted(ENTRY_TYPES)),
    "metadata": st.dictionaries(TEXTS, VALUES, max_size=2),
    **dict.fromkeys(("id", "parent_id"), st.sampled_from(["s-1", "e-2", "e-3"])),
    **dict.fromkeys(("input_tokens", "output_tokens", "expires_at", "expected_version"), COUNTS),
}
"""Per field, values near its rules (texts otherwise), so that the checks take some bodies."""


def _object(fields: set[str], required: frozenset[str] = frozenset()) -> Any:
    """An object of some of `fields` (all of `required`), each mostly near its rules; now
    and then with a field nobody has."""
    values = {f: _mostly(LIKELY.get(f, TEXTS), VALUES) for f in fields}
    made = st.fixed_dictionaries(
        {f: values[f] for f in required}, optional={f: values[f] for f in fields - required}
    )
    return _mostly(made, made.map(lambda body: {**body, "colour": 1}))


ENTRY = _object(set(EntryIn.model_fields), frozenset({"type"}))
APPEND = st.fixed_dictionaries(
    {"entries": _mostly(st.lists(ENTRY, min_size=1, max_size=3), VALUES)},
    optional={"expected_version": LIKELY["expected_version"]},
)
APPENDS = _mostly(APPEND, APPEND.map(lambda body: {**body, "writer": {"writer_id": "w"}}))
NO_CHECK = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _taken(check: Any, *args: Any) -> Any:
    try:
        return check(*args)
    except SessionError:
        return None


@NO_CHECK
@given(_object(set(SessionCreate.model_fields)))
def test_a_create_taken_here_is_one_the_models_take_the_same(body: dict[str, Any]) -> None:
    made = _taken(turn_writes.create_args, body, "t1")
    if made is not None:
        key, fields = create_call(SessionCreate.model_validate(body), "t1")  # raises if not
        assert session_columns(made[1]) == session_columns(fields)
        assert "id" not in body or made[0] == key


def _rows(entries: list[dict[str, Any]], given_ids: list[bool]) -> list[dict[str, Any]]:
    """The rows the engine would write, without the ids it generates (they differ)."""
    rows = prepare_batch(entries)
    return [row if kept else {**row, "id": None} for row, kept in zip(rows, given_ids, strict=True)]


@NO_CHECK
@given(APPENDS)
def test_an_append_taken_here_is_one_the_models_take_the_same(body: dict[str, Any]) -> None:
    args = _taken(turn_writes.append_args, body)
    if args is not None:
        entries, version, writer = append_args(AppendRequest.model_validate(body))
        given_ids = ["id" in entry for entry in body["entries"]]
        assert _rows(args[0], given_ids) == _rows(entries, given_ids)
        assert (args[1], args[2]) == (version, writer)


def test_the_generated_bodies_reach_both_sides() -> None:
    """The properties above are not vacuous: bodies of each kind the checks take exist among
    the shapes generated, and so do ones they decline that the models take."""
    taken = {"id": "s-1", "title": "a", "metadata": {"a": 1}, "data": [1], "expires_at": 7}
    assert turn_writes.create_args(taken, "t1") is not None
    assert turn_writes.append_args({"entries": [{"type": "message", "content": "a"}]})
    declined = {"id": "s-1", "title": None}
    assert turn_writes.create_args(declined, "t1") is None
    SessionCreate.model_validate(declined)


def test_checking_a_turn_draws_no_randomness(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's warm-up checks a turn at import, where workerd refuses entropy: entries
    without an id get placeholders there, not new ids."""

    def refused(_: int) -> int:
        raise OSError("Randomness is not allowed while a Worker is starting")

    monkeypatch.setattr("agent_sessions.engine.values.secrets.randbits", refused)
    turn = {"entries": [{"type": "message"}, {"type": "message", "id": "e1"}, {"type": "message"}]}
    assert turn_writes.append_args(turn) == (turn["entries"], None, None)
