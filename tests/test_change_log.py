"""The change log: the records the drain sends, their keys and order under failures and
replays, and the cookbook's queries (cookbook/changes.sql) over a local copy of what was sent.

Each "Durable Object" is a SessionHost on its own SQLite database; D1 is a SQLite mirror and
the change log a JSON-lines directory (what an append-only sink holds), each behind a
wrapper that fails on purpose, before and after the target took the work. The queries run on
SQLite and on Apache DataFusion, the engine R2 SQL is built on.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import datafusion
import pyarrow as pa
import pytest

from agent_sessions.adapters.change_log import (
    BINDINGS,
    JsonLinesChangeLog,
    StreamsChangeLog,
    bound_streams,
)
from agent_sessions.adapters.runtime_values import DURABLE_OBJECT
from agent_sessions.adapters.sqlite import SqliteSql, connect
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine import SessionKey
from agent_sessions.engine.ddl import ENTRY_COLUMNS, SESSION_COLUMNS
from agent_sessions.host import SessionHost
from agent_sessions.mirror.changes import (
    ENTRY_FIELDS,
    ENTRY_STREAM,
    SESSION_FIELDS,
    SESSION_STREAM,
    STREAMS,
    ChangeRecord,
    entry_key,
    idempotency_key,
)
from agent_sessions.mirror.plan import plan_batch

from .conftest import ROOT, Clock
from .faulty_mirror import FaultyMirror, InjectedFault


class FaultyChangeLog:
    """Fails a third of its rate before the sink took the records, the rest after."""

    def __init__(self, inner: JsonLinesChangeLog, rng: random.Random, rate: float) -> None:
        self.inner, self.rng, self.rate = inner, rng, rate
        self.before = self.after = 0
        self.down = False

    async def send(self, stream: str, records: Sequence[ChangeRecord]) -> None:
        roll = self.rng.random()
        if self.down or roll < self.rate / 3:
            self.before += 1
            raise InjectedFault("the pipeline refused the records")
        await self.inner.send(stream, records)
        if roll < self.rate:
            self.after += 1
            raise InjectedFault("the pipeline took them, but the acknowledgement was lost")


class World:
    def __init__(self, tmp: Path, clock: Clock, seed: int, rate: float = 0.3) -> None:
        self.clock = clock
        self.d1 = SqliteMirror(":memory:")
        self.faulty_d1 = FaultyMirror(self.d1, random.Random(seed), rate / 2)
        self.sink = JsonLinesChangeLog(tmp / "changes")
        self.log = FaultyChangeLog(self.sink, random.Random(seed + 1), rate)
        self.hosts: dict[SessionKey, SessionHost] = {}
        self.raw: dict[SessionKey, Any] = {}

    def host(self, key: SessionKey) -> SessionHost:
        if key not in self.hosts:
            self.raw[key] = connect(":memory:")

            async def after_write() -> None:
                await self.hosts[key].drain()

            self.hosts[key] = SessionHost(
                SqliteSql(self.raw[key], DURABLE_OBJECT),
                self.faulty_d1,
                after_write,
                self.clock,
                changes=self.log,
            )
        return self.hosts[key]

    async def call(self, key: SessionKey, operation: str, *args: Any) -> Any:
        return await self.host(key).call(operation, key, args)

    async def quiet(self) -> None:
        for _ in range(500):
            busy = [h for h in self.hosts.values() if h.pending()["pending"]]
            if not busy:
                return
            self.clock.now += 10 * 60_000
            for host in busy:
                await host.drain()
        pytest.fail("the drain did not go quiet")


def entry(i: int) -> dict[str, Any]:
    return {"type": "message", "role": "user" if i % 2 else "assistant", "content": f"e{i}"}


KEYS = [SessionKey("acme", f"s{i}") for i in range(6)]


async def scenario(world: World, rng: random.Random, writes: int = 400) -> None:
    for key in KEYS:
        await world.call(key, "create_session", {"title": f"t-{key.session_id}"})
    for n in range(writes):
        key = rng.choice(KEYS[1:])  # s0 only ever appends: its history is exactly its rows
        roll = rng.random()
        world.clock.now += rng.randrange(1, 50)
        if roll < 0.3:
            key = KEYS[0]
        if key == KEYS[0] or roll < 0.75:
            await world.call(key, "append", [entry(n), entry(n + 10_000)], None)
        elif roll < 0.85:
            await world.call(key, "update_session", {"title": f"turn {n}"}, None)
        elif roll < 0.9:
            session = await world.call(key, "get_session")
            await world.call(key, "prune", session["last_seq"] // 2 + 1, None)
        elif roll < 0.93:
            session = await world.call(key, "get_session")
            await world.call(key, "replace_history", session["last_seq"] // 2 + 1, [entry(n)], None)
        elif roll < 0.95:  # D1's rebuild: every entry sent again, at the resync's version
            await world.call(key, "resync_mirror")
        else:
            await world.call(key, "delete_session")
            await world.call(key, "create_session", {"title": "again"})
    await world.call(KEYS[-1], "delete_session")  # gone for good: no latest row
    await world.quiet()


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> World:
    """One seeded run, shared by the checks below (each reads what it sent)."""
    world = World(tmp_path_factory.mktemp("log"), Clock(), seed=20)
    asyncio.run(scenario(world, random.Random(7)))
    return world


def do_rows(world: World, table: str, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    found = []
    for conn in world.raw.values():
        cursor = conn.execute(f"SELECT {', '.join(columns)} FROM {table}")
        found += [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    return found


def test_failures_were_injected_and_d1_still_equals_the_dos(sent: World) -> None:
    assert sent.log.before > 0
    assert sent.log.after > 0
    assert sent.faulty_d1.before_commit > 0
    assert sent.faulty_d1.after_commit > 0
    for table, columns in (("sessions", SESSION_COLUMNS), ("session_entries", ENTRY_COLUMNS)):
        expected = sorted(tuple(r.values()) for r in do_rows(sent, table, columns))
        actual = sorted(sent.d1.sql.connection.execute(f"SELECT {', '.join(columns)} FROM {table}"))
        assert actual == expected, f"{table}: the change log's failures cost D1 rows"
    assert all(h.pending()["pending"] == 0 for h in sent.hosts.values())


def test_records_are_flat_typed_and_keyed(sent: World) -> None:
    for stream, fields in ((SESSION_STREAM, SESSION_FIELDS), (ENTRY_STREAM, ENTRY_FIELDS)):
        records = sent.sink.records(stream)
        assert records
        for r in records:
            assert tuple(r) == fields, "one schema per stream, every field present"
            assert all(v is None or isinstance(v, (str, int)) for v in r.values())
            assert isinstance(r["version"], int)
            assert isinstance(r["at"], int)
    for r in sent.sink.records(ENTRY_STREAM):
        key = (r["tenant_id"], r["session_id"])
        expected = (
            entry_key(*key, r["seq"], r["id"])
            if r["op"] == "append"
            else idempotency_key(*key, r["version"], "delete", f"{r['seq']}-{r['seq_to']}")
        )
        assert r["idempotency_key"] == expected
    for r in sent.sink.records(SESSION_STREAM):
        assert r["idempotency_key"] == idempotency_key(
            r["tenant_id"], r["session_id"], r["version"], r["op"]
        )
    assert idempotency_key("a/b", "c", 1) != idempotency_key("a", "b/c", 1)


def test_copies_are_identical_and_first_sends_come_in_version_order(sent: World) -> None:
    for stream in STREAMS:
        by_key: dict[str, list[ChangeRecord]] = defaultdict(list)
        first_versions: dict[str, list[int]] = defaultdict(list)
        for r in sent.sink.records(stream):
            if not by_key[r["idempotency_key"]]:
                first_versions[r["session_id"]].append(r["version"])
            by_key[r["idempotency_key"]].append(r)
        assert any(len(c) > 1 for c in by_key.values()), "lost acknowledgements resent records"
        for copies in by_key.values():
            first = copies[0]
            for c in copies:  # a resync sends an entry again at its own, later, version
                assert c | {"version": first["version"]} == first, "a resend changed a record"
                assert c["version"] >= first["version"]
        for versions in first_versions.values():
            assert versions == sorted(versions), "records were first sent out of version order"


def test_a_replayed_plan_makes_the_same_records(clock: Clock) -> None:
    """A drain that crashed after both sinks took a batch, before the store forgot it, plans
    it again from the same outbox: the same records, the same keys."""
    conn = connect(":memory:")

    async def nothing() -> None:
        return None

    host = SessionHost(SqliteSql(conn, DURABLE_OBJECT), SqliteMirror(":memory:"), nothing, clock)
    key = SessionKey("acme", "s1")

    async def write() -> None:
        await host.call("create_session", key, ({"title": "x"},))
        for i in range(3):
            await host.call("append", key, ([entry(i)], None, None))
            clock.now += 5
        await host.call("prune", key, (2, None))

    asyncio.run(write())
    sql = SqliteSql(conn, DURABLE_OBJECT)
    first, second = plan_batch(sql, log=True), plan_batch(sql, log=True)
    assert first is not None
    assert second is not None
    assert first.changes is not None
    assert first.changes == second.changes
    unlogged = plan_batch(sql)
    assert unlogged is not None
    assert unlogged.changes is None, "without a change log no records are made"
    assert unlogged.statements == first.statements
    # The plan ships the rows as they are now (plan.py): entry 1, pruned before any drain
    # ran, is never sent; its range's removal is.
    records = first.changes[ENTRY_STREAM]
    assert [(r["op"], r["seq"], r["seq_to"]) for r in records] == [
        ("append", 2, 2), ("append", 3, 3), ("delete", 0, 1)
    ]  # fmt: skip
    assert records[0]["version"] < records[1]["version"] < records[2]["version"]


def test_a_change_log_that_is_down_holds_the_outbox_and_loses_nothing(
    tmp_path: Path, clock: Clock
) -> None:
    world = World(tmp_path, clock, seed=1, rate=0.0)
    world.log.down = True
    key = KEYS[0]

    async def run() -> None:
        await world.call(key, "create_session", {"title": "x"})
        await world.call(key, "append", [entry(1), entry(2)], None)
        status = world.hosts[key].pending()
        assert status["pending"] > 0
        assert "pipeline refused" in status["last_error"]
        assert world.sink.records(ENTRY_STREAM) == []
        world.log.down = False
        await world.quiet()

    asyncio.run(run())
    assert [r["seq"] for r in world.sink.records(ENTRY_STREAM)] == [1, 2]
    (count,) = world.d1.sql.connection.execute("SELECT count(*) FROM session_entries").fetchone()
    assert count == 2


def test_each_stream_is_bound_on_its_own_and_none_means_off() -> None:
    class Sender:
        def __init__(self) -> None:
            self.got: list[Any] = []

        def send(self, records: Any) -> None:
            self.got.append(records)

    class Env:
        pass

    assert bound_streams(Env()) == {}
    env = Env()
    sessions = Sender()
    setattr(env, BINDINGS[SESSION_STREAM], sessions)
    streams = bound_streams(env)
    assert list(streams) == [SESSION_STREAM]

    async def sender(records: Any) -> None:
        streams[SESSION_STREAM].send(records)

    log = StreamsChangeLog({SESSION_STREAM: sender})
    asyncio.run(log.send(SESSION_STREAM, [{"a": 1}]))
    asyncio.run(log.send(ENTRY_STREAM, [{"b": 2}]))
    assert sessions.got == [[{"a": 1}]]


# -- the cookbook, on a local copy ------------------------------------------------------


def cookbook() -> dict[tuple[str, str], str]:
    """Queries by (name, dialect): "" is R2 SQL's (run on DataFusion and SQLite)."""
    text = (ROOT / "cookbook" / "changes.sql").read_text()
    queries = {}
    for block in re.split(r"^-- name: ", text, flags=re.M)[1:]:
        name, _, body = block.partition("\n")
        dialect = re.search(r"^-- dialect: (\w+)", body, flags=re.M)
        sql = "\n".join(line for line in body.splitlines() if not line.startswith("--"))
        queries[(name.strip(), dialect.group(1) if dialect else "")] = sql.strip().rstrip(";")
    return queries


QUERIES = cookbook()


def sqlite_copy(world: World) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    for stream, fields in ((SESSION_STREAM, SESSION_FIELDS), (ENTRY_STREAM, ENTRY_FIELDS)):
        conn.execute(f"CREATE TABLE {stream} ({', '.join(fields)})")
        rows = [tuple(r.values()) for r in world.sink.records(stream)]
        conn.executemany(f"INSERT INTO {stream} VALUES ({', '.join('?' * len(fields))})", rows)
    return conn


def on_sqlite(conn: sqlite3.Connection, name: str, *params: Any, dialect: str = "") -> list:
    sql = QUERIES.get((name, dialect)) or QUERIES[(name, "")]
    cursor = conn.execute(sql, {str(i + 1): p for i, p in enumerate(params)})
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]


def test_latest_sessions_are_the_dos_rows(sent: World) -> None:
    live = {r["id"]: r for r in do_rows(sent, "sessions", SESSION_COLUMNS)}
    got = on_sqlite(sqlite_copy(sent), "latest_sessions", "acme", dialect="sqlite")
    assert [r["session_id"] for r in got] == sorted(live)
    for r in got:
        row = live[r["session_id"]]
        assert {c: row[c] for c in r if c in row} == {c: r[c] for c in r if c in row}
    deleted = {r["session_id"] for r in sent.sink.records(SESSION_STREAM) if r["op"] == "delete"}
    assert deleted, "the scenario deleted and re-created sessions"


def test_entries_of_session_are_each_entry_once_and_lose_nothing(sent: World) -> None:
    conn = sqlite_copy(sent)
    assert on_sqlite(conn, "copies", "acme"), "the copy holds resent records"
    versions = defaultdict(set)
    for r in sent.sink.records(ENTRY_STREAM):
        versions[r["idempotency_key"]].add(r["version"])
    resent = [k for k, v in versions.items() if len(v) > 1]
    assert resent, "the scenario's resyncs sent entries again, at later versions"
    current = defaultdict(set)
    for r in do_rows(sent, "session_entries", ENTRY_COLUMNS):
        current[r["session_id"]].add((r["seq"], r["id"], r["content"]))
    deletes = defaultdict(list)
    for r in sent.sink.records(SESSION_STREAM):
        if r["op"] == "delete":
            deletes[r["session_id"]].append(r["version"])
    for key in KEYS:
        history = on_sqlite(conn, "entries_of_session", "acme", key.session_id)
        order = [(r["version"], r["seq"]) for r in history]
        assert order == sorted(order), "in the order written"
        assert len(set(order)) == len(order), "each once"
        held = {(r["seq"], r["id"], r["content"]) for r in history}
        assert current[key.session_id] <= held, "an entry the DO holds is missing from history"
        ranges = on_sqlite(conn, "removed_ranges", "acme", key.session_id)
        for r in history:
            if (r["seq"], r["id"], r["content"]) in current[key.session_id]:
                continue
            removed = any(
                g["version"] > r["version"] and g["seq"] <= r["seq"] <= g["seq_to"] for g in ranges
            ) or any(v > r["version"] for v in deletes[key.session_id])
            assert removed, f"{key.session_id} seq {r['seq']}: gone, and no record says why"
    s0 = on_sqlite(conn, "entries_of_session", "acme", KEYS[0].session_id)
    assert {(r["seq"], r["id"], r["content"]) for r in s0} == current[KEYS[0].session_id]


def datafusion_copy(world: World) -> Any:
    """The streams as typed tables, as an Iceberg table would hold them: the integer columns
    are the ones the D1 schema declares INTEGER."""
    declared = {}
    for table, rename in (("sessions", {"id": "session_id"}), ("session_entries", {})):
        for _, name, kind, *_ in world.d1.sql.connection.execute(f"PRAGMA table_info({table})"):
            declared[rename.get(name, name)] = kind
    declared |= {"at": "INTEGER", "version": "INTEGER", "seq_to": "INTEGER"}
    ctx = datafusion.SessionContext()
    for stream, fields in ((SESSION_STREAM, SESSION_FIELDS), (ENTRY_STREAM, ENTRY_FIELDS)):
        types = [pa.int64() if declared.get(f) == "INTEGER" else pa.string() for f in fields]
        schema = pa.schema(list(zip(fields, types, strict=True)))
        path = world.sink.path(stream)
        ctx.register_json(stream, str(path), schema=schema, file_extension=".jsonl")
    return ctx


def on_datafusion(ctx: Any, name: str, *params: Any) -> list[dict[str, Any]]:
    sql = QUERIES[(name, "")]
    return ctx.sql(sql, param_values={str(i + 1): p for i, p in enumerate(params)}).to_pylist()


def test_r2_sql_queries_answer_the_same_on_datafusion(sent: World) -> None:
    ctx, conn = datafusion_copy(sent), sqlite_copy(sent)
    latest = on_datafusion(ctx, "latest_sessions", "acme")
    assert latest == on_sqlite(conn, "latest_sessions", "acme", dialect="sqlite")
    assert len(latest) == len(KEYS) - 1, "the session deleted for good is not among them"
    for key in KEYS:
        for name in ("entries_of_session", "removed_ranges"):
            got = on_datafusion(ctx, name, "acme", key.session_id)
            assert got == on_sqlite(conn, name, "acme", key.session_id), name
    assert on_datafusion(ctx, "copies", "acme") == on_sqlite(conn, "copies", "acme")


def test_the_sink_holds_what_was_sent_as_json_lines(sent: World) -> None:
    lines = sent.sink.path(ENTRY_STREAM).read_text().splitlines()
    assert [json.loads(x) for x in lines] == sent.sink.records(ENTRY_STREAM)
