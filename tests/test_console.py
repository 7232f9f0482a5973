"""The sessions console in a real browser (Debian's Chromium, driven by playwright-core)
against the local server with seeded sessions: list, filter, open a transcript, search, and
change a status. Screenshots of each view land in test-artifacts/console/ for review."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator

import pytest

from agent_sessions.client import Client

from .conftest import ROOT, run_tool
from .servers import Server
from .shards import misplaced, union

TOKEN = "console-token-0123456789"
SHOTS = ROOT / "test-artifacts" / "console"


@pytest.fixture(scope="module", params=["one-shard", "own-shard"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The console's server, with one mirror database, or with tenant "acme" on a database of
    its own (`DB_1`, tests/shards.py): the list and the search read it there."""
    env = {**os.environ, "AGENT_SESSIONS_TOKENS": f"{TOKEN}=acme"}
    running = Server(tmp_path_factory.mktemp("console") / "data", env=env, sharding=request.param)
    client = Client(running.base, TOKEN)
    client.create_session("refund-42", user_id="ada", agent_name="support", title="Refund")
    client.append("refund-42", [
        {"type": "message", "role": "user", "content": "I want a refund for order 42",
         "input_tokens": 12},
        {"type": "tool_call", "content": "lookup_order", "payload": {"order": 42}},
        {"type": "tool_result", "content": "order 42: shipped", "payload": {"status": "shipped"}},
        {"type": "message", "role": "assistant", "content": "Your refund is on its way.",
         "output_tokens": 9},
        {"type": "compaction", "content": "User asked for a refund; it was issued.",
         "payload": {"first_kept_seq": 3}},
    ])  # fmt: skip
    client.create_session("chat-1", user_id="ada", agent_name="support")
    client.append("chat-1", [{"type": "message", "role": "user", "content": "hello there"}])
    client.create_session("billing-7", user_id="bob", agent_name="billing")
    client.append("billing-7", [{"type": "message", "role": "user", "content": "my invoice"}])
    deadline = time.monotonic() + 15
    while len(client.list_sessions().sessions) < 3:  # the list reads the mirror
        assert time.monotonic() < deadline, "the mirror did not deliver the seeded sessions"
        time.sleep(0.1)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def seen(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict:
    if shutil.which(os.environ.get("CHROMIUM", "chromium")) is None:
        pytest.fail("Chromium is missing: scripts/test installs Debian's chromium package")
    shots = tmp_path_factory.mktemp("shots")
    output = run_tool(["node", "tests/browser/console.mjs", server.base, TOKEN, str(shots)])
    SHOTS.mkdir(parents=True, exist_ok=True)
    for shot in shots.glob("*.png"):
        shutil.copy(shot, SHOTS / shot.name)
    return json.loads(output.strip().splitlines()[-1])


def test_the_list_shows_every_session_and_filters_by_user(seen: dict) -> None:
    assert seen["listed"] == ["billing-7", "chat-1", "refund-42"]
    assert seen["filtered"] == ["chat-1", "refund-42"]


def test_the_transcript_folds_tools_and_marks_the_compaction(seen: dict) -> None:
    items = seen["transcript"]
    assert [i["meta"].split()[1] for i in items] == [
        "message", "tool_call", "tool_result", "message", "compaction",
    ]  # fmt: skip
    assert [i["folded"] for i in items[1:3]] == [True, True], "tool calls start folded"
    assert items[4]["compaction"]
    assert "Compaction summary" in items[4]["text"]
    assert "tokens 12/0" in items[0]["meta"]
    assert "tokens in 12 / out 9" in seen["counters"]
    assert "mirror:" in seen["counters"]


def test_search_finds_what_a_like_scan_finds_and_opens_it(seen: dict, server: Server) -> None:
    assert not misplaced(server.data_dir, server.shards)
    d1 = union(server.data_dir, server.shards)
    try:
        rows = d1.execute(
            "SELECT session_id, seq FROM session_entries WHERE tenant_id = 'acme' "
            "AND lower(content) LIKE '%refund%'"
        ).fetchall()
    finally:
        d1.close()
    assert sorted(seen["hits"]) == sorted(f"{s} #{q}" for s, q in rows)
    assert len(rows) == 3
    assert seen["openedFromSearch"].startswith("refund-42")


def test_a_status_change_from_the_console_reaches_the_session(seen: dict, server: Server) -> None:
    assert seen["statusAfter"] == "completed"
    assert Client(server.base, TOKEN).get_session("refund-42").status == "completed"


def test_every_view_was_saved_as_a_screenshot(seen: dict) -> None:
    for name in ("list", "session", "search", "status"):
        assert (SHOTS / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
