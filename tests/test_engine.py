"""The engine's conformance suite, run on every SqlPort backend (see conftest.BACKENDS)."""

from __future__ import annotations

from typing import Any

import pytest

from agent_sessions.engine import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    SessionEngine,
    SessionKey,
    TooLarge,
    VersionConflict,
    statements,
)
from agent_sessions.engine.errors import DuplicateEntry, Fenced
from agent_sessions.engine.lifecycle import Lifecycle
from agent_sessions.engine.limits import MAX_DATA_BYTES, MAX_ENTRIES_PER_APPEND, MAX_ENTRY_BYTES

from .conftest import Backend, Clock


def messages(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"type": "message", "role": "user", "content": f"hello {i}", "payload": {"i": i}}
        for i in range(start, start + n)
    ]


def snapshot(backend: Backend) -> list[Any]:
    """Every row of every table: what "nothing changed" is compared against."""
    tables = [
        r[0] for r in backend.raw.execute("SELECT name FROM sqlite_master WHERE type='table'")
    ]
    return [(t, backend.raw.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()) for t in tables]


class TestSessions:
    def test_create_then_get(self, engine: SessionEngine, key: SessionKey, clock: Clock) -> None:
        made = engine.create_session(key, {"user_id": "u1", "title": "T", "metadata": {"a": 1}})
        got = engine.get_session(key)
        assert made == got
        assert got["id"] == "sess-1"
        assert got["user_id"] == "u1"
        assert got["metadata"] == {"a": 1}
        assert got["status"] == "active"
        assert got["version"] == 1
        assert got["created_at"] == got["updated_at"] == clock.now
        assert (got["entry_count"], got["message_count"], got["last_seq"]) == (0, 0, 0)

    def test_create_existing_is_a_conflict(self, engine: SessionEngine, key: SessionKey) -> None:
        engine.create_session(key)
        with pytest.raises(AlreadyExists):
            engine.create_session(key)

    def test_unknown_session_is_not_found_everywhere(
        self, engine: SessionEngine, key: SessionKey
    ) -> None:
        for call in (
            lambda: engine.get_session(key),
            lambda: engine.load_data(key),
            lambda: engine.save_data(key, {}),
            lambda: engine.append(key, messages(1)),
            lambda: engine.read_entries(key),
            lambda: engine.delete_session(key),
        ):
            with pytest.raises(NotFound):
                call()

    def test_tenants_do_not_meet(self, engine: SessionEngine) -> None:
        engine.create_session(SessionKey("a", "same"), {"title": "of a"})
        with pytest.raises(NotFound):
            engine.get_session(SessionKey("b", "same"))
        engine.create_session(SessionKey("b", "same"), {"title": "of b"})
        assert engine.get_session(SessionKey("a", "same"))["title"] == "of a"

    def test_delete_removes_everything_and_recreate_starts_above(
        self, engine: SessionEngine, key: SessionKey, backend: Backend
    ) -> None:
        engine.create_session(key)
        engine.append(key, messages(3))
        deleted = engine.delete_session(key)
        assert deleted == {"id": "sess-1", "deleted": True, "version": 3}
        with pytest.raises(NotFound):
            engine.get_session(key)
        assert backend.raw.execute("SELECT count(*) FROM session_entries").fetchone() == (0,)
        again = engine.create_session(key)
        assert again["version"] == 4, "a re-created session must not reuse the deleted versions"
        assert engine.read_entries(key)["entries"] == []


class TestUpdate:
    def test_fields_and_metadata_change_and_version_moves(
        self, engine: SessionEngine, key: SessionKey, clock: Clock
    ) -> None:
        engine.create_session(key, {"title": "a", "metadata": {"x": 1}, "user_id": "u"})
        clock.now += 7
        updated = engine.update_session(key, {"title": "b", "metadata": {"y": 2}})
        assert (updated["title"], updated["metadata"], updated["user_id"]) == ("b", {"y": 2}, "u")
        assert (updated["version"], updated["updated_at"]) == (2, clock.now)
        assert engine.get_session(key) == updated
        untouched = engine.update_session(key, {"title": "c"})
        assert untouched["metadata"] == {"y": 2}, "fields not given keep their values"

    @pytest.mark.parametrize(
        ("path", "allowed"),
        [
            (["completed"], True),
            (["abandoned", "active", "completed", "active"], True),
            (["archived"], False),
            (["completed", "abandoned"], False),
            (["paused"], False),
        ],
    )
    def test_status_transitions(
        self,
        engine: SessionEngine,
        key: SessionKey,
        backend: Backend,
        path: list[str],
        allowed: bool,
    ) -> None:
        engine.create_session(key)
        *steps, last = path
        for status in steps:
            engine.update_session(key, {"status": status})
        if allowed:
            assert engine.update_session(key, {"status": last})["status"] == last
            return
        before = snapshot(backend)
        with pytest.raises(InvalidInput):
            engine.update_session(key, {"status": last})
        assert snapshot(backend) == before

    @pytest.mark.parametrize(
        "changes", [{}, {"data": 1}, {"id": "x"}, {"metadata": [1]}, {"title": 5}]
    )
    def test_bad_updates_write_nothing(
        self, engine: SessionEngine, key: SessionKey, backend: Backend, changes: dict[str, Any]
    ) -> None:
        engine.create_session(key)
        before = snapshot(backend)
        with pytest.raises(InvalidInput):
            engine.update_session(key, changes)
        assert snapshot(backend) == before

    def test_expected_version(self, engine: SessionEngine, key: SessionKey) -> None:
        engine.create_session(key)
        with pytest.raises(VersionConflict):
            engine.update_session(key, {"title": "t"}, expected_version=2)
        assert engine.update_session(key, {"title": "t"}, expected_version=1)["version"] == 2


class TestLifecycle:
    def test_status_changed_at_moves_only_when_the_status_does(
        self, engine: SessionEngine, key: SessionKey, clock: Clock
    ) -> None:
        made = engine.create_session(key)
        assert made["status_changed_at"] == made["created_at"] == clock.now
        clock.now += 10
        assert engine.update_session(key, {"title": "t"})["status_changed_at"] == made["created_at"]
        clock.now += 10
        done = engine.update_session(key, {"status": "completed"})
        assert done["status_changed_at"] == done["updated_at"] == clock.now
        clock.now += 10
        engine.append(key, messages(1))
        assert engine.get_session(key)["status_changed_at"] == done["updated_at"]

    def test_a_default_ttl_unless_the_session_says_otherwise(
        self, backend: Backend, clock: Clock
    ) -> None:
        engine = SessionEngine(backend.sql, clock, Lifecycle(ttl_ms=60_000))
        assert engine.create_session(SessionKey("t", "a"))["expires_at"] == clock.now + 60_000
        never = engine.create_session(SessionKey("t", "b"), {"expires_at": None})
        assert never["expires_at"] is None
        own = engine.create_session(SessionKey("t", "c"), {"expires_at": clock.now + 5})
        assert own["expires_at"] == clock.now + 5
        imported = engine.import_session(SessionKey("t", "d"), {"created_at": 1}, [])
        assert imported["expires_at"] == clock.now + 60_000, "from the import, not created_at"

    def test_sweep_expires_and_abandons_once(self, backend: Backend, clock: Clock) -> None:
        engine = SessionEngine(backend.sql, clock, Lifecycle(idle_timeout_ms=1_000))
        start = clock.now
        doomed, quiet, done = (SessionKey("t", s) for s in ("doomed", "quiet", "done"))
        engine.create_session(doomed, {"expires_at": start + 500})
        engine.append(doomed, messages(3))
        engine.create_session(quiet)
        engine.create_session(done)
        engine.update_session(done, {"status": "completed"})
        nothing = {"expired": [], "abandoned": []}
        assert engine.sweep() == nothing | {"next_due_at": start + 500}
        clock.now = start + 500
        assert engine.sweep() == {
            "expired": ["doomed"],
            "abandoned": [],
            "next_due_at": start + 1_000,
        }
        with pytest.raises(NotFound):
            engine.get_session(doomed)
        assert backend.raw.execute("SELECT count(*) FROM session_entries").fetchone() == (0,)
        tombstone = "SELECT op FROM mirror_outbox WHERE session_id = 'doomed' ORDER BY id DESC"
        assert backend.raw.execute(tombstone).fetchone() == ("delete_session",)
        clock.now = start + 1_000
        assert engine.sweep() == nothing | {"abandoned": ["quiet"], "next_due_at": None}
        abandoned = engine.get_session(quiet)
        assert (abandoned["status"], abandoned["status_changed_at"]) == ("abandoned", clock.now)
        assert engine.get_session(done)["status"] == "completed", "only active sessions go idle"
        before = snapshot(backend)
        clock.now += 10_000
        assert engine.sweep() == nothing | {"next_due_at": None}, "alarms are at-least-once"
        assert snapshot(backend) == before

    def test_activity_postpones_the_idle_deadline(
        self, backend: Backend, clock: Clock, key: SessionKey
    ) -> None:
        engine = SessionEngine(backend.sql, clock, Lifecycle(idle_timeout_ms=1_000))
        engine.create_session(key)
        clock.now += 900
        engine.append(key, messages(1))
        clock.now += 900
        assert engine.sweep() == {"expired": [], "abandoned": [], "next_due_at": clock.now + 100}
        assert engine.get_session(key)["status"] == "active"


class TestImport:
    def test_import_keeps_content_and_timestamps_and_recounts(
        self, engine: SessionEngine, key: SessionKey
    ) -> None:
        session = {"title": "T", "status": "completed", "created_at": 1000, "data": {"d": 1}}
        entries = [
            {"id": "a", "type": "message", "content": "q", "created_at": 1001, "input_tokens": 2},
            {"id": "b", "type": "tool_call", "parent_id": "a", "payload": {"n": 1}},
            {"id": "c", "type": "message", "parent_id": "a", "created_at": 1003},
        ]
        made = engine.import_session(key, session, entries)
        assert (made["title"], made["status"], made["created_at"]) == ("T", "completed", 1000)
        assert (made["entry_count"], made["message_count"], made["input_tokens"]) == (3, 2, 2)
        assert made["leaf_id"] == "c"
        read = engine.read_entries(key)["entries"]
        assert [(e["seq"], e["id"], e["parent_id"]) for e in read] == [
            (1, "a", None), (2, "b", "a"), (3, "c", "a"),
        ]  # fmt: skip
        assert (read[0]["created_at"], read[2]["created_at"]) == (1001, 1003)
        assert engine.load_data(key)["data"] == {"d": 1}

    @pytest.mark.parametrize(
        ("session", "entries"),
        [
            ({"status": "archived"}, []),
            ({"title": 1}, []),
            ({}, [{"type": "message", "parent_id": "later"}, {"type": "message", "id": "later"}]),
            ({}, [{"type": "message", "id": "x"}, {"type": "message", "id": "x"}]),
            ({}, [{"type": "message"}, {"role": "user"}]),
        ],
    )
    def test_bad_imports_write_nothing(
        self,
        engine: SessionEngine,
        key: SessionKey,
        backend: Backend,
        session: dict[str, Any],
        entries: list[dict[str, Any]],
    ) -> None:
        engine.create_session(SessionKey("acme", "other"))
        before = snapshot(backend)
        with pytest.raises(InvalidInput):
            engine.import_session(key, session, entries)
        assert snapshot(backend) == before

    def test_import_onto_an_existing_id_is_a_conflict(
        self, engine: SessionEngine, key: SessionKey
    ) -> None:
        engine.create_session(key)
        with pytest.raises(AlreadyExists):
            engine.import_session(key, {}, [{"type": "message"}])


class TestData:
    def test_save_and_load_round_trip(
        self, engine: SessionEngine, key: SessionKey, clock: Clock
    ) -> None:
        engine.create_session(key)
        blob = {"messages": [{"role": "user", "content": "hi ✓"}], "n": 1.5, "big": 2**40}
        clock.now += 10
        saved = engine.save_data(key, blob)
        assert saved == {"id": "sess-1", "data": blob, "updated_at": clock.now, "version": 2}
        assert engine.load_data(key) == saved

    def test_data_given_at_create(self, engine: SessionEngine, key: SessionKey) -> None:
        engine.create_session(key, {"data": [1, "two"]})
        assert engine.load_data(key)["data"] == [1, "two"]

    def test_null_clears(self, engine: SessionEngine, key: SessionKey) -> None:
        engine.create_session(key, {"data": {"x": 1}})
        engine.save_data(key, None)
        assert engine.load_data(key)["data"] is None

    def test_expected_version_mismatch_writes_nothing(
        self, engine: SessionEngine, key: SessionKey, backend: Backend
    ) -> None:
        engine.create_session(key)
        before = snapshot(backend)
        with pytest.raises(VersionConflict) as info:
            engine.save_data(key, {"x": 1}, expected_version=7)
        assert info.value.details == {"current_version": 1, "expected_version": 7}
        assert snapshot(backend) == before
        assert engine.save_data(key, {"x": 1}, expected_version=1)["version"] == 2

    @pytest.mark.parametrize(
        ("data", "error"),
        [({1, 2}, InvalidInput), (float("nan"), InvalidInput), ("x" * MAX_DATA_BYTES, TooLarge)],
    )
    def test_bad_data_writes_nothing(
        self, engine: SessionEngine, key: SessionKey, backend: Backend, data: Any, error: type
    ) -> None:
        engine.create_session(key)
        before = snapshot(backend)
        with pytest.raises(error):
            engine.save_data(key, data)
        assert snapshot(backend) == before


class TestAppend:
    def test_append_assigns_seqs_and_keeps_counters_exact(
        self, engine: SessionEngine, key: SessionKey, clock: Clock
    ) -> None:
        engine.create_session(key)
        clock.now += 5
        result = engine.append(
            key,
            [
                {"type": "message", "role": "user", "content": "q", "input_tokens": 7},
                {"type": "tool_call", "payload": {"name": "f"}, "id": "call-1"},
                {"type": "message", "role": "assistant", "content": "a", "output_tokens": 11},
            ],
        )
        assert [e["seq"] for e in result["entries"]] == [1, 2, 3]
        assert result["entries"][1]["id"] == "call-1"
        assert (result["first_seq"], result["last_seq"], result["version"]) == (1, 3, 2)
        session = engine.get_session(key)
        assert session["entry_count"] == 3
        assert session["message_count"] == 2
        assert session["last_seq"] == 3
        assert (session["input_tokens"], session["output_tokens"]) == (7, 11)
        assert session["version"] == 2
        assert session["updated_at"] == clock.now
        assert session["leaf_id"] == result["entries"][2]["id"]
        engine.append(key, messages(2))
        session = engine.get_session(key)
        assert (session["entry_count"], session["message_count"], session["last_seq"]) == (5, 4, 5)
        assert session["version"] == 3

    def test_entries_chain_to_the_leaf_unless_a_parent_is_given(
        self, engine: SessionEngine, key: SessionKey
    ) -> None:
        engine.create_session(key)
        engine.append(key, [{"type": "message", "id": "a"}, {"type": "message", "id": "b"}])
        engine.append(key, [{"type": "message", "id": "c", "parent_id": "a"}])
        parents = {e["id"]: e["parent_id"] for e in engine.read_entries(key)["entries"]}
        assert parents == {"a": None, "b": "a", "c": "a"}

    def test_updated_at_never_goes_backwards(
        self, engine: SessionEngine, key: SessionKey, clock: Clock
    ) -> None:
        engine.create_session(key)
        clock.now -= 1000
        engine.append(key, messages(1))
        session = engine.get_session(key)
        assert session["updated_at"] == session["created_at"]

    def test_append_writes_only_the_new_rows(
        self, engine: SessionEngine, key: SessionKey, backend: Backend
    ) -> None:
        """O(delta): the same statements and rows per turn at 10 and at 1,000 entries."""
        engine.create_session(key)

        def cost_of_a_turn() -> tuple[int, int]:
            statements = backend.sql.statements if hasattr(backend.sql, "statements") else 0
            changes = backend.raw.total_changes
            engine.append(key, messages(2))
            now = backend.sql.statements if hasattr(backend.sql, "statements") else 0
            return now - statements, backend.raw.total_changes - changes

        engine.append(key, messages(8))
        small = cost_of_a_turn()
        for start in range(0, 1000, 250):
            engine.append(key, messages(250, start))
        large = cost_of_a_turn()
        assert small == large
        assert large[1] == 4, "2 entries + the session row + 1 outbox row"

    @pytest.mark.parametrize(
        ("entries", "error"),
        [
            ([], InvalidInput),
            ("not a list", InvalidInput),
            ([{"role": "user"}], InvalidInput),
            ([{"type": "chat"}], InvalidInput),
            ([{"type": "message", "colour": "red"}], InvalidInput),
            ([{"type": "message", "id": "x"}, {"type": "message", "id": "x"}], InvalidInput),
            ([{"type": "message", "id": "bad id"}], InvalidInput),
            ([{"type": "message", "parent_id": "nobody"}], InvalidInput),
            ([{"type": "message", "input_tokens": True}], InvalidInput),
            ([{"type": "message", "input_tokens": -1}], InvalidInput),
            ([{"type": "message", "output_tokens": 2**60}], InvalidInput),
            ([{"type": "message", "payload": {1, 2}}], InvalidInput),
            ([{"type": "message", "content": 5}], InvalidInput),
            ([{"type": "message", "content": "x" * (MAX_ENTRY_BYTES + 1)}], TooLarge),
            ([{"type": "message", "payload": "é" * (MAX_ENTRY_BYTES // 2)}], TooLarge),
            ([{"type": "message"}] * (MAX_ENTRIES_PER_APPEND + 1), TooLarge),
            ([*messages(1), {"type": "message", "parent_id": "missing"}], InvalidInput),
        ],
    )
    def test_bad_batches_write_nothing(
        self,
        engine: SessionEngine,
        key: SessionKey,
        backend: Backend,
        entries: Any,
        error: type,
    ) -> None:
        engine.create_session(key)
        engine.append(key, messages(2))
        before = snapshot(backend)
        with pytest.raises(error):
            engine.append(key, entries)
        assert snapshot(backend) == before

    def test_an_entry_at_the_size_limit_is_accepted(
        self, engine: SessionEngine, key: SessionKey
    ) -> None:
        engine.create_session(key)
        engine.append(key, [{"type": "message", "content": "x" * MAX_ENTRY_BYTES}])
        assert len(engine.read_entries(key)["entries"][0]["content"]) == MAX_ENTRY_BYTES

    def test_an_existing_id_is_a_conflict_and_writes_nothing(
        self, engine: SessionEngine, key: SessionKey, backend: Backend
    ) -> None:
        engine.create_session(key)
        engine.append(key, [{"type": "message", "id": "m1"}])
        before = snapshot(backend)
        with pytest.raises(DuplicateEntry) as info:
            engine.append(key, [{"type": "message", "id": "m2"}, {"type": "message", "id": "m1"}])
        assert info.value.details == {"ids": ["m1"], "different": [], "missing": ["m2"]}
        assert snapshot(backend) == before

    def test_resending_a_batch_returns_the_original_seqs_and_writes_nothing(
        self, engine: SessionEngine, key: SessionKey, backend: Backend
    ) -> None:
        engine.create_session(key)
        turn = [
            {"type": "message", "id": "q1", "role": "user", "content": "hi", "payload": {"a": 1}},
            {
                "type": "message",
                "id": "a1",
                "role": "assistant",
                "content": "yo",
                "output_tokens": 2,
            },
        ]
        first = engine.append(key, turn, expected_version=1)
        engine.append(key, [{"type": "message", "id": "later"}])
        before = snapshot(backend)
        again = engine.append(key, turn, expected_version=1)  # a retry after a lost answer
        assert snapshot(backend) == before
        assert again["entries"] == first["entries"]
        assert (again["first_seq"], again["last_seq"], again["replayed"]) == (1, 2, True)
        assert again["version"] == 3, "the current version, not the one the retry expected"

    @pytest.mark.parametrize(
        ("retry", "different"),
        [
            ([{"type": "message", "id": "q1", "content": "other"}], ["q1"]),
            ([{"type": "tool_call", "id": "q1", "content": "hi"}], ["q1"]),
            ([{"type": "message", "id": "q1", "content": "hi", "input_tokens": 1}], ["q1"]),
            (
                [{"type": "message", "id": "q1", "content": "hi"}, {"type": "message", "id": "n"}],
                [],
            ),
        ],
    )
    def test_same_id_with_other_content_is_a_conflict(
        self,
        engine: SessionEngine,
        key: SessionKey,
        backend: Backend,
        retry: list[dict[str, Any]],
        different: list[str],
    ) -> None:
        engine.create_session(key)
        engine.append(key, [{"type": "message", "id": "q1", "content": "hi"}])
        before = snapshot(backend)
        with pytest.raises(DuplicateEntry) as info:
            engine.append(key, retry)
        assert info.value.details["different"] == different
        assert snapshot(backend) == before

    def test_stale_expected_version_writes_nothing(
        self, engine: SessionEngine, key: SessionKey, backend: Backend
    ) -> None:
        engine.create_session(key)
        engine.append(key, messages(1), expected_version=1)
        before = snapshot(backend)
        with pytest.raises(VersionConflict):
            engine.append(key, messages(1), expected_version=1)
        assert snapshot(backend) == before


class TestRead:
    @pytest.fixture
    def filled(self, engine: SessionEngine, key: SessionKey) -> SessionEngine:
        engine.create_session(key)
        engine.append(key, messages(3))
        engine.append(key, [{"type": "tool_call", "payload": {"n": 1}}, *messages(2, 3)])
        engine.append(key, [{"type": "tool_result", "content": "42"}])
        return engine

    def test_everything_in_order(self, filled: SessionEngine, key: SessionKey) -> None:
        page = filled.read_entries(key)
        assert [e["seq"] for e in page["entries"]] == [1, 2, 3, 4, 5, 6, 7]
        assert page["has_more"] is False
        first = page["entries"][0]
        assert first["payload"] == {"i": 0}
        assert first["content"] == "hello 0"
        assert set(first) == {
            "seq", "id", "parent_id", "type", "role", "content", "payload",
            "input_tokens", "output_tokens", "created_at",
        }  # fmt: skip

    def test_after_seq_and_limit_page_forward(self, filled: SessionEngine, key: SessionKey) -> None:
        page = filled.read_entries(key, after_seq=2, limit=3)
        assert [e["seq"] for e in page["entries"]] == [3, 4, 5]
        assert page["has_more"] is True
        page = filled.read_entries(key, after_seq=5, limit=3)
        assert [e["seq"] for e in page["entries"]] == [6, 7]
        assert page["has_more"] is False

    def test_desc_gives_the_latest_first(self, filled: SessionEngine, key: SessionKey) -> None:
        page = filled.read_entries(key, limit=2, order="desc")
        assert [e["seq"] for e in page["entries"]] == [7, 6]
        page = filled.read_entries(key, before_seq=6, limit=10, order="desc")
        assert [e["seq"] for e in page["entries"]] == [5, 4, 3, 2, 1]

    def test_types_filter(self, filled: SessionEngine, key: SessionKey) -> None:
        page = filled.read_entries(key, types=["tool_call", "tool_result"])
        assert [(e["seq"], e["type"]) for e in page["entries"]] == [
            (4, "tool_call"),
            (7, "tool_result"),
        ]

    @pytest.mark.parametrize(
        "query",
        [
            {"limit": 0},
            {"limit": 10_000},
            {"after_seq": -1},
            {"after_seq": "3"},
            {"order": "sideways"},
            {"types": ["chat"]},
            {"types": "message"},
        ],
    )
    def test_bad_queries(
        self, filled: SessionEngine, key: SessionKey, query: dict[str, Any]
    ) -> None:
        with pytest.raises(InvalidInput):
            filled.read_entries(key, **query)


class TestBranchesAndCompaction:
    def test_rewind_moves_the_leaf_and_new_entries_branch_from_it(
        self, engine: SessionEngine, key: SessionKey
    ) -> None:
        engine.create_session(key)
        engine.append(key, [{"type": "message", "id": i} for i in ("q", "a1")])
        moved = engine.set_leaf(key, "q", expected_version=2)
        assert (moved["leaf_id"], moved["version"]) == ("q", 3)
        engine.append(key, [{"type": "message", "id": "a2"}])  # regenerate the answer
        context = engine.read_context(key)
        assert [e["id"] for e in context["entries"]] == ["q", "a2"]
        engine.set_leaf(key, "a1")
        assert [e["id"] for e in engine.read_context(key)["entries"]] == ["q", "a1"]
        assert [e["id"] for e in engine.read_entries(key)["entries"]] == ["q", "a1", "a2"]

    def test_set_leaf_refuses_an_unknown_entry(
        self, engine: SessionEngine, key: SessionKey, backend: Backend
    ) -> None:
        engine.create_session(key)
        engine.append(key, messages(1))
        before = snapshot(backend)
        for bad in ("nope", 5, "bad id"):
            with pytest.raises(InvalidInput):
                engine.set_leaf(key, bad)
        assert snapshot(backend) == before

    def test_context_after_compaction_is_the_summary_plus_the_kept_entries(
        self, engine: SessionEngine, key: SessionKey
    ) -> None:
        engine.create_session(key)
        engine.append(key, messages(100))
        summary = {"type": "compaction", "content": "so far: 90 greetings",
                   "payload": {"first_kept_seq": 91}}  # fmt: skip
        engine.append(key, [summary])
        engine.append(key, messages(2, 100))
        context = engine.read_context(key)
        assert context["entries"][0]["content"] == "so far: 90 greetings"
        assert context["compaction_seq"] == 101
        assert [e["seq"] for e in context["entries"][1:]] == [*range(91, 101), 102, 103]
        assert engine.get_session(key)["compacted_through_seq"] == 90
        assert len(engine.read_entries(key, limit=1000)["entries"]) == 103, "history stays"

    def test_a_compacted_load_does_not_grow_with_history(
        self, engine: SessionEngine, backend: Backend
    ) -> None:
        """The context walk stops at the compaction's floor: loading the same 10 kept entries
        costs the same after 200 or 2,000 entries of history (SQLite VM steps, counted)."""

        def load_cost(session_id: str, history: int) -> int:
            key = SessionKey("acme", session_id)
            engine.create_session(key)
            for start in range(0, history, 500):
                engine.append(key, messages(min(500, history - start), start))
            kept = {"type": "compaction", "payload": {"first_kept_seq": history - 9}}
            engine.append(key, [kept])
            params = (*key.params, engine.get_session(key)["leaf_id"], *key.params)
            steps = [0]

            def count() -> int:
                steps[0] += 1
                return 0

            backend.raw.set_progress_handler(count, 1)
            rows = backend.raw.execute(statements.SELECT_CONTEXT, params).fetchall()
            backend.raw.set_progress_handler(None, 1)
            assert len(rows) == 11
            return steps[0]

        if not hasattr(backend.raw, "set_progress_handler"):  # Pyodide: the plan must search
            key = SessionKey("acme", "p")
            engine.create_session(key)
            engine.append(key, messages(3))
            params = (*key.params, "x", *key.params)
            explain = "EXPLAIN QUERY PLAN " + statements.SELECT_CONTEXT
            plan = str(backend.raw.execute(explain, params).fetchall())
            assert "SEARCH e USING" in plan, plan
            return
        small, large = load_cost("small", 200), load_cost("large", 2000)
        assert large < small * 1.2, (small, large)

    @pytest.mark.parametrize(
        "payload",
        [None, {}, {"first_kept_seq": 0}, {"first_kept_seq": 99}, {"first_kept_seq": True}],
    )
    def test_a_compaction_needs_a_valid_first_kept_seq(
        self, engine: SessionEngine, key: SessionKey, backend: Backend, payload: Any
    ) -> None:
        engine.create_session(key)
        engine.append(key, messages(3))
        before = snapshot(backend)
        with pytest.raises(InvalidInput):
            engine.append(key, [{"type": "compaction", "payload": payload}])
        assert snapshot(backend) == before

    def test_replace_history_rewrites_the_tail_atomically(
        self, engine: SessionEngine, key: SessionKey, backend: Backend
    ) -> None:
        engine.create_session(key)
        engine.append(
            key, [{"type": "message", "id": f"m{i}", "input_tokens": 1} for i in range(1, 7)]
        )
        result = engine.replace_history(
            key, 4, [{"type": "message", "id": "m4", "content": "shorter"}, {"type": "tool_call"}]
        )
        assert (result["removed"], result["first_seq"], result["last_seq"]) == (3, 7, 8)
        stored = engine.read_entries(key)["entries"]
        assert [(e["seq"], e["id"]) for e in stored][:4] == [
            (1, "m1"),
            (2, "m2"),
            (3, "m3"),
            (7, "m4"),
        ]
        assert stored[3]["parent_id"] == "m3", "the new tail hangs off the entry before from_seq"
        session = engine.get_session(key)
        assert (session["entry_count"], session["message_count"], session["last_seq"]) == (5, 4, 8)
        assert session["input_tokens"] == 6, "usage that happened stays counted"
        assert [e["id"] for e in engine.read_context(key)["entries"]][:4] == [
            "m1",
            "m2",
            "m3",
            "m4",
        ]
        truncated = engine.replace_history(key, 8, [])
        assert truncated["removed"] == 1
        assert engine.get_session(key)["leaf_id"] == "m4"
        before = snapshot(backend)
        for bad in (0, 10):
            with pytest.raises(InvalidInput):
                engine.replace_history(key, bad, [])
        with pytest.raises(InvalidInput):
            engine.replace_history(key, 2, [{"role": "no type"}])
        with pytest.raises(DuplicateEntry):
            engine.replace_history(key, 3, [{"type": "message", "id": "m1"}])
        assert snapshot(backend) == before

    def test_an_id_freed_by_a_prune_and_taken_again_cannot_close_a_cycle(
        self, engine: SessionEngine, key: SessionKey
    ) -> None:
        """c's parent b is pruned; a new b (after c) would make the walk c -> b -> c forever:
        the walk only goes to earlier entries, so the branch ends at c."""
        engine.create_session(key)
        for entry_id in ("a", "b", "c"):
            engine.append(key, [{"type": "message", "id": entry_id}])
        engine.set_leaf(key, "c")
        engine.prune(key, 3)
        engine.append(key, [{"type": "message", "id": "b"}])  # hangs off c
        context = engine.read_context(key)["entries"]
        assert [(e["id"], e["seq"]) for e in context] == [("c", 3), ("b", 4)]

    def test_prune_removes_old_entries_and_keeps_counters_exact(
        self, engine: SessionEngine, key: SessionKey, backend: Backend
    ) -> None:
        engine.create_session(key)
        engine.append(key, [*messages(5), {"type": "tool_call"}, *messages(4, 5)])
        pruned = engine.prune(key, 7)
        assert (pruned["pruned"], pruned["version"]) == (6, 3)
        session = engine.get_session(key)
        assert (session["entry_count"], session["message_count"], session["last_seq"]) == (4, 4, 10)
        assert [e["seq"] for e in engine.read_entries(key)["entries"]] == [7, 8, 9, 10]
        ops = backend.raw.execute("SELECT op, seq_to FROM mirror_outbox ORDER BY id").fetchall()
        assert ops[-1] == ("delete_entries", 6)
        before = snapshot(backend)
        with pytest.raises(InvalidInput):
            engine.prune(key, 11)  # would remove the leaf (seq 10)
        assert snapshot(backend) == before


class TestFencedWriters:
    def test_a_claim_fences_earlier_writers(
        self, engine: SessionEngine, key: SessionKey, backend: Backend
    ) -> None:
        engine.create_session(key)
        engine.append(key, messages(2))
        a = engine.claim_writer(key, "proc-a")
        assert (a["epoch"], a["next_seq"], a["head_seq"]) == (1, 0, 2)
        turn = [{"type": "message", "content": "from a"}]
        first = engine.append(key, turn, writer={"writer_id": "proc-a", "epoch": 1, "seq": 0})
        again = engine.append(key, turn, writer={"writer_id": "proc-a", "epoch": 1, "seq": 0})
        assert again["entries"] == first["entries"], "an exact retry returns the original result"
        assert again["replayed"] is True
        b = engine.claim_writer(key, "proc-b")
        assert b["epoch"] == 2
        before = snapshot(backend)
        stale = {"writer_id": "proc-a", "epoch": 1, "seq": 1}
        with pytest.raises(Fenced) as info:
            engine.append(key, turn, writer=stale)
        assert info.value.details["reason"] == "stale_epoch"
        for seq in (1, 5):  # a gap, and a sequence that was never sent
            with pytest.raises(Fenced):
                engine.append(key, turn, writer={"writer_id": "proc-b", "epoch": 2, "seq": seq})
        assert snapshot(backend) == before
        engine.append(key, turn, writer={"writer_id": "proc-b", "epoch": 2, "seq": 0})
        with pytest.raises(Fenced) as conflict:  # the same sequence with another batch
            engine.append(key, messages(1), writer={"writer_id": "proc-b", "epoch": 2, "seq": 0})
        assert conflict.value.details["next_seq"] == 1
        assert engine.get_session(key)["entry_count"] == 4
        fence = engine.get_writer(key)
        assert (fence["writer_id"], fence["epoch"], fence["next_seq"]) == ("proc-b", 2, 1)
        assert fence["head_seq"] == 4

    def test_bad_writer_fields(self, engine: SessionEngine, key: SessionKey) -> None:
        engine.create_session(key)
        for bad in ({"writer_id": "w"}, {"writer_id": "w", "epoch": 1, "seq": -1}, {"x": 1}):
            with pytest.raises(InvalidInput):
                engine.append(key, messages(1), writer=bad)
        with pytest.raises(Fenced):  # never claimed
            engine.append(key, messages(1), writer={"writer_id": "w", "epoch": 1, "seq": 0})
        with pytest.raises(NotFound):
            engine.claim_writer(SessionKey("acme", "missing"), "w")


class TestAdopt:
    @pytest.mark.parametrize("seqs", [[2, 1], [1, 1], [0], [5, 11]])
    def test_copied_seqs_must_increase_up_to_the_fork_point(
        self, engine: SessionEngine, key: SessionKey, backend: Backend, seqs: list[int]
    ) -> None:
        before = snapshot(backend)
        origin = {"parent_id": "src", "forked_from_seq": 10}
        with pytest.raises(InvalidInput):
            engine.adopt_entries(key, origin, [{"type": "message", "seq": s} for s in seqs])
        assert snapshot(backend) == before

    def test_another_origin_under_the_same_id_is_a_conflict(
        self, engine: SessionEngine, key: SessionKey
    ) -> None:
        engine.adopt_entries(key, {"parent_id": "a", "forked_from_seq": 0}, [])
        assert (
            engine.adopt_entries(key, {"parent_id": "a", "forked_from_seq": 0}, [])["version"] == 1
        )
        with pytest.raises(AlreadyExists):
            engine.adopt_entries(key, {"parent_id": "b", "forked_from_seq": 0}, [])


class TestStoredValues:
    """The bytes on disk: what D1 and other readers will see. A number bound into a TEXT
    column (the runtime's REAL) would show here as 'real' or as text like '42.0'."""

    def test_every_column_holds_its_declared_type(
        self, engine: SessionEngine, key: SessionKey, backend: Backend
    ) -> None:
        engine.create_session(key, {"user_id": "7", "metadata": {"n": 1}, "expires_at": 2**52})
        engine.save_data(key, {"x": 1})
        engine.append(key, [{"type": "message", "id": "12", "content": "3", "input_tokens": 5}])
        for table in ("sessions", "session_entries", "mirror_outbox"):
            declared = {r[1]: r[2] for r in backend.raw.execute(f"PRAGMA table_info({table})")}
            for column, kind in declared.items():
                stored = backend.raw.execute(f"SELECT DISTINCT typeof({column}) FROM {table}")
                assert {t for (t,) in stored} <= {kind.lower(), "null"}, (table, column)
        row = backend.raw.execute("SELECT id, seq, content FROM session_entries").fetchone()
        assert row == ("12", 1, "3")
        assert engine.get_session(key)["expires_at"] == 2**52

    def test_runtime_rules_reproduce_the_text_column_corruption(self, backend: Backend) -> None:
        """The harness itself: binding an int where text is meant must go wrong the way it goes
        wrong in workerd ('42.0'), and an int where a bool was meant must be refused."""
        SessionEngine(backend.sql)
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


@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_crash_at_any_statement_leaves_the_store_as_it_was(
    backend: Backend, clock: Clock, key: SessionKey, write: str
) -> None:
    """An exception injected at each SQL statement of a write path in turn, until the write
    gets through: every crash must leave every table exactly as it was."""
    crashing = CrashingSql(backend.sql)
    engine = SessionEngine(crashing, clock)
    if write != "create":
        engine.create_session(key, {"metadata": {"m": 1}, "expires_at": clock.now})
        engine.append(key, [{"type": "message", "id": "root"}, *messages(9)])
    before = snapshot(backend)
    for at in range(1, 100):
        crashing.count, crashing.at = 0, at
        try:
            WRITES[write](engine, key)
        except Crash:
            assert snapshot(backend) == before, f"{write}: a crash at statement {at} left a trace"
            continue
        break
    assert at > 2, f"{write} ran only {at - 1} statements: the injection did not reach it"
    assert snapshot(backend) != before, "the write finally went through"
