"""The D1 mirror: outbox, drain, guards, limits, failures, parity and repair.

Each "Durable Object" here is a SessionHost on its own SQLite database with the DO's value
rules; "D1" is a SQLite database with D1's value rules, behind a fault-injecting wrapper.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from agent_sessions.adapters.runtime_values import DURABLE_OBJECT
from agent_sessions.adapters.sqlite import SqliteSql, connect
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine import SessionKey
from agent_sessions.engine.ddl import ENTRY_COLUMNS, SESSION_COLUMNS
from agent_sessions.engine.lifecycle import NO_LIFECYCLE, Lifecycle
from agent_sessions.engine.limits import INLINE_ENTRY_BYTES, MAX_ENTRIES_PER_APPEND
from agent_sessions.engine.ports import SqlValue
from agent_sessions.host import SessionHost
from agent_sessions.local.store import LocalStore
from agent_sessions.mirror.drain import backoff_ms
from agent_sessions.mirror.limits import MAX_PARAMS, OUTBOX_PAGE, STATEMENTS_PER_DRAIN
from agent_sessions.mirror.ports import MirrorPort, Statement
from agent_sessions.mirror.shards import MirrorRouter, ShardMap, Shards, Unroutable
from agent_sessions.mirror.timing import DrainTiming

from .conftest import Clock
from .faulty_mirror import FaultyMirror
from .shards import SHARDINGS, D1Set


class Recorder:
    """Passes batches through, keeping them, and checks D1's per-statement limits."""

    def __init__(self, inner: MirrorPort) -> None:
        self.inner = inner
        self.batches: list[list[Statement]] = []

    async def apply(self, statements: Sequence[Statement]) -> None:
        for sql, params in statements:
            assert len(params) <= MAX_PARAMS, sql
            assert len(sql.encode()) <= 100_000
        self.batches.append(list(statements))
        await self.inner.apply(statements)

    async def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Any]:
        return await self.inner.query(sql, params)


class Fleet:
    """Many sessions, each with its own store (its "DO"), mirroring to D1 (one database, or
    the tenant's of several)."""

    def __init__(
        self, mirror: MirrorPort | MirrorRouter, clock: Clock, lifecycle: Lifecycle = NO_LIFECYCLE
    ) -> None:
        self.mirror = mirror
        self.clock = clock
        self.lifecycle = lifecycle
        self.hosts: dict[SessionKey, SessionHost] = {}
        self.raw: dict[SessionKey, Any] = {}

    def host(self, key: SessionKey) -> SessionHost:
        if key not in self.hosts:
            conn = connect(":memory:")
            self.raw[key] = conn

            async def after_write() -> None:  # the fast path: one immediate attempt
                await self.hosts[key].drain()

            self.hosts[key] = SessionHost(
                SqliteSql(conn, DURABLE_OBJECT),
                self.mirror,
                after_write,
                self.clock,
                self.lifecycle,
            )
        return self.hosts[key]

    async def call(self, key: SessionKey, operation: str, *args: Any) -> Any:
        return await self.host(key).call(operation, key, args)

    async def drain_until_quiet(self, rounds: int = 500) -> None:
        """Play the alarms: drain every store with pending work until none is left."""
        for _ in range(rounds):
            busy = [h for h in self.hosts.values() if h.pending()["pending"]]
            if not busy:
                return
            self.clock.now += 10 * 60_000  # past any backoff
            for host in busy:
                await host.drain()
        pytest.fail("the mirror did not go quiet")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def rows(conn: Any, table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    order = "tenant_id, id" if table == "sessions" else "tenant_id, session_id, seq"
    return conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}").fetchall()


def assert_d1_equals_the_dos(fleet: Fleet, d1: D1Set) -> None:
    """Row by row, on every shared column: nothing lost, duplicated or stale."""
    for table, columns in (("sessions", SESSION_COLUMNS), ("session_entries", ENTRY_COLUMNS)):
        expected = sorted(r for conn in fleet.raw.values() for r in rows(conn, table, columns))
        actual = rows(d1.connection, table, columns)
        assert not d1.misplaced(), "a tenant's rows are in a database it is not placed on"
        assert len(actual) == len(set(actual)), f"{table}: duplicated rows in D1"
        missing = set(expected) - set(actual)
        extra = set(actual) - set(expected)
        assert not missing, f"{table}: {len(missing)} rows lost or stale in D1"
        assert not extra, f"{table}: {len(extra)} rows extra or stale in D1"
        assert actual == expected


@pytest.fixture(params=sorted(SHARDINGS))
def d1(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[D1Set]:
    """The mirror's databases: one, or two with a shard map (tests/shards.py)."""
    made = D1Set(tmp_path / "d1", request.param)
    yield made
    made.close()


def entry(i: int, size: int = 40) -> dict[str, Any]:
    return {
        "type": "message" if i % 3 else "tool_call",
        "role": "user" if i % 2 else "assistant",
        "content": f"entry {i} " + "x" * size,
        "payload": {"i": i, "f": i / 7, "big": 2**52 + i, "ok": bool(i % 2)},
        "input_tokens": i % 17,
        "output_tokens": i % 5,
    }


def test_random_faults_lose_nothing(d1: D1Set, clock: Clock) -> None:
    """100 sessions, 10,000 entries, D1 failing ~30% of batches, before and after commit."""
    seed = int(os.environ.get("MIRROR_SEED", random.randrange(2**32)))
    print(f"MIRROR_SEED={seed}")  # replay a failure with this seed
    rng = random.Random(seed)
    routed = d1.route(lambda port: FaultyMirror(Recorder(port), random.Random(seed + 1), 0.3))
    fleet = Fleet(routed.router, clock)
    faults = list(routed.wrappers.values())
    keys = [SessionKey(f"t{i % 3}", f"s{i:03d}") for i in range(100)]

    async def scenario() -> None:
        for key in keys:
            await fleet.call(key, "create_session", {"user_id": f"u{rng.randrange(10)}"})
        written = 0
        while written < 10_000:
            key = rng.choice(keys)
            roll = rng.random()
            clock.now += rng.randrange(0, 50)
            if roll < 0.85:
                n = min(rng.randint(1, 8), 10_000 - written)
                await fleet.call(key, "append", [entry(written + i) for i in range(n)], None)
                written += n
            elif roll < 0.93:
                await fleet.call(key, "save_data", {"turn": written, "note": "é✓"}, None)
            elif roll < 0.95:  # rewrite the newer half: a ranged tombstone, then new seqs
                session = await fleet.call(key, "get_session")
                start = session["last_seq"] // 2 + 1
                await fleet.call(key, "replace_history", start, [entry(written)], None)
                written += 1
            elif roll < 0.97:  # prune the older half: a tombstone for entries
                session = await fleet.call(key, "get_session")
                await fleet.call(key, "prune", session["last_seq"] // 2 + 1, None)
            else:  # delete and re-create: tombstones, then a new incarnation
                await fleet.call(key, "delete_session")
                await fleet.call(key, "create_session", {"title": "again"})
        await fleet.drain_until_quiet()

    run(scenario())
    assert sum(f.before_commit for f in faults) > 0, "failures before commit were injected"
    assert sum(f.after_commit for f in faults) > 0, "lost acknowledgements were injected"
    assert sum(f.timeouts for f in faults) > 0, "timeouts were injected"
    assert_d1_equals_the_dos(fleet, d1)
    (entries,) = d1.connection.execute("SELECT count(*) FROM session_entries").fetchone()
    held = sum(
        c.execute("SELECT count(*) FROM session_entries").fetchone()[0] for c in fleet.raw.values()
    )
    assert entries == held > 2_000, "random deletes remove some entries; every other one arrived"
    for host in fleet.hosts.values():
        status = host.pending()
        assert status["pending"] == 0
        assert status["attempts"] == 0


def test_an_older_version_delivered_late_changes_nothing(d1: D1Set, clock: Clock) -> None:
    routed = d1.route(Recorder)
    recorder = routed.of("t")
    fleet = Fleet(routed.router, clock)
    key = SessionKey("t", "s")

    async def scenario() -> None:
        await fleet.call(key, "create_session", {"title": "v1"})
        await fleet.call(key, "save_data", {"n": 1}, None)
        old = recorder.batches[-1]
        await fleet.call(key, "save_data", {"n": 2}, None)
        await recorder.apply(old)  # a stale retry arriving after the newer batch

    run(scenario())
    (version, data) = d1.connection.execute("SELECT version, data FROM sessions").fetchone()
    assert (version, data) == (3, '{"n":2}')
    assert_d1_equals_the_dos(fleet, d1)


def test_deletes_reach_d1_and_an_old_tombstone_spares_a_new_incarnation(
    d1: D1Set, clock: Clock
) -> None:
    routed = d1.route(Recorder)
    recorder = routed.of("t")
    fleet = Fleet(routed.router, clock)
    key = SessionKey("t", "s")

    async def scenario() -> None:
        await fleet.call(key, "create_session", {})
        await fleet.call(key, "append", [entry(i) for i in range(5)], None)
        await fleet.call(key, "delete_session")
        tombstone = recorder.batches[-1]
        assert d1.connection.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
        assert d1.connection.execute("SELECT count(*) FROM session_entries").fetchone() == (0,)
        await fleet.call(key, "create_session", {"title": "new"})
        await fleet.call(key, "append", [entry(i) for i in range(2)], None)
        await recorder.apply(tombstone)  # replayed after the new incarnation landed

    run(scenario())
    assert d1.connection.execute("SELECT title, version FROM sessions").fetchone() == ("new", 5)
    assert d1.connection.execute("SELECT count(*) FROM session_entries").fetchone() == (2,)
    assert_d1_equals_the_dos(fleet, d1)


def test_expiry_and_idle_alarms_end_with_d1_equal(d1: D1Set, clock: Clock) -> None:
    """The alarm's lifecycle sweep, with D1 down when it runs: the expired session's rows
    leave its DO at once and D1 later, the idle one turns abandoned in both, and each alarm
    asks for the next due time: the retry first, then the next rule."""
    routed = d1.route(lambda port: FaultyMirror(port, random.Random(0), failure_rate=0))
    faulty = routed.of("t")
    fleet = Fleet(routed.router, clock, Lifecycle(ttl_ms=3_600_000, idle_timeout_ms=60_000))
    doomed, quiet = SessionKey("t", "doomed"), SessionKey("t", "quiet")
    start = clock.now

    async def scenario() -> None:
        await fleet.call(doomed, "create_session", {"expires_at": start + 1_000})
        await fleet.call(doomed, "append", [entry(i) for i in range(30)], None)
        await fleet.call(quiet, "create_session", {"user_id": "ada"})
        await fleet.call(quiet, "append", [entry(i) for i in range(3)], None)
        assert await fleet.hosts[doomed].alarm() == start + 1_000, "nothing due yet"
        faulty.down = True
        clock.now = start + 60_000
        retry_at = await fleet.hosts[doomed].alarm()
        assert retry_at is not None, "D1 is down: the alarm comes back for the tombstone"
        assert retry_at < start + 3_600_000
        assert fleet.raw[doomed].execute("SELECT count(*) FROM session_entries").fetchone() == (0,)
        assert await fleet.hosts[quiet].alarm() is not None
        faulty.down = False
        clock.now = retry_at
        assert await fleet.hosts[doomed].alarm() is None, "gone, and D1 has it: nothing due"
        assert await fleet.hosts[quiet].alarm() == start + 3_600_000, "then its TTL"
        assert (await fleet.call(doomed, "verify_mirror"))["equal"]
        assert (await fleet.call(quiet, "verify_mirror"))["equal"]

    run(scenario())
    d1_rows = d1.connection.execute("SELECT id, status FROM sessions").fetchall()
    assert d1_rows == [("quiet", "abandoned")]
    counts = "SELECT session_id, count(*) FROM session_entries GROUP BY 1"
    assert d1.connection.execute(counts).fetchall() == [("quiet", 3)]
    assert_d1_equals_the_dos(fleet, d1)


@pytest.mark.parametrize("turns_while_down", [1, OUTBOX_PAGE + 50])
def test_work_undone_by_a_later_tombstone_is_not_sent(
    d1: D1Set, clock: Clock, turns_while_down: int
) -> None:
    """While D1 is down a session is filled, deleted and re-created: D1 must end with the new
    incarnation only, never the old entries under the new session row. With few turns the
    planner reads the whole outbox and finds the tombstone in it; with more than a page, it
    asks the store for it (mirror/plan.py `_last_resets`, LAST_RESET)."""
    routed = d1.route(lambda port: FaultyMirror(Recorder(port), random.Random(0), 0))
    faulty = routed.of("t")
    fleet = Fleet(routed.router, clock)
    key = SessionKey("t", "s")

    async def scenario() -> None:
        await fleet.call(key, "create_session", {})
        await fleet.call(key, "append", [entry(i) for i in range(10)], None)
        faulty.down = True
        for turn in range(turns_while_down):
            await fleet.call(key, "append", [entry(10 + turn)], None)
        await fleet.call(key, "delete_session")
        await fleet.call(key, "create_session", {})
        await fleet.call(key, "append", [entry(i) for i in range(3)], None)
        faulty.down = False
        await fleet.drain_until_quiet()

    run(scenario())
    assert d1.connection.execute("SELECT count(*) FROM session_entries").fetchone() == (3,)
    assert_d1_equals_the_dos(fleet, d1)


def test_a_big_append_is_split_within_d1_limits(d1: D1Set, clock: Clock) -> None:
    routed = d1.route(Recorder)
    recorder = routed.of("t")
    fleet = Fleet(routed.router, clock)
    key = SessionKey("t", "s")
    run(fleet.call(key, "create_session", {}))
    batch = [entry(i, size=2_000) for i in range(MAX_ENTRIES_PER_APPEND)]
    run(fleet.call(key, "append", batch, None))
    assert len(recorder.batches) > 1, "500 entries of 2 KB cannot travel as one batch"
    assert_d1_equals_the_dos(fleet, d1)


def test_an_entry_at_the_size_limit_still_mirrors(d1: D1Set, clock: Clock) -> None:
    routed = d1.route(Recorder)
    recorder = routed.of("t")
    fleet = Fleet(routed.router, clock)
    key = SessionKey("t", "s")
    run(fleet.call(key, "create_session", {}))
    big = {"type": "message", "content": "y" * (INLINE_ENTRY_BYTES - 10)}
    run(fleet.call(key, "append", [entry(1), big, entry(2)], None))
    statements = [s for b in recorder.batches for s in b if "session_entries" in s[0]]
    alone = [s for s in statements if any(v == big["content"] for v in s[1])]
    assert len(alone) == 1
    assert len(alone[0][1]) == len(ENTRY_COLUMNS), "a near-limit entry travels alone"
    assert_d1_equals_the_dos(fleet, d1)


def test_coalescing_many_writes_into_one_upsert(d1: D1Set, clock: Clock) -> None:
    routed = d1.route(lambda port: FaultyMirror(Recorder(port), random.Random(0), 0))
    faulty = routed.of("t")
    recorder = faulty.inner
    assert isinstance(recorder, Recorder)
    fleet = Fleet(routed.router, clock)
    key = SessionKey("t", "s")

    async def scenario() -> None:
        await fleet.call(key, "create_session", {})
        faulty.down = True
        for turn in range(100):
            await fleet.call(key, "append", [entry(turn)], None)
        faulty.down = False
        await fleet.drain_until_quiet()

    run(scenario())
    sent = recorder.batches[-1] if len(recorder.batches) == 2 else None
    assert sent is not None, "100 turns during an outage drain as one batch"
    upserts = [s for s in sent if s[0].startswith("INSERT INTO sessions")]
    assert len(upserts) == 1
    per = MAX_PARAMS // len(ENTRY_COLUMNS)  # entry rows in one multi-row upsert
    assert len(sent) <= 1 + -(-100 // per), "one session upsert plus multi-row entry upserts"
    assert_d1_equals_the_dos(fleet, d1)


def test_an_outage_is_recorded_backed_off_and_recovered(d1: D1Set, clock: Clock) -> None:
    routed = d1.route(lambda port: FaultyMirror(port, random.Random(0), failure_rate=0))
    faulty = routed.of("t")
    fleet = Fleet(routed.router, clock)
    key = SessionKey("t", "s")
    faulty.down = True
    run(fleet.call(key, "create_session", {}))
    started = clock.now
    host = fleet.host(key)
    retries = []
    for _ in range(4):
        clock.now += 1
        status = run(host.drain())
        retries.append(status["next_attempt_at"] - clock.now)
    assert status["pending"] == 1
    assert status["attempts"] == 5
    assert "unreachable" in status["last_error"]
    assert status["lag_ms"] == clock.now - started
    assert retries == sorted(retries), "the backoff grows"
    assert d1.connection.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
    faulty.down = False
    status = run(host.drain())
    assert (status["pending"], status["attempts"], status["last_error"]) == (0, 0, None)
    assert status["next_attempt_at"] is None
    assert status["delivered"] == 1
    assert_d1_equals_the_dos(fleet, d1)


@pytest.mark.parametrize("attempts", [1, 2, 5, 10, 30])
def test_backoff_is_bounded_and_jittered(attempts: int) -> None:
    low, high = backoff_ms(attempts, 0.0), backoff_ms(attempts, 1.0)
    assert 0 < low < high <= 5 * 60_000
    assert low * 2 == high


def test_one_drain_stays_within_the_invocation_budget(d1: D1Set, clock: Clock) -> None:
    routed = d1.route(lambda port: FaultyMirror(Recorder(port), random.Random(0), 0))
    faulty = routed.of("t")
    fleet = Fleet(routed.router, clock)
    key = SessionKey("t", "s")
    run(fleet.call(key, "create_session", {}))
    faulty.down = True
    for start in range(0, 8_000, 500):
        run(fleet.call(key, "append", [entry(i) for i in range(start, start + 500)], None))
    faulty.down = False
    recorder = faulty.inner
    assert isinstance(recorder, Recorder)
    status = run(fleet.host(key).drain())
    sent = sum(len(b) for b in recorder.batches)
    assert STATEMENTS_PER_DRAIN - 60 <= sent <= STATEMENTS_PER_DRAIN + 50
    assert status["pending"] > 0, "the rest waits for the next alarm"
    run(fleet.drain_until_quiet())
    assert_d1_equals_the_dos(fleet, d1)


def test_parity_finds_differences_and_resync_repairs_them(d1: D1Set, clock: Clock) -> None:
    fleet = Fleet(d1.router, clock)
    key = SessionKey("t", "s")
    run(fleet.call(key, "create_session", {"title": "T"}))
    for start in range(0, 1200, 400):
        run(fleet.call(key, "append", [entry(i) for i in range(start, start + 400)], None))
    report = run(fleet.call(key, "verify_mirror"))
    assert report["equal"] is True
    conn = d1.of("t").sql.connection
    conn.execute("DELETE FROM session_entries WHERE seq IN (5, 700)")
    conn.execute("UPDATE session_entries SET content = 'tampered' WHERE seq = 1100")
    conn.execute(
        "INSERT INTO session_entries (tenant_id, session_id, seq, id, type, created_at) "
        "VALUES ('t', 's', 5000, 'ghost', 'message', 0)"
    )
    conn.execute("UPDATE sessions SET title = 'wrong'")
    report = run(fleet.call(key, "verify_mirror"))
    assert report["equal"] is False
    assert report["session_equal"] is False
    assert report["counts"] == {"missing": 2, "extra": 1, "different": 1}
    assert report["entries"] == {"missing": [5, 700], "extra": [5000], "different": [1100]}
    run(fleet.call(key, "resync_mirror"))
    run(fleet.drain_until_quiet())
    assert run(fleet.call(key, "verify_mirror"))["equal"] is True
    assert_d1_equals_the_dos(fleet, d1)


def test_resync_of_a_deleted_session_purges_leftovers(d1: D1Set, clock: Clock) -> None:
    fleet = Fleet(d1.router, clock)
    key = SessionKey("t", "gone")
    run(fleet.call(key, "create_session", {}))
    run(fleet.call(key, "append", [entry(1)], None))
    run(fleet.call(key, "delete_session"))
    d1.of("t").sql.connection.execute(
        "INSERT INTO session_entries (tenant_id, session_id, seq, id, type, created_at) "
        "VALUES ('t', 'gone', 9, 'stray', 'message', 0)"
    )
    assert run(fleet.call(key, "resync_mirror"))["exists"] is False
    run(fleet.drain_until_quiet())
    assert d1.connection.execute("SELECT count(*) FROM session_entries").fetchone() == (0,)


async def nothing() -> None:
    return None


class Gate:
    """A mirror port whose batches wait at a gate until the test opens it."""

    def __init__(self, inner: MirrorPort) -> None:
        self.inner = inner
        self.waiting = asyncio.Event()
        self.open = asyncio.Event()

    async def apply(self, statements: Sequence[Statement]) -> None:
        self.waiting.set()
        await self.open.wait()
        await self.inner.apply(statements)

    async def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Any]:
        return await self.inner.query(sql, params)


def test_two_drains_of_one_store_lose_no_work(tmp_path: Any, clock: Clock) -> None:
    """Two servers on one data directory lost D1 rows: drain A sent a batch slowly while drain
    B sent and acknowledged the same one; the outbox emptied, the next write reused an id, and
    A's acknowledgement ("id <= n") deleted that write's work before anyone sent it."""
    d1, key = SqliteMirror(tmp_path / "d1.sqlite"), SessionKey("t", "s")
    gate = Gate(d1)

    def host(mirror: MirrorPort) -> SessionHost:
        return SessionHost(SqliteSql(connect(tmp_path / "s.sqlite")), mirror, nothing, clock)

    async def scenario() -> None:
        slow, quick = host(gate), host(d1)
        quick.engine.create_session(key, {})
        quick.engine.append(key, [entry(1)])
        sending = asyncio.create_task(slow.drain())
        await gate.waiting.wait()
        assert (await quick.drain())["pending"] == 0
        quick.engine.append(key, [entry(2)])  # work nobody has sent yet
        gate.open.set()
        await sending
        await quick.drain()
        report = await quick.call("verify_mirror", key, ())
        assert report["equal"], report

    run(scenario())


@pytest.mark.parametrize("delay_ms", [0, 300])
def test_a_drain_delay_turns_a_burst_into_one_batch(tmp_path: Path, delay_ms: int) -> None:
    """Local mode, by the rule the Durable Object follows too (mirror/timing.py): at once,
    each write is a batch of its own; with a delay, the burst waits for the alarm, then is
    one batch."""
    d1 = SqliteMirror(tmp_path / "d1.sqlite")
    recorder = Recorder(d1)
    store = LocalStore(tmp_path / "data", recorder, timing=DrainTiming(delay_ms))
    key = SessionKey("t", "burst")

    async def scenario() -> None:
        await store.transport(key, "create_session", ({},))
        for i in range(3):
            await store.settle()  # writes arrive one after the other, not in one loop turn
            await store.transport(key, "append", ([entry(i)], None))
        await store.settle()
        if delay_ms:
            assert recorder.batches == [], "nothing leaves before the window ends"
            await asyncio.sleep(delay_ms / 1000)
        await store.run_due_alarms()
        await store.settle()
        assert (await store.transport(key, "verify_mirror", ()))["equal"]
        status = await store.transport(key, "mirror_status", ())
        sent = (len(recorder.batches), sum(map(len, recorder.batches)))
        assert (status["batches"], status["statements"]) == sent, "the drain counts what it sent"

    run(scenario())
    store.close()
    assert len(recorder.batches) == (1 if delay_ms else 4)


@pytest.mark.parametrize("bad", ["soon", "-1", "1.5", True, "60001"])
def test_a_bad_drain_delay_names_the_setting(bad: Any) -> None:
    with pytest.raises(ValueError, match="MIRROR_DRAIN_DELAY_MS"):
        DrainTiming.from_setting(bad)
    assert DrainTiming.from_setting("") == DrainTiming.from_setting(None) == DrainTiming(0)
    assert DrainTiming.from_setting(" 250 ").delay_ms == 250


def test_settings_that_place_no_tenant_keep_the_work_and_say_why(clock: Clock) -> None:
    """What a Durable Object runs with unusable shard settings (worker/session_object.py):
    writes land, the drain fails with the settings' problem and backs off, nothing is lost;
    once a deploy fixes them, the same outbox drains."""
    fleet = Fleet(Unroutable("D1_SHARDS names ['DB_9'], which is not bound"), clock)
    key = SessionKey("t", "s")
    run(fleet.call(key, "create_session", {}))
    status = run(fleet.host(key).drain())
    assert status["pending"] == 1
    assert status["last_error"] == "Misconfigured: D1_SHARDS names ['DB_9'], which is not bound"
    assert status["next_attempt_at"] > clock.now
    fleet.mirror = SqliteMirror(":memory:")  # the deploy: the same store, usable settings
    fleet.hosts.clear()
    fixed = SessionHost(SqliteSql(fleet.raw[key], DURABLE_OBJECT), fleet.mirror, nothing, clock)
    assert run(fixed.drain())["pending"] == 0
    assert run(fixed.call("verify_mirror", key, ()))["equal"]


def test_a_batch_sent_to_both_databases_of_a_moving_tenant_counts_twice(clock: Clock) -> None:
    """The mirror status's `batches` and `statements` count what D1 received: while a tenant
    moves, each batch goes to both of its databases."""
    old, new = Recorder(SqliteMirror(":memory:")), Recorder(SqliteMirror(":memory:"))
    shards = ShardMap.from_settings('["DB", "DB_1"]', '{"t": {"from": "DB", "to": "DB_1"}}')
    router = Shards(shards, {"DB": old, "DB_1": new})
    host = SessionHost(SqliteSql(connect(":memory:"), DURABLE_OBJECT), router, nothing, clock)
    key = SessionKey("t", "moving")
    run(host.call("create_session", key, ({},)))
    run(host.call("append", key, ([entry(1), entry(2)], None)))
    status = run(host.drain())
    assert old.batches == new.batches, "each database got the same batches"
    sent = [len(b) for b in old.batches + new.batches]
    assert (status["batches"], status["statements"]) == (len(sent), sum(sent))
    assert status["batches"] == 2 * len(old.batches)
