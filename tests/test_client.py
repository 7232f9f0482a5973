"""The Python client over real loopback HTTP against the local server: sync and async."""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.server
import os
import threading
import time
import urllib.error
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from agent_sessions.client import AsyncClient, Client
from agent_sessions.client.transport import Retry
from agent_sessions.engine import InvalidInput, NotFound, VersionConflict
from agent_sessions.engine.errors import Forbidden, SessionError, Unauthorized
from agent_sessions.wire import EntryIn, Session

from .servers import Server

TOKEN = "client-test-token-0123456789"
READER = "client-reader-token-0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {**os.environ, "AGENT_SESSIONS_TOKENS": f"{TOKEN}=team,{READER}=team:ro"}
    running = Server(tmp_path_factory.mktemp("client") / "data", env=env)
    yield running
    running.stop()


def mirrored(client: Client, session_id: str) -> None:
    deadline = time.monotonic() + 10
    while client.mirror_status(session_id).pending:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_turn_with_the_blocking_client(server: Server) -> None:
    client = Client(server.base, TOKEN)
    session = client.create_session("c1", user_id="ada", agent_name="helper", title="Demo")
    assert isinstance(session, Session)
    assert (session.id, session.version) == ("c1", 1)
    result = client.append(
        "c1",
        [
            {"type": "message", "role": "user", "content": "hi", "input_tokens": 2},
            EntryIn(type="message", role="assistant", content="hello", output_tokens=3),
        ],
    )
    assert (result.first_seq, result.last_seq) == (1, 2)
    page = client.read_entries("c1", types=["message"], order="desc", limit=1)
    assert [e.content for e in page.entries] == ["hello"]
    assert page.next_cursor == 2
    assert client.save_data("c1", {"k": [1]}).version == 3
    assert client.load_data("c1").data == {"k": [1]}
    assert client.update_session("c1", title="Renamed", status="completed").status == "completed"
    mirrored(client, "c1")
    listed = client.list_sessions(user_id="ada")
    assert [s.id for s in listed.sessions] == ["c1"]
    exported = client.export_session("c1")
    copy = client.import_session(exported, session_id="c1-copy")
    assert (copy.entry_count, copy.title) == (2, "Renamed")
    assert client.delete_session("c1-copy").deleted is True


def test_errors_are_typed_with_their_status(server: Server) -> None:
    """Each operation's typed errors through this client are the conformance suite's
    (tests/conformance/, local-http and workerd-http); here, the status they carry and the
    errors of the HTTP layer itself."""
    client = Client(server.base, TOKEN)
    with pytest.raises(NotFound) as missing:
        client.get_session("nope")
    assert missing.value.http_status == 404  # type: ignore[attr-defined]
    client.create_session("c2")
    with pytest.raises(VersionConflict) as conflict:
        client.save_data("c2", 1, expected_version=9)
    assert conflict.value.http_status == 409  # type: ignore[attr-defined]
    with pytest.raises(Unauthorized):
        Client(server.base, "wrong-token-0123456789").get_session("c2")
    with pytest.raises(Forbidden):
        Client(server.base, READER).append("c2", [{"type": "message"}])
    assert Client(server.base, READER).get_session("c2").version == 1


def test_the_async_client(server: Server) -> None:
    async def scenario() -> dict[str, Any]:
        client = AsyncClient(server.base, TOKEN)
        await client.create_session("a1", user_id="bob")
        await client.append("a1", [{"type": "message", "content": "x"}], expected_version=1)
        pages = await asyncio.gather(*(client.get_session("a1") for _ in range(5)))
        with pytest.raises(NotFound):
            await client.load_data("missing")
        return {"versions": {p.version for p in pages}}

    assert asyncio.run(scenario()) == {"versions": {2}}


class Flaky(http.server.BaseHTTPRequestHandler):
    """Answers with the statuses of `script` in turn (Retry-After: 0), recording each method."""

    script: ClassVar[list[int]] = []
    seen: ClassVar[list[str]] = []

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        Flaky.seen.append(self.command)
        status = Flaky.script.pop(0)
        body = (
            b'{"id": "s", "data": null, "updated_at": 1, "version": 1}'
            if status == 200
            else b'{"error": {"code": "unavailable", "message": "busy"}}'
        )
        self.send_response(status)
        self.send_header("retry-after", "0")
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[str]:
    Flaky.seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


NO_WAIT = Retry(attempts=3, base_s=0)


def test_retries_a_busy_server_then_succeeds(flaky: str) -> None:
    Flaky.script = [503, 502, 200]
    assert Client(flaky, retry=NO_WAIT).load_data("s").version == 1
    assert Flaky.seen == ["GET", "GET", "GET"]


def test_gives_up_after_its_attempts_with_the_last_error(flaky: str) -> None:
    Flaky.script = [503, 503, 503]
    with pytest.raises(SessionError, match="busy") as error:
        Client(flaky, retry=NO_WAIT).load_data("s")
    assert error.value.http_status == 503  # type: ignore[attr-defined]
    assert Flaky.seen == ["GET", "GET", "GET"]


def test_a_post_is_not_repeated_after_a_500(flaky: str) -> None:
    """A 500 may have been applied, so a POST is not sent again..."""
    Flaky.script = [500, 200]
    with pytest.raises(SessionError):
        Client(flaky, retry=NO_WAIT).append("s", [{"type": "message"}])
    assert Flaky.seen == ["POST"]


def test_a_post_is_repeated_after_a_503(flaky: str) -> None:
    """...but 429 and 503 mean the server did not act on it."""
    Flaky.script = [503, 200, 200]
    Client(flaky, retry=NO_WAIT).save_data("s", 1)
    assert Flaky.seen == ["PUT", "PUT"]
    Flaky.seen, Flaky.script = [], [429, 200]
    with pytest.raises(
        Exception, match="validation error"
    ):  # the stub's body is not an AppendResult
        Client(flaky, retry=NO_WAIT).append("s", [{"type": "message"}])
    assert Flaky.seen == ["POST", "POST"]


def test_connection_refused_is_raised_after_retries() -> None:
    with pytest.raises(urllib.error.URLError):
        Client("http://127.0.0.1:9", retry=Retry(attempts=2, base_s=0)).get_session("s")


def test_fifty_concurrent_writers_lose_no_update(server: Server) -> None:
    """50 writers, each: read the version, append with expected_version, retry on 409.
    Every writer lands exactly once, versions never repeat, and every loser saw a 409."""
    Client(server.base, TOKEN).create_session("race")
    conflicts = []

    def writer(n: int) -> int:
        client = Client(server.base, TOKEN)
        while True:
            version = client.get_session("race").version
            try:
                entry = {"type": "message", "id": f"w{n}", "content": f"writer {n}"}
                return client.append("race", [entry], expected_version=version).version
            except VersionConflict as conflict:
                conflicts.append(conflict.http_status)  # type: ignore[attr-defined]

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        versions = list(pool.map(writer, range(50)))
    assert sorted(versions) == list(range(2, 52)), "each write got its own version"
    session = Client(server.base, TOKEN).get_session("race")
    assert (session.entry_count, session.version) == (50, 51)
    ids = {e.id for e in Client(server.base, TOKEN).read_entries("race", limit=100).entries}
    assert ids == {f"w{n}" for n in range(50)}
    assert conflicts, "with 50 writers at once, some must have lost a race and retried"
    assert set(conflicts) == {409}


def test_deep_data_is_refused_once_and_writes_no_version(server: Server) -> None:
    """One save_data() of deep JSON wrote 4 versions: the server committed, answered 500, and
    the client retried the PUT. Now it is a 422, which is not retried, and nothing is written."""
    client = Client(server.base, TOKEN)
    client.create_session("deep-data")
    deep: Any = 0
    for _ in range(300):
        deep = [deep]
    with pytest.raises(InvalidInput) as refused:
        client.save_data("deep-data", deep)
    assert refused.value.http_status == 422  # type: ignore[attr-defined]
    assert client.get_session("deep-data").version == 1


def test_expires_at_none_means_never_over_the_servers_default(tmp_path: Any) -> None:
    """With SESSION_TTL_SECONDS set, a session made without expires_at gets the default; one
    made with expires_at=None never expires (null is sent, not left out)."""
    env = {**os.environ, "AGENT_SESSIONS_TOKENS": f"{TOKEN}=team", "SESSION_TTL_SECONDS": "3600"}
    running = Server(tmp_path / "data", env=env)
    try:
        client = Client(running.base, TOKEN)
        defaulted = client.create_session()
        never = client.create_session(expires_at=None)
        chosen = client.create_session(expires_at=defaulted.created_at + 5_000)
    finally:
        running.stop()
    assert defaulted.expires_at == defaulted.created_at + 3_600_000
    assert never.expires_at is None
    assert chosen.expires_at == defaulted.created_at + 5_000


def test_reads_send_the_bookmark_asked_for(server: Server) -> None:
    """The client sends `bookmark` as x-d1-bookmark: local mode takes a well-formed one and
    answers null (no replicas), and refuses a malformed one, as the Worker does."""
    client = Client(server.base, TOKEN)
    client.create_session("bookmarked", user_id="bookmark-user")
    client.append("bookmarked", [{"type": "message", "content": "periwinkle"}])
    mirrored(client, "bookmarked")
    assert client.mirror_status("bookmarked").bookmark is None
    for asked in (None, "first-primary", "00000000-00000003-00000000-0000"):
        page = client.list_sessions(user_id="bookmark-user", bookmark=asked)
        assert ([s.id for s in page.sessions], page.bookmark) == (["bookmarked"], None)
        found = client.search_entries("periwinkle", bookmark=asked)
        assert ([h.session_id for h in found.hits], found.bookmark) == (["bookmarked"], None)
    with pytest.raises(InvalidInput):
        client.list_sessions(bookmark="not a bookmark")
    with pytest.raises(InvalidInput):
        client.search_entries("periwinkle", bookmark="x" * 300)
