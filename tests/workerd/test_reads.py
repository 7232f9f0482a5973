"""Cross-session reads through D1's Sessions API in real workerd (local D1, miniflare's): the
bookmark of a session's last delivered batch (its mirror status) and of every read, passed to
the next listing or search over HTTP (x-d1-bookmark) and RPC, reads that ask for nothing, a
bad bookmark refused as JSON, a bookmark of another database (what a caller holds across a
move of its tenant) that still reads, and the example consumer Worker forwarding bookmarks.
Each runs on one database and on the sharded stack (conftest.EITHER).

What local D1 showed (checked by hand with a Worker of its own, on this wrangler): it has
`withSession` and `getBookmark`; a session's bookmark is null until it has run a query, then
"00000000-<a counter>-00000000-<zeros>"; a session started from a bookmark answers that
bookmark before its first query. It accepts any string as a bookmark (even one D1 never
made, or one of another database) and reads the latest: so here a bookmark can only be seen
passed on and answered, not to make a replica wait.
"""

from __future__ import annotations

import re

from agent_sessions.mirror.reads import HEADER, PRIMARY

from .stack import OTHER_TENANT_TOKEN, TOKEN, Stack

LOCAL_BOOKMARK = re.compile(r"[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}")
"""What local D1 answers as a bookmark (what D1 answers has the same shape)."""


def delivered(stack: Stack, sid: str, token: str = TOKEN) -> dict[str, object]:
    """The session's mirror status once D1 has all of it."""
    return stack.wait_for(
        f"the delivery of {sid}",
        lambda: (
            (s := stack.http("GET", f"/v1/sessions/{sid}/mirror", token=token)[1])["pending"] == 0
            and s
        ),
    )


def written(stack: Stack, sid: str, user: str, word: str, token: str = TOKEN) -> str:
    """A session with one entry holding `word`, delivered: the bookmark its status tells."""
    assert stack.http("POST", "/v1/sessions", {"id": sid, "user_id": user}, token)[0] == 201
    entries = [{"type": "message", "content": f"a {word} entry"}]
    assert stack.http("POST", f"/v1/sessions/{sid}/entries", {"entries": entries}, token)[0] == 201
    bookmark = delivered(stack, sid, token)["bookmark"]
    assert isinstance(bookmark, str), bookmark
    assert LOCAL_BOOKMARK.fullmatch(bookmark), bookmark
    return bookmark


def test_a_bookmark_from_the_mirror_status_and_from_each_read_reads_again(
    any_stack: Stack,
) -> None:
    stack = any_stack
    bookmark = written(stack, "bookmarked", "bookmarks-user", "heliotrope")
    asked: list[str | None] = [bookmark, None, PRIMARY, ""]
    for sent in asked:
        headers = {} if sent is None else {HEADER: sent}
        status, page = stack.http("GET", "/v1/sessions?user_id=bookmarks-user", headers=headers)
        assert status == 200, page
        assert [s["id"] for s in page["sessions"]] == ["bookmarked"], sent
        assert LOCAL_BOOKMARK.fullmatch(page["bookmark"]), page["bookmark"]
        assert stack.last_headers.get(HEADER) == page["bookmark"], "the header says it too"
        status, found = stack.http(
            "GET", "/v1/search?q=heliotrope", headers={HEADER: page["bookmark"]}
        )
        assert status == 200, found
        assert [h["session_id"] for h in found["hits"]] == ["bookmarked"]
        assert stack.last_headers.get(HEADER) == found["bookmark"]
        assert LOCAL_BOOKMARK.fullmatch(found["bookmark"]), found["bookmark"]
    rpc = stack.rpc("GATEWAY", "list_sessions", "default", {"user_id": "bookmarks-user",
                                                              "bookmark": bookmark})  # fmt: skip
    assert [s["id"] for s in rpc["ok"]["sessions"]] == ["bookmarked"], rpc
    assert LOCAL_BOOKMARK.fullmatch(rpc["ok"]["bookmark"]), rpc
    hits = stack.rpc("GATEWAY", "search_entries", "default", "heliotrope", 5,
                     {"bookmark": rpc["ok"]["bookmark"]})  # fmt: skip
    assert [h["session_id"] for h in hits["ok"]["hits"]] == ["bookmarked"], hits
    assert LOCAL_BOOKMARK.fullmatch(hits["ok"]["bookmark"]), hits
    without = stack.rpc("GATEWAY", "search_entries", "default", "heliotrope")
    assert LOCAL_BOOKMARK.fullmatch(without["ok"]["bookmark"]), without


def test_a_bad_bookmark_is_refused_as_json(any_stack: Stack) -> None:
    stack = any_stack
    for path in ("/v1/sessions", "/v1/search?q=anything"):
        for bad in ("not a bookmark", "x" * 300, "-dash-first"):
            status, answer = stack.http("GET", path, headers={HEADER: bad})
            assert status == 422, (path, bad, answer)
            assert answer["error"]["code"] == "invalid", answer
    for bad in (5, "not a bookmark", ["a"]):
        listed = stack.rpc("GATEWAY", "list_sessions", "default", {"bookmark": bad})
        assert listed["error"]["code"] == "invalid", listed
        assert listed["error"]["details"] == {"field": "bookmark"}, listed
        found = stack.rpc("GATEWAY", "search_entries", "default", "x", 5, {"bookmark": bad})
        assert found["error"]["code"] == "invalid", found
    unknown = stack.rpc("GATEWAY", "search_entries", "default", "x", 5, {"bookmarks": "a"})
    assert unknown["error"]["code"] == "invalid", unknown
    assert unknown["error"]["details"] == {"fields": ["bookmarks"]}, unknown


def test_a_bookmark_of_another_database_still_reads(any_stack: Stack) -> None:
    """Tenant "default" and tenant "acme" are on different databases on the sharded stack:
    a bookmark of one, sent to read the other (as a caller holds one across a move of its
    tenant), reads the tenant's own rows."""
    stack = any_stack
    other = written(stack, "elsewhere", "foreign-user", "marigold", OTHER_TENANT_TOKEN)
    mine = written(stack, "here", "foreign-user", "marigold")
    for token, sid, bookmark in ((TOKEN, "here", other), (OTHER_TENANT_TOKEN, "elsewhere", mine)):
        status, page = stack.http(
            "GET", "/v1/sessions?user_id=foreign-user", token=token, headers={HEADER: bookmark}
        )
        assert status == 200, page
        assert [s["id"] for s in page["sessions"]] == [sid]
        status, found = stack.http(
            "GET", "/v1/search?q=marigold", token=token, headers={HEADER: bookmark}
        )
        assert status == 200, found
        assert [h["session_id"] for h in found["hits"]] == [sid]


def test_the_consumer_worker_reads_through_a_session_and_forwards_bookmarks(
    any_stack: Stack,
) -> None:
    stack = any_stack
    bookmark = written(stack, "consumed-bookmarked", "consumer-bookmarks", "juniper")
    path = "/sessions?tenant=default&user=consumer-bookmarks"
    status, answer = stack.worker_call("CONSUMER", "GET", path)
    assert status == 200, answer
    assert [s["id"] for s in answer["sessions"]] == ["consumed-bookmarked"]
    first = stack.last_headers.get(HEADER) or ""
    assert LOCAL_BOOKMARK.fullmatch(first), dict(stack.last_headers)
    for sent in (bookmark, first):
        status, answer = stack.worker_call("CONSUMER", "GET", path, headers={HEADER: sent})
        assert status == 200, answer
        assert [s["id"] for s in answer["sessions"]] == ["consumed-bookmarked"]
        assert LOCAL_BOOKMARK.fullmatch(stack.last_headers.get(HEADER) or "")
    messages = "/sessions/consumed-bookmarked/messages?tenant=default"
    status, answer = stack.worker_call("CONSUMER", "GET", messages, headers={HEADER: first})
    assert [m["content"] for m in answer["messages"]] == ["a juniper entry"], answer
    assert LOCAL_BOOKMARK.fullmatch(stack.last_headers.get(HEADER) or "")
