"""The sharded mirror in real workerd: a Worker with three D1 bindings and the shard settings
(conftest.WORKERD_SHARDS: tenants hashed over two, a third being given to tenant "mover"),
each tenant's rows in its own database and nowhere else, listings and searches (HTTP and
RPC) reading them there, and the copy step of moving "mover" through the gateway's RPC."""

from __future__ import annotations

import pytest

from .stack import OTHER_TENANT_TOKEN, TOKEN, Stack

TENANTS = {"default": TOKEN, "acme": OTHER_TENANT_TOKEN}


def test_the_tenants_are_on_different_databases(shards_stack: Stack) -> None:
    assert shards_stack.bindings == ("DB", "DB_1", "DB_2")
    assert {shards_stack.shard_of(t) for t in TENANTS} == {"DB", "DB_1"}
    assert shards_stack.shard_of("mover") == "DB", "read where it is until the switch"


@pytest.mark.parametrize("tenant", sorted(TENANTS))
def test_each_tenant_is_mirrored_listed_and_searched_in_its_database(
    shards_stack: Stack, tenant: str
) -> None:
    token, sid = TENANTS[tenant], f"sharded-{tenant}"
    stack = shards_stack
    assert stack.http("POST", "/v1/sessions", {"id": sid, "user_id": "grace"}, token)[0] == 201
    entries = [{"type": "message", "content": f"quartz lantern of {tenant}"}]
    assert stack.http("POST", f"/v1/sessions/{sid}/entries", {"entries": entries}, token)[0] == 201
    stack.wait_for(
        "delivery",
        lambda: stack.http("GET", f"/v1/sessions/{sid}/mirror", token=token)[1]["pending"] == 0,
    )
    assert stack.http("POST", f"/v1/sessions/{sid}/mirror/verify", token=token)[1]["equal"]
    own = stack.shard_of(tenant)
    for binding in stack.bindings:
        rows = stack.d1(
            "SELECT count(*) AS n FROM session_entries WHERE tenant_id = ? AND session_id = ?",
            tenant,
            sid,
            binding=binding,
        )
        assert rows == [{"n": 1 if binding == own else 0}], binding
    listed = stack.http("GET", "/v1/sessions?user_id=grace", token=token)[1]["sessions"]
    assert [s["id"] for s in listed] == [sid]
    hits = stack.http("GET", "/v1/search?q=quartz%20lantern", token=token)[1]["hits"]
    assert [(h["session_id"], h["seq"]) for h in hits] == [(sid, 1)]
    over_rpc = stack.rpc("GATEWAY", "list_sessions", tenant, {"user_id": "grace"})["ok"]
    assert [s["id"] for s in over_rpc["sessions"]] == [sid]
    found = stack.rpc("GATEWAY", "search_entries", tenant, "quartz")["ok"]["hits"]
    assert [h["session_id"] for h in found] == [sid]


def count(stack: Stack, binding: str, tenant: str) -> tuple[int, int]:
    (sessions,) = stack.d1(
        "SELECT count(*) AS n FROM sessions WHERE tenant_id = ?", tenant, binding=binding
    )
    (entries,) = stack.d1(
        "SELECT count(*) AS n FROM session_entries WHERE tenant_id = ?", tenant, binding=binding
    )
    return sessions["n"], entries["n"]


def test_a_moving_tenant_is_copied_into_its_new_database(shards_stack: Stack) -> None:
    """Writes go to both databases; the copy has each session's Durable Object resync into
    the new one (RPC copy_tenant, in pages), the check finds every session equal there, and
    the old database, which the reads use until the switch, keeps every row."""
    stack = shards_stack
    for n in range(3):
        sid = f"moving-{n}"
        stack.rpc("GATEWAY", "create_session", "mover", {"id": sid, "user_id": "m"})
        turn = [{"type": "message", "content": f"entry {i}"} for i in range(n + 1)]
        assert "ok" in stack.rpc("GATEWAY", "append", "mover", sid, turn, None, None)
        stack.wait_for(  # the session is in both databases before DB_2 loses it
            f"{sid} delivered",
            lambda sid=sid: (
                stack.rpc("GATEWAY", "mirror_status", "mover", sid)["ok"]["pending"] == 0
            ),
        )
    stack.d1("DELETE FROM session_entries WHERE tenant_id = 'mover'", binding="DB_2")
    stack.d1("DELETE FROM sessions WHERE tenant_id = 'mover'", binding="DB_2")  # as if older
    page, cursor = stack.rpc("GATEWAY", "copy_tenant", "mover", None)["ok"], None
    assert (page["to"], page["resynced"], page["next"]) == ("DB_2", 3, None), page

    def all_equal() -> bool:
        page = stack.rpc("GATEWAY", "check_tenant", "mover", cursor)["ok"]
        return page["checked"] == 3 and page["behind"] == []

    stack.wait_for("the copy", all_equal)
    assert count(stack, "DB_2", "mover") == count(stack, "DB", "mover") == (3, 6)
    listed = stack.rpc("GATEWAY", "list_sessions", "mover", {"user_id": "m"})["ok"]["sessions"]
    assert sorted(s["id"] for s in listed) == ["moving-0", "moving-1", "moving-2"]
    status = stack.wait_for(
        "the deliveries",
        lambda: (
            (s := stack.rpc("GATEWAY", "mirror_status", "mover", "moving-2")["ok"])["pending"] == 0
            and s
        ),
    )
    assert isinstance(status["bookmark"], str), "kept from the batch sent to DB, also while moving"
    fresh = {"user_id": "m", "bookmark": status["bookmark"]}
    listed = stack.rpc("GATEWAY", "list_sessions", "mover", fresh)["ok"]
    assert len(listed["sessions"]) == 3, listed
    assert isinstance(listed["bookmark"], str), listed
    refused = stack.rpc("GATEWAY", "clear_tenant", "mover", "DB")["error"]
    assert (refused["code"], "still read or written in 'DB'" in refused["message"]) == (
        "invalid",
        True,
    )
    not_moving = stack.rpc("GATEWAY", "copy_tenant", "default", None)["error"]
    assert "is not being moved" in not_moving["message"]
    assert count(stack, "DB", "mover") == (3, 6), "refusals change nothing"
