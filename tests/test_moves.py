"""Moving a tenant to a database of its own (service/moves.py), in local mode, while it
keeps writing: at every step its reads must hold every row its sessions hold (row by row,
on every shared column, against the session files, which are its Durable Objects), through
the deploys of the settings (a restart of the store) and a crash in the middle of the copy.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agent_sessions.adapters.sqlite import SqliteSql, connect
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.cli import main
from agent_sessions.engine import InvalidInput, SessionKey
from agent_sessions.engine.ddl import ENTRY_COLUMNS, SESSION_COLUMNS
from agent_sessions.engine.ports import Row, SqlValue
from agent_sessions.host import SessionHost
from agent_sessions.local.store import LocalStore, mirror_file
from agent_sessions.mirror.ports import Statement
from agent_sessions.mirror.shards import ShardMap, Shards
from agent_sessions.service.moves import check_tenant, clear_tenant, copy_tenant
from agent_sessions.service.sessions import Sessions

BIG, SMALL = "big", "small"
BEFORE = ShardMap.from_settings('["DB", "DB_1"]')
FROM = BEFORE.place(BIG).read
"""Where the hash put "big" (DB_1): a move names it as `from`."""
MOVING = ShardMap.from_settings(["DB", "DB_1", "DB_2"], {BIG: {"from": FROM, "to": "DB_2"}})
MOVED = ShardMap.from_settings(["DB", "DB_1", "DB_2"], {BIG: "DB_2"})
TABLES = (("sessions", SESSION_COLUMNS), ("session_entries", ENTRY_COLUMNS))


def rows_of(conn: sqlite3.Connection, tenant: str) -> set[tuple[Any, ...]]:
    found: set[tuple[Any, ...]] = set()
    for table, columns in TABLES:
        query = f"SELECT '{table}', {', '.join(columns)} FROM {table} WHERE tenant_id = ?"
        found |= set(conn.execute(query, (tenant,)).fetchall())
    return found


class Load:
    """Sessions of two tenants, written at random; their files are what D1 must mirror."""

    def __init__(self, data: Path, rng: random.Random) -> None:
        self.data = data
        self.rng = rng
        self.store: LocalStore | None = None
        self.keys = [SessionKey(t, f"s{i:02d}") for t in (BIG, SMALL) for i in range(12)]
        self.live: set[SessionKey] = set()

    def open(self, shards: ShardMap) -> Sessions:
        """A deploy of new settings: the store starts again with them."""
        if self.store is not None:
            self.store.close()
        self.store = LocalStore(self.data, shard_map=shards)
        self.sessions = Sessions(self.store.transport)
        return self.sessions

    async def burst(self, turns: int = 30) -> None:
        for _ in range(turns):
            key = self.rng.choice(self.keys)
            roll = self.rng.random()
            if key not in self.live:
                await self.sessions.create_session(key, {"user_id": "u"})
                self.live.add(key)
            elif roll < 0.85:
                n = self.rng.randint(1, 6)
                entries = [{"type": "message", "content": f"turn {self.rng.random()}"}] * n
                await self.sessions.append(key, entries)
            elif roll < 0.95:
                await self.sessions.save_data(key, {"n": self.rng.random()})
            else:
                await self.sessions.delete_session(key)
                self.live.discard(key)

    async def settled(self) -> None:
        """Every background drain done, then the alarms (what a crash left for them)."""
        assert self.store is not None
        await self.store.settle()
        await self.store.run_due_alarms()
        await self.store.settle()

    def held(self, tenant: str) -> set[tuple[Any, ...]]:
        """What the tenant's session files hold (its Durable Objects)."""
        assert self.store is not None
        found: set[tuple[Any, ...]] = set()
        for key in self.keys:
            path = self.store.path(key)
            if key.tenant_id == tenant and path.exists():
                conn = sqlite3.connect(path)
                found |= rows_of(conn, tenant)
                conn.close()
        return found

    def mirrored(self, binding: str, tenant: str) -> set[tuple[Any, ...]]:
        conn = sqlite3.connect(mirror_file(self.data, binding))
        try:
            return rows_of(conn, tenant)
        finally:
            conn.close()

    def assert_reads_hold_every_row(self, shards: ShardMap, exact: bool = False) -> None:
        for tenant in (BIG, SMALL):
            held, read = self.held(tenant), self.mirrored(shards.place(tenant).read, tenant)
            missing = held - read
            assert not missing, f"{tenant}: {len(missing)} rows missing from its reads"
            if exact:
                assert read == held, f"{tenant}: {len(read - held)} rows extra in its reads"


def test_a_tenant_moves_mid_load_and_its_reads_never_miss_a_row(tmp_path: Path) -> None:
    assert BEFORE.place(SMALL) == MOVING.place(SMALL) == MOVED.place(SMALL), "small stays"
    load = Load(tmp_path / "data", random.Random(3))

    async def scenario() -> None:
        load.open(BEFORE)
        await load.burst(120)
        await load.settled()
        load.assert_reads_hold_every_row(BEFORE, exact=True)

        sessions = load.open(MOVING)  # deploy 1: big writes to both, reads DB
        assert load.store is not None
        page = await copy_tenant(sessions, load.store.shards, BIG, limit=4)
        await load.burst()
        await load.settled()
        load.assert_reads_hold_every_row(MOVING)

        sessions = load.open(MOVING)  # a crash in the middle of the copy: resume
        cursor = page["next"]
        while cursor is not None:
            page = await copy_tenant(sessions, load.store.shards, BIG, cursor, limit=4)
            cursor = page["next"]
            await load.burst(10)
            await load.settled()
            load.assert_reads_hold_every_row(MOVING)
        behind = await _behind(sessions, load)
        assert behind == [], behind
        assert load.mirrored("DB_2", BIG) == load.held(BIG), "the new database is complete"

        load.open(MOVED)  # deploy 2: big reads and writes DB_2 only
        await load.burst()
        await load.settled()
        load.assert_reads_hold_every_row(MOVED, exact=True)
        assert load.mirrored(FROM, BIG), "the old rows wait for the clear"
        assert load.store is not None
        assert await clear_tenant(load.store.shards, BIG, FROM) == {"tenant": BIG, "cleared": FROM}
        assert load.mirrored(FROM, BIG) == set()
        load.assert_reads_hold_every_row(MOVED, exact=True)
        load.store.close()

    asyncio.run(scenario())


async def _behind(sessions: Sessions, load: Load) -> list[str]:
    assert load.store is not None
    behind, cursor = [], ""
    while cursor is not None:
        page = await check_tenant(sessions, load.store.shards, BIG, cursor, limit=5)
        behind += page["behind"]
        cursor = page["next"]
    return behind


def test_a_move_step_out_of_turn_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    load = Load(tmp_path / "data", random.Random(1))

    async def scenario() -> None:
        sessions = load.open(BEFORE)
        await load.burst(20)
        await load.settled()
        assert load.store is not None
        with pytest.raises(InvalidInput, match="is not being moved"):
            await copy_tenant(sessions, load.store.shards, BIG)
        load.open(MOVING)
        with pytest.raises(InvalidInput, match=f"still read or written in '{FROM}'"):
            await clear_tenant(load.store.shards, BIG, FROM)
        with pytest.raises(InvalidInput, match="not one of D1_SHARDS"):
            await clear_tenant(load.store.shards, BIG, "DB_9")
        load.assert_reads_hold_every_row(MOVING, exact=True)
        load.store.close()

    asyncio.run(scenario())


class Watched:
    """The database a tenant leaves: what it holds of the tenant after every batch."""

    def __init__(self, inner: SqliteMirror) -> None:
        self.inner = inner
        self.held: list[int] = []

    async def apply(self, statements: Sequence[Statement]) -> None:
        await self.inner.apply(statements)
        query = "SELECT count(*) FROM session_entries WHERE tenant_id = ?"
        self.held.append(self.inner.sql.connection.execute(query, (BIG,)).fetchone()[0])

    async def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        return await self.inner.query(sql, params)


def test_a_resync_while_moving_never_takes_rows_from_the_old_database(tmp_path: Path) -> None:
    """A long session resyncs over several batches: the purge that starts it must not reach
    the database the reads still use."""
    mirrors = {b: SqliteMirror(tmp_path / f"{b}.sqlite") for b in MOVING.bindings}
    old = Watched(mirrors[FROM])
    shards = Shards(MOVING, {**mirrors, FROM: old})
    key = SessionKey(BIG, "long")

    async def nothing() -> None:
        return None

    async def scenario() -> None:
        host = SessionHost(SqliteSql(connect(tmp_path / "s.sqlite")), shards, nothing)
        await host.call("create_session", key, ({},))
        for start in (0, 500):
            entries = [{"type": "message", "content": f"e{i}"} for i in range(start, start + 500)]
            await host.call("append", key, (entries, None))
        assert (await host.drain())["pending"] == 0
        assert old.held[-1] == 1_000
        old.held.clear()
        await host.call("resync_mirror", key, ())
        assert (await host.drain())["pending"] == 0
        assert len(old.held) > 1, "the resync took several batches"
        assert min(old.held) == 1_000, "the old database lacked rows between them"
        assert (await host.call("verify_mirror", key, ()))["equal"], "the new database has it"

    asyncio.run(scenario())


def test_local_mode_moves_a_tenant_with_the_server_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`agent-sessions move-tenant`, then the server's next start with the tenant switched,
    then `clear-tenant`: each step as a user runs it, the data directory checked after."""
    data = tmp_path / "data"
    load = Load(data, random.Random(5))

    async def fill() -> None:
        load.open(BEFORE)
        await load.burst(80)
        await load.settled()

    asyncio.run(fill())
    assert load.store is not None
    load.store.close()
    flags = ["--data-dir", str(data), "--d1-shards", '["DB", "DB_1", "DB_2"]']
    moving = json.dumps({BIG: {"from": FROM, "to": "DB_2"}})
    with pytest.raises(SystemExit, match="is not being moved"):
        main(["move-tenant", BIG, *flags, "--tenant-shards", "{}"])
    assert main(["move-tenant", BIG, *flags, "--tenant-shards", moving]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["to"], report["behind"]) == ("DB_2", [])
    assert report["copied"] == len({k for k in load.live if k.tenant_id == BIG})
    assert load.mirrored("DB_2", BIG) == load.held(BIG) == load.mirrored(FROM, BIG)
    moved = json.dumps({BIG: "DB_2"})
    with pytest.raises(SystemExit, match=f"still read or written in '{FROM}'"):
        main(["clear-tenant", BIG, FROM, *flags, "--tenant-shards", moving])
    assert main(["clear-tenant", BIG, FROM, *flags, "--tenant-shards", moved]) == 0
    assert load.mirrored(FROM, BIG) == set()
    assert load.mirrored("DB_2", BIG) == load.held(BIG)
    assert load.mirrored(MOVED.place(SMALL).read, SMALL) == load.held(SMALL), "small untouched"
