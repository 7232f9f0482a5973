"""Configuration values as the Worker's vars and the local server's flags give them."""

from __future__ import annotations

from typing import Any

import pytest

from agent_sessions.engine.lifecycle import Lifecycle


@pytest.mark.parametrize(
    ("ttl", "idle", "wanted"),
    [
        (None, "", Lifecycle()),
        ("3600", 60, Lifecycle(3_600_000, 60_000)),
        (1.0, None, Lifecycle(1_000)),
    ],
)
def test_settings_parse(ttl: Any, idle: Any, wanted: Lifecycle) -> None:
    assert Lifecycle.from_settings(ttl, idle) == wanted


@pytest.mark.parametrize("bad", ["soon", "0", "-5", "1.5", "1e12", True])
def test_bad_settings_name_the_setting(bad: Any) -> None:
    with pytest.raises(ValueError, match="IDLE_TIMEOUT_SECONDS"):
        Lifecycle.from_settings(None, bad)


def test_the_archive_setting_parses_and_names_itself() -> None:
    assert Lifecycle.from_settings(None, None, "86400").archive_after_ms == 86_400_000
    with pytest.raises(ValueError, match="ARCHIVE_AFTER_SECONDS"):
        Lifecycle.from_settings(None, None, "a day")
