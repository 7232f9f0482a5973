"""Sessions: create, get, update, delete; status transitions; tenants apart."""

from __future__ import annotations

from typing import Any

import pytest

from agent_sessions.engine import AlreadyExists, InvalidInput, NotFound, VersionConflict

from .paths import Capability, Path, messages, requires


def test_create_then_get(path: Path, sid: str) -> None:
    made = path.create_session(sid, {"user_id": "u1", "title": "T", "metadata": {"a": 1}})
    got = path.get_session(sid)
    assert made == got
    assert got["id"] == sid
    assert got["user_id"] == "u1"
    assert got["metadata"] == {"a": 1}
    assert got["status"] == "active"
    assert got["version"] == 1
    assert got["created_at"] == got["updated_at"]
    assert (got["entry_count"], got["message_count"], got["last_seq"]) == (0, 0, 0)


def test_create_existing_is_a_conflict(path: Path, sid: str) -> None:
    path.create_session(sid, {"title": "first"})
    with pytest.raises(AlreadyExists):
        path.create_session(sid, {"title": "second"})
    assert path.get_session(sid)["title"] == "first"


def test_unknown_session_is_not_found_everywhere(path: Path, sid: str) -> None:
    for call in (
        lambda: path.get_session(sid),
        lambda: path.load_data(sid),
        lambda: path.save_data(sid, {}),
        lambda: path.append(sid, messages(1)),
        lambda: path.read_entries(sid),
        lambda: path.update_session(sid, {"title": "x"}),
        lambda: path.delete_session(sid),
    ):
        with pytest.raises(NotFound):
            call()


def test_tenants_do_not_meet(path: Path, sid: str) -> None:
    other = path.elsewhere()
    path.create_session(sid, {"title": "of a"})
    with pytest.raises(NotFound):
        other.get_session(sid)
    other.create_session(sid, {"title": "of b"})
    assert path.get_session(sid)["title"] == "of a"
    assert other.get_session(sid)["title"] == "of b"


def test_delete_then_recreate_starts_above(path: Path, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, messages(3))
    deleted = path.delete_session(sid)
    assert deleted == {"id": sid, "deleted": True, "version": 3}
    with pytest.raises(NotFound):
        path.get_session(sid)
    with pytest.raises(NotFound):
        path.delete_session(sid)
    again = path.create_session(sid)
    assert again["version"] == 4, "a re-created session must not reuse the deleted versions"
    assert path.read_entries(sid)["entries"] == []


@requires(Capability.TABLES)
def test_delete_leaves_no_entry_rows(path: Any, sid: str) -> None:
    path.create_session(sid)
    path.append(sid, messages(3))
    path.delete_session(sid)
    raw = path.backend.raw
    assert raw.execute("SELECT count(*) FROM session_entries").fetchone() == (0,)


@requires(Capability.CLOCK)
def test_times_come_from_the_store_clock(path: Any, sid: str) -> None:
    clock = path.clock
    made = path.create_session(sid)
    assert made["created_at"] == made["updated_at"] == clock.now
    clock.now += 7
    assert path.update_session(sid, {"title": "b"})["updated_at"] == clock.now
    clock.now += 10
    saved = path.save_data(sid, {"x": 1})
    assert saved == {"id": sid, "data": {"x": 1}, "updated_at": clock.now, "version": 3}
    clock.now += 5
    path.append(sid, messages(1))
    assert path.get_session(sid)["updated_at"] == clock.now


@requires(Capability.CLOCK)
def test_updated_at_never_goes_backwards(path: Any, sid: str) -> None:
    path.create_session(sid)
    path.clock.now -= 1000
    path.append(sid, messages(1))
    session = path.get_session(sid)
    assert session["updated_at"] == session["created_at"]


class TestUpdate:
    def test_fields_and_metadata_change_and_version_moves(self, path: Path, sid: str) -> None:
        path.create_session(sid, {"title": "a", "metadata": {"x": 1}, "user_id": "u"})
        updated = path.update_session(sid, {"title": "b", "metadata": {"y": 2}})
        assert (updated["title"], updated["metadata"], updated["user_id"]) == ("b", {"y": 2}, "u")
        assert updated["version"] == 2
        assert path.get_session(sid) == updated
        untouched = path.update_session(sid, {"title": "c", "status": "completed"})
        assert (untouched["title"], untouched["status"]) == ("c", "completed")
        assert untouched["metadata"] == {"y": 2}, "fields not given keep their values"
        assert path.update_session(sid, {"title": None})["title"] is None, "None clears"

    @pytest.mark.parametrize(
        ("steps", "allowed"),
        [
            (["completed"], True),
            (["abandoned", "active", "completed", "active"], True),
            (["archived"], False),
            (["completed", "abandoned"], False),
            (["paused"], False),
        ],
    )
    def test_status_transitions(
        self, path: Path, sid: str, steps: list[str], allowed: bool
    ) -> None:
        path.create_session(sid)
        *before_last, last = steps
        for status in before_last:
            path.update_session(sid, {"status": status})
        if allowed:
            assert path.update_session(sid, {"status": last})["status"] == last
            return
        before = path.state(sid)
        with pytest.raises(InvalidInput):
            path.update_session(sid, {"status": last})
        assert path.state(sid) == before

    def test_bad_updates_write_nothing(self, path: Path, sid: str) -> None:
        path.create_session(sid)
        before = path.state(sid)
        for changes in ({}, {"data": 1}, {"id": "x"}, {"metadata": [1]}, {"title": 5}):
            with pytest.raises(InvalidInput):
                path.update_session(sid, changes)
            assert path.state(sid) == before, changes

    def test_expected_version(self, path: Path, sid: str) -> None:
        path.create_session(sid)
        with pytest.raises(VersionConflict):
            path.update_session(sid, {"title": "t"}, expected_version=2)
        assert path.update_session(sid, {"title": "t"}, expected_version=1)["version"] == 2


class TestStatusChangedAt:
    def test_it_moves_only_when_the_status_does(self, path: Path, sid: str) -> None:
        made = path.create_session(sid)
        assert made["status_changed_at"] == made["created_at"]
        renamed = path.update_session(sid, {"title": "t"})
        assert renamed["status_changed_at"] == made["created_at"]
        done = path.update_session(sid, {"status": "completed"})
        assert done["status_changed_at"] == done["updated_at"]
        path.append(sid, messages(1))
        assert path.get_session(sid)["status_changed_at"] == done["updated_at"]

    @requires(Capability.CLOCK)
    def test_it_is_the_time_of_the_change(self, path: Any, sid: str) -> None:
        clock = path.clock
        made = path.create_session(sid)
        assert made["status_changed_at"] == made["created_at"] == clock.now
        clock.now += 10
        assert path.update_session(sid, {"title": "t"})["status_changed_at"] == made["created_at"]
        clock.now += 10
        done = path.update_session(sid, {"status": "completed"})
        assert done["status_changed_at"] == done["updated_at"] == clock.now
        clock.now += 10
        path.append(sid, messages(1))
        assert path.get_session(sid)["status_changed_at"] == done["updated_at"]
