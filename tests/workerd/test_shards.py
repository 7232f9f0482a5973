"""The sharded mirror in real workerd: a Worker with two D1 bindings and the shard settings
(tests/shards.py, "two-shards"), each tenant's rows in its own database and nowhere else, and
listings and searches (HTTP and RPC) reading them there."""

from __future__ import annotations

import pytest

from .stack import OTHER_TENANT_TOKEN, TOKEN, Stack

TENANTS = {"default": TOKEN, "acme": OTHER_TENANT_TOKEN}


def test_the_tenants_are_on_different_databases(shards_stack: Stack) -> None:
    assert shards_stack.bindings == ("DB", "DB_1")
    assert {shards_stack.shard_of(t) for t in TENANTS} == {"DB", "DB_1"}


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
