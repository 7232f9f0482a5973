"""The D1 cookbook: every query runs on the mirror's schema, answers correctly, and uses an
index (a full table scan on D1 is billed per row read and slows with every session)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from agent_sessions.adapters.sqlite_mirror import SqliteMirror

from .conftest import ROOT

NOW = 1_750_000_000_000


def cookbook() -> dict[str, str]:
    text = (ROOT / "cookbook" / "d1.sql").read_text()
    queries = {}
    for block in re.split(r"^-- name: ", text, flags=re.M)[1:]:
        name, _, body = block.partition("\n")
        sql = "\n".join(line for line in body.splitlines() if not line.startswith("--"))
        queries[name.strip()] = sql.strip().rstrip(";")
    return queries


QUERIES = cookbook()
PARAMS = {
    "active_sessions_of_user": ("acme", "u1"),
    "updated_since": ("acme", NOW - 3_600_000),
    "messages_of_session": ("acme", "s3"),
    "counts_by_agent_and_status": ("acme",),
    "usage_by_user_and_agent": ("acme", NOW - 3_600_000),
}


@pytest.fixture(scope="module")
def d1() -> SqliteMirror:
    mirror = SqliteMirror(":memory:")
    sql = mirror.sql
    for i in range(40):
        status = "active" if i % 4 else "completed"
        sql.execute(
            "INSERT INTO sessions (tenant_id, id, created_at, updated_at, user_id, agent_name, "
            "status, message_count, input_tokens, output_tokens, version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            ("acme" if i < 30 else "other", f"s{i}", NOW - i * 600_000, NOW - i * 600_000,
             f"u{i % 3}", f"agent{i % 2}", status, i, i * 10, i * 20),
        )  # fmt: skip
        for seq in range(1, 6):
            sql.execute(
                "INSERT INTO session_entries (tenant_id, session_id, seq, id, type, role, "
                "content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ("acme" if i < 30 else "other", f"s{i}", seq, f"e{seq}",
                 "message" if seq % 2 else "tool_call", "user", f"c{seq}", NOW),
            )  # fmt: skip
    sql.execute("ANALYZE")
    return mirror


def test_the_cookbook_has_the_documented_queries() -> None:
    assert set(QUERIES) == set(PARAMS)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_query_uses_an_index(d1: SqliteMirror, name: str) -> None:
    plan = [
        r["detail"] for r in d1.sql.execute(f"EXPLAIN QUERY PLAN {QUERIES[name]}", PARAMS[name])
    ]
    reads = [step for step in plan if step.startswith(("SCAN", "SEARCH"))]
    assert reads, plan
    for step in reads:
        assert step.startswith("SEARCH"), f"{name} scans: {plan}"
        assert "INDEX" in step, f"{name} reads the table without an index: {plan}"


def test_answers(d1: SqliteMirror) -> None:
    def run(name: str) -> list[dict]:
        return d1.sql.execute(QUERIES[name], PARAMS[name])

    active = run("active_sessions_of_user")
    expected = [f"s{i}" for i in range(30) if i % 3 == 1 and i % 4]
    assert [r["id"] for r in active] == expected  # newest first: lower i is newer
    recent = run("updated_since")
    assert [r["id"] for r in recent] == [f"s{i}" for i in range(7)]
    assert [r["seq"] for r in run("messages_of_session")] == [1, 3, 5]
    counts = {
        (r["agent_name"], r["status"]): r["sessions"] for r in run("counts_by_agent_and_status")
    }
    want = Counter((f"agent{i % 2}", "active" if i % 4 else "completed") for i in range(30))
    assert counts == dict(want)
    usage = {
        (r["user_id"], r["agent_name"]): r["output_tokens"] for r in run("usage_by_user_and_agent")
    }
    expected: Counter[tuple[str, str]] = Counter()
    for i in range(7):  # updated within the hour: s0..s6
        expected[(f"u{i % 3}", f"agent{i % 2}")] += i * 20
    assert usage == dict(expected)
