"""Cross-session reads with the freshness the caller asks for (mirror/reads.py): the bookmark's
checks, what local mode answers (no bookmarks: every read of the file is the latest), and,
over a port that keeps bookmarks as D1 does, that the service passes the caller's on and
answers the port's, and that a session's mirror status tells the bookmark of the database
its tenant reads, also while the tenant moves. D1 itself answers in tests/workerd/test_reads.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from agent_sessions.adapters.sqlite import SqliteSql, connect
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine import InvalidInput, SessionKey
from agent_sessions.engine.ports import Row, SqlValue
from agent_sessions.host import SessionHost
from agent_sessions.mirror.ports import Statement
from agent_sessions.mirror.reads import (
    HEADER,
    MAX_BOOKMARK_LENGTH,
    PRIMARY,
    UNCONSTRAINED,
    Read,
    check_bookmark,
)
from agent_sessions.mirror.shards import ShardMap, Shards
from agent_sessions.service.listing import list_sessions
from agent_sessions.service.search import search_entries

from .test_search import Api

D1_LIKE = "00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683"
"""The shape of a bookmark D1 answers."""
BAD = [
    "no spaces",
    "trailing\n",
    "x" * (MAX_BOOKMARK_LENGTH + 1),
    "é",
    "-leading-dash",
    "a\nb",
    7,
    ["a"],
]


@pytest.mark.parametrize("given", [None, ""])
def test_no_bookmark_asks_for_nothing(given: object) -> None:
    assert check_bookmark(given) is None


@pytest.mark.parametrize("given", [D1_LIKE, PRIMARY, UNCONSTRAINED, "x" * MAX_BOOKMARK_LENGTH])
def test_a_bookmark_or_a_constraint_is_taken_as_given(given: str) -> None:
    assert check_bookmark(given) == given


@pytest.mark.parametrize("given", BAD)
def test_a_bad_bookmark_is_refused(given: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_bookmark(given)
    assert refused.value.details == {"field": "bookmark"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    made = Api(tmp_path / "data")
    yield made
    made.store.close()


def test_local_mode_accepts_a_bookmark_and_answers_none(api: Api) -> None:
    """The local mirror file has no replicas: any freshness reads the latest, and the page
    says null, with no header."""
    created = api.call("a", "POST", "/v1/sessions", json={"id": "s", "user_id": "u"})
    assert created.status_code == 201
    entries = [{"type": "message", "content": "lantern"}]
    assert (
        api.call("a", "POST", "/v1/sessions/s/entries", json={"entries": entries}).status_code
        == 201
    )
    api.settle()
    assert api.call("a", "GET", "/v1/sessions/s/mirror").json()["bookmark"] is None
    for sent in ({}, {HEADER: D1_LIKE}, {HEADER: PRIMARY}, {HEADER: ""}):
        listed = api.call("a", "GET", "/v1/sessions", headers=sent)
        assert listed.status_code == 200, listed.text
        assert [s["id"] for s in listed.json()["sessions"]] == ["s"]
        assert listed.json()["bookmark"] is None
        assert HEADER not in listed.headers
        found = api.call("a", "GET", "/v1/search", params={"q": "lantern"}, headers=sent)
        assert found.status_code == 200, found.text
        assert (len(found.json()["hits"]), found.json()["bookmark"]) == (1, None)


@pytest.mark.parametrize("bad", [b for b in BAD if isinstance(b, str) and b.isprintable()])
def test_a_bad_bookmark_is_a_422_over_http(api: Api, bad: str) -> None:
    """As JSON saying which input; nothing is read. (A header cannot carry a newline; its
    bytes are Latin-1.)"""
    for path, params in (("/v1/sessions", {}), ("/v1/search", {"q": "x"})):
        answer = api.call("a", "GET", path, params=params, headers={HEADER: bad.encode("latin-1")})
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["error"]["code"] == "invalid", answer.text


class Bookmarking:
    """A mirror file that keeps bookmarks as D1 does (a counter of the database's commits):
    what the D1 adapter does with D1's Sessions API, here to see what the service and the host
    do with them. `asked` is every bookmark a read was started from."""

    def __init__(self, path: Path, name: str) -> None:
        self.inner = SqliteMirror(path)
        self.name = name
        self.commits = 0
        self.asked: list[str | None] = []

    def _bookmark(self) -> str:
        return f"{self.name}-{self.commits:08d}"

    async def apply(self, statements: Sequence[Statement]) -> None:
        await self.inner.apply(statements)
        self.commits += 1

    async def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        return await self.inner.query(sql, params)

    async def read(self, sql: str, params: Sequence[SqlValue], bookmark: str | None) -> Read:
        self.asked.append(bookmark)
        return Read(await self.inner.query(sql, params), self._bookmark())

    def written(self) -> str | None:
        return self._bookmark() if self.commits else None


async def _nothing() -> None:
    return None


def test_the_service_reads_with_the_callers_bookmark_and_answers_the_ports(
    tmp_path: Path,
) -> None:
    port = Bookmarking(tmp_path / "d1.sqlite", "DB")
    key = SessionKey("t", "s")

    async def scenario() -> None:
        host = SessionHost(SqliteSql(connect(tmp_path / "s.sqlite")), port, _nothing)
        await host.call("create_session", key, ({"user_id": "u"},))
        await host.call("append", key, ([{"type": "message", "content": "quartz"}], None))
        status = await host.drain()
        assert status["pending"] == 0
        written = (await host.mirror_status(key))["bookmark"]
        assert written == f"DB-{port.commits:08d}"
        page = await list_sessions(port, "t", {}, 10, None, written)
        assert ([s["id"] for s in page["sessions"]], page["bookmark"]) == (["s"], written)
        hits = await search_entries(port, "t", "quartz", 10, page["bookmark"])
        assert (len(hits["hits"]), hits["bookmark"]) == (1, written)
        assert (await list_sessions(port, "t", {}, 10, None))["bookmark"] == written
        assert port.asked == [written, written, None]
        with pytest.raises(InvalidInput):
            await list_sessions(port, "t", {}, 10, None, "not a bookmark")
        assert len(port.asked) == 3, "a refused bookmark reads nothing"
        wordless = await search_entries(port, "t", "  ", 10, written)
        assert wordless == {"hits": [], "bookmark": written}, "nothing read: as fresh as given"
        assert (await search_entries(port, "t", "  ", 10, PRIMARY))["bookmark"] is None

    asyncio.run(scenario())


def test_a_moving_tenants_status_tells_the_bookmark_of_the_database_it_reads(
    tmp_path: Path,
) -> None:
    """While a tenant moves, the mirror writes both databases and reads stay on the old one:
    the status's bookmark is the old one's. Once the settings switch (a deploy: the object
    starts again, its ports new, remembering nothing), there is none until the next delivery,
    and then it is the new one's."""
    ports = {b: Bookmarking(tmp_path / f"{b}.sqlite", b) for b in ("DB", "DB_1")}
    moving = ShardMap.from_settings('["DB", "DB_1"]', '{"big": {"from": "DB", "to": "DB_1"}}')
    moved = ShardMap.from_settings('["DB", "DB_1"]', '{"big": "DB_1"}')
    key = SessionKey("big", "s")

    async def scenario() -> None:
        sql = SqliteSql(connect(tmp_path / "s.sqlite"))
        host = SessionHost(sql, Shards(moving, ports), _nothing)
        await host.call("create_session", key, ({},))
        await host.drain()
        assert ports["DB"].commits == ports["DB_1"].commits == 1, "both written"
        assert (await host.mirror_status(key))["bookmark"] == "DB-00000001"
        fresh = {b: Bookmarking(tmp_path / f"{b}.sqlite", b) for b in ports}
        after = SessionHost(sql, Shards(moved, fresh), _nothing)
        assert (await after.mirror_status(key))["bookmark"] is None
        await after.call("append", key, ([{"type": "message", "content": "x"}], None))
        await after.drain()
        assert (fresh["DB"].commits, fresh["DB_1"].commits) == (0, 1)
        assert (await after.mirror_status(key))["bookmark"] == "DB_1-00000001"

    asyncio.run(scenario())
