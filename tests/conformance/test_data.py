"""The opaque data blob (Flue's single-blob layout): save, load, clear, versions, limits."""

from __future__ import annotations

from typing import Any

import pytest

from agent_sessions.engine import InvalidInput, TooLarge, VersionConflict
from agent_sessions.engine.limits import MAX_DATA_BYTES

from .paths import Capability, Path, requires


def test_save_and_load_round_trip(path: Path, sid: str) -> None:
    path.create_session(sid)
    blob = {
        "messages": [{"role": "user", "content": "hi ✓"}],
        "n": 1.5,
        "big": 2**40,
        "nested": {"list": [1, 2.5, None]},
    }
    saved = path.save_data(sid, blob)
    assert saved == {"id": sid, "data": blob, "updated_at": saved["updated_at"], "version": 2}
    assert saved["updated_at"] >= path.get_session(sid)["created_at"]
    assert path.load_data(sid) == saved


def test_data_given_at_create(path: Path, sid: str) -> None:
    path.create_session(sid, {"data": [1, "two"]})
    assert path.load_data(sid)["data"] == [1, "two"]


def test_null_clears(path: Path, sid: str) -> None:
    path.create_session(sid, {"data": {"x": 1}})
    path.save_data(sid, None)
    assert path.load_data(sid)["data"] is None


def test_expected_version_mismatch_writes_nothing(path: Path, sid: str) -> None:
    path.create_session(sid)
    before = path.state(sid)
    with pytest.raises(VersionConflict) as info:
        path.save_data(sid, {"x": 1}, expected_version=7)
    assert info.value.details == {"current_version": 1, "expected_version": 7}
    assert path.state(sid) == before
    assert path.save_data(sid, {"x": 1}, expected_version=1)["version"] == 2


def test_data_over_the_limit_writes_nothing(path: Path, sid: str) -> None:
    path.create_session(sid)
    before = path.state(sid)
    with pytest.raises(TooLarge):
        path.save_data(sid, "x" * MAX_DATA_BYTES)
    assert path.state(sid) == before


@requires(Capability.NATIVE_VALUES)
@pytest.mark.parametrize("data", [{1, 2}, float("nan")], ids=["set", "nan"])
def test_data_json_cannot_carry_writes_nothing(path: Path, sid: str, data: Any) -> None:
    path.create_session(sid)
    before = path.state(sid)
    with pytest.raises(InvalidInput):
        path.save_data(sid, data)
    assert path.state(sid) == before
