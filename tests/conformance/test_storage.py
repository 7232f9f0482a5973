"""The rows themselves, where the tables are visible (the engine on each SQL adapter): every
column holds its declared type, the adapters' value rules are the runtime's, and a crash at
any statement of any write leaves every table as it was."""

from __future__ import annotations

from typing import Any

import pytest

from agent_sessions.engine import SessionEngine, SessionKey

from .paths import Capability, EnginePath, messages, requires


@requires(Capability.TABLES)
def test_every_column_holds_its_declared_type(path: Any, sid: str) -> None:
    """The bytes on disk: what D1 and other readers will see. A number bound into a TEXT
    column (the runtime's REAL) would show here as 'real' or as text like '42.0'."""
    raw = path.backend.raw
    path.create_session(sid, {"user_id": "7", "metadata": {"n": 1}, "expires_at": 2**52})
    path.save_data(sid, {"x": 1})
    path.append(sid, [{"type": "message", "id": "12", "content": "3", "input_tokens": 5}])
    for table in ("sessions", "session_entries", "mirror_outbox"):
        declared = {r[1]: r[2] for r in raw.execute(f"PRAGMA table_info({table})")}
        for column, kind in declared.items():
            stored = raw.execute(f"SELECT DISTINCT typeof({column}) FROM {table}")
            assert {t for (t,) in stored} <= {kind.lower(), "null"}, (table, column)
    row = raw.execute("SELECT id, seq, content FROM session_entries").fetchone()
    assert row == ("12", 1, "3")
    assert path.get_session(sid)["expires_at"] == 2**52


@requires(Capability.TABLES)
def test_runtime_rules_reproduce_the_text_column_corruption(path: Any) -> None:
    """The harness itself: binding an int where text is meant must go wrong the way it goes
    wrong in workerd ('42.0'), and an int where a bool was meant must be refused."""
    backend = path.backend
    backend.sql.execute("INSERT INTO store_meta (key, value) VALUES (?, ?)", ("k", 42))
    stored = backend.raw.execute("SELECT value FROM store_meta WHERE key = 'k'").fetchone()
    assert stored == (("42",) if backend.name == "sqlite" else ("42.0",))
    flag = (
        "INSERT INTO mirror_outbox (tenant_id, session_id, op, version, created_at) "
        "VALUES (?, ?, ?, ?, ?)"
    )
    if backend.name == "sqlite":
        backend.sql.execute(flag, ("t", "s", "op", True, 1))
    else:
        with pytest.raises(Exception, match="cannot store TEXT value in INTEGER column"):
            backend.sql.execute(flag, ("t", "s", "op", True, 1))


class Crash(Exception):
    pass


class CrashingSql:
    """Passes statements through, and raises at statement number `at` (1-based)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.count = 0
        self.at = 0

    def execute(self, sql: str, params: Any = ()) -> Any:
        self.count += 1
        if self.count == self.at:
            raise Crash(f"injected at statement {self.at}: {sql[:40]}")
        return self.inner.execute(sql, params)

    def transaction(self, fn: Any) -> Any:
        return self.inner.transaction(fn)


WRITES = {
    "create": lambda e, k: e.create_session(k, {"title": "t", "data": {"d": 1}}),
    "update": lambda e, k: e.update_session(k, {"title": "u", "status": "completed"}),
    "save_data": lambda e, k: e.save_data(k, {"x": [1, 2]}),
    "append": lambda e, k: e.append(k, [{"type": "message", "content": str(i)} for i in range(20)]),
    "append_with_parent": lambda e, k: e.append(k, [{"type": "message", "parent_id": "root"}]),
    "delete": lambda e, k: e.delete_session(k),
    "resync": lambda e, k: e.resync_mirror(k),
    "claim_writer": lambda e, k: e.claim_writer(k, "w"),
    "adopt": lambda e, k: e.adopt_entries(
        SessionKey(k.tenant_id, "child"),
        {"parent_id": k.session_id, "forked_from_seq": 9, "title": "c"},
        [{"type": "message", "id": f"x{i}", "seq": i, "parent_id": None} for i in range(1, 10)],
    ),
    "set_leaf": lambda e, k: e.set_leaf(k, "root"),
    "prune": lambda e, k: e.prune(k, 3),
    "replace": lambda e, k: e.replace_history(k, 4, [{"type": "message", "id": "r1"}]),
    "compaction": lambda e, k: e.append(
        k, [{"type": "compaction", "payload": {"first_kept_seq": 5}}]
    ),
    "expire": lambda e, k: e.sweep(),
    "import": lambda e, k: e.import_session(
        SessionKey(k.tenant_id, "imported"), {"title": "i"}, [{"type": "message"}] * 12
    ),
}


@requires(Capability.CRASH, Capability.TABLES)
@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_crash_at_any_statement_leaves_the_store_as_it_was(
    path: EnginePath, sid: str, write: str
) -> None:
    """An exception injected at each SQL statement of a write path in turn, until the write
    gets through: every crash must leave every table exactly as it was."""
    crashing = CrashingSql(path.backend.sql)
    engine = SessionEngine(crashing, path.clock)
    key = SessionKey(path.tenant, sid)
    if write != "create":
        engine.create_session(key, {"metadata": {"m": 1}, "expires_at": path.clock.now})
        engine.append(key, [{"type": "message", "id": "root"}, *messages(9)])
    before = path.snapshot()
    for at in range(1, 100):
        crashing.count, crashing.at = 0, at
        try:
            WRITES[write](engine, key)
        except Crash:
            assert path.snapshot() == before, f"{write}: a crash at statement {at} left a trace"
            continue
        break
    assert at > 2, f"{write} ran only {at - 1} statements: the injection did not reach it"
    assert path.snapshot() != before, "the write finally went through"
