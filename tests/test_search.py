"""Full-text search (FTS5 in D1, locally the mirror file), through the API: the index must
answer exactly what a plain LIKE scan of the same rows answers, and follow every change the
mirror makes."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.local.server import local_app
from agent_sessions.local.store import LocalStore
from agent_sessions.service.auth import TokenTable

from .shards import misplaced, shard_map, union

WORDS = ["alpha", "beta", "gamma", "delta", "kappa", "lambda", "omega", "sigma", "theta", "zeta"]
TOKENS = {"tok-a-0123456789abcdef": "a", "tok-b-0123456789abcdef": "b"}


class Api:
    def __init__(self, data: Path, sharding: str = "one-shard") -> None:
        shards = shard_map(sharding)
        self.store = LocalStore(data, shard_map=shards)
        tokens = TokenTable.parse(",".join(f"{t}={n}" for t, n in TOKENS.items()))
        self.client = TestClient(local_app(data, tokens, self.store))
        self.d1 = union(data, shards)
        """Every database's rows: a LIKE scan finds what the tenant's own database holds,
        and `misplaced` holds that it is the tenant's database that holds them."""
        self.misplaced = lambda: misplaced(data, shards)

    def call(
        self,
        tenant: str,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        **kw: object,
    ) -> object:
        token = next(t for t, n in TOKENS.items() if n == tenant)
        sent = {"authorization": f"Bearer {token}", **(headers or {})}
        return self.client.request(method, path, headers=sent, **kw)

    def settle(self) -> None:
        asyncio.run(self.store.settle())

    def search(self, tenant: str, q: str) -> set[tuple[str, int]]:
        answer = self.call(tenant, "GET", "/v1/search", params={"q": q, "limit": 100})
        assert answer.status_code == 200, answer.text
        return {(h["session_id"], h["seq"]) for h in answer.json()["hits"]}

    def like(self, tenant: str, q: str) -> set[tuple[str, int]]:
        clauses = " AND ".join("(' ' || content || ' ') LIKE ?" for _ in q.split())
        rows = self.d1.execute(
            f"SELECT session_id, seq FROM session_entries WHERE tenant_id = ? AND {clauses}",
            (tenant, *(f"% {w} %" for w in q.split())),
        )
        assert not self.misplaced()
        return set(rows.fetchall())


@pytest.fixture(params=["one-shard", "two-shards"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The local API, over one mirror database or two (tenants "a" and "b" on each)."""
    made = Api(tmp_path / "data", request.param)
    with made.client:
        yield made
    made.d1.close()


def seed(api: Api, rng: random.Random) -> None:
    for tenant in ("a", "b"):
        for n in range(6):
            sid = f"s{n}"
            api.call(tenant, "POST", "/v1/sessions", json={"id": sid})
            entries = [
                {"type": "message", "content": " ".join(rng.choices(WORDS, k=rng.randint(1, 6)))}
                for _ in range(rng.randint(5, 15))
            ]
            api.call(tenant, "POST", f"/v1/sessions/{sid}/entries", json={"entries": entries})
    api.settle()


QUERIES = ["alpha", "omega", "beta gamma", "zeta theta kappa", "delta"]


def test_search_answers_what_a_like_scan_answers(api: Api) -> None:
    seed(api, random.Random(7))
    for q in QUERIES:
        found = api.search("a", q)
        assert found == api.like("a", q), q
    assert any(api.search("a", q) for q in QUERIES), "the seeded data must have hits"


def test_the_index_follows_prunes_replaces_and_deletes(api: Api) -> None:
    seed(api, random.Random(11))
    api.call("a", "POST", "/v1/sessions/s0/prune", json={"before_seq": 4})
    replacement = {"from_seq": 3, "entries": [{"type": "message", "content": "omega omega"}]}
    api.call("a", "POST", "/v1/sessions/s1/replace", json=replacement)
    api.call("a", "DELETE", "/v1/sessions/s2")
    api.call("a", "POST", "/v1/sessions/s3/mirror/resync")
    api.settle()
    for q in QUERIES:
        assert api.search("a", q) == api.like("a", q), q
    assert any(s == "s1" for s, _ in api.search("a", "omega")), "the replacement is found"
    assert not any(s == "s2" for q in QUERIES for s, _ in api.search("a", q))


def test_tenants_search_only_their_own_entries(api: Api) -> None:
    api.call("a", "POST", "/v1/sessions", json={"id": "x"})
    api.call("a", "POST", "/v1/sessions/x/entries",
             json={"entries": [{"type": "message", "content": "secret plan"}]})  # fmt: skip
    api.settle()
    assert api.search("a", "secret") == {("x", 1)}
    assert api.search("b", "secret") == set()


@pytest.mark.parametrize("q", ['"', "*", "NEAR(a b)", "a OR", "(", "-x", "col:val", "a\x00b", "'"])
def test_query_syntax_is_never_interpreted(api: Api, q: str) -> None:
    answer = api.call("a", "GET", "/v1/search", params={"q": q})
    assert answer.status_code == 200, answer.text


def test_an_empty_query_is_refused_and_a_wordless_one_finds_nothing(api: Api) -> None:
    assert api.call("a", "GET", "/v1/search", params={"q": ""}).status_code == 422
    for wordless in ("   ", "\x00", "\x1d\t"):
        answer = api.call("a", "GET", "/v1/search", params={"q": wordless})
        assert (answer.status_code, answer.json()) == (200, {"hits": [], "bookmark": None}), repr(
            wordless
        )


def test_deleted_entries_leave_the_index_even_when_their_rowids_are_reused(api: Api) -> None:
    """D1 gives new rows the rowids of the newest deleted ones; the index must have let go of
    the old words, or the new rows would be found by them."""
    api.call("a", "POST", "/v1/sessions", json={"id": "r"})
    old = [{"type": "message", "content": "alpha"} for _ in range(3)]
    api.call("a", "POST", "/v1/sessions/r/entries", json={"entries": old})
    api.settle()
    assert api.search("a", "alpha") == {("r", 1), ("r", 2), ("r", 3)}
    new = {"from_seq": 2, "entries": [{"type": "message", "content": "beta"}] * 2}
    assert api.call("a", "POST", "/v1/sessions/r/replace", json=new).status_code == 200
    api.settle()
    assert api.search("a", "alpha") == api.like("a", "alpha") == {("r", 1)}
    assert api.search("a", "beta") == {("r", 4), ("r", 5)}


def test_a_long_read_of_the_local_d1_blocks_no_other_request(tmp_path: Path) -> None:
    """Searches ran on the local server's one event loop: as the index grew, every request
    waited for them (482 -> 230 requests/s under load). Reads of the local D1 now run in
    threads: while one takes half a second, the loop keeps serving."""
    mirror = SqliteMirror(tmp_path / "d1.sqlite")
    slow = (
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000) "
        "SELECT count(*) AS counted FROM n"
    )

    async def scenario() -> tuple[int, float]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(ticker())
        started = time.monotonic()
        rows = await mirror.query(slow)
        elapsed = time.monotonic() - started
        beat.cancel()
        assert rows == [{"counted": 1_000_000}]
        return ticks, elapsed

    ticks, elapsed = asyncio.run(scenario())
    mirror.close()
    assert elapsed > 0.1, "the read must be long enough to show anything"
    assert ticks >= elapsed / 0.01 / 3, f"{ticks} ticks in {elapsed:.2f} s: the loop was held"
