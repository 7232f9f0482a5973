"""floor/floor.js in Python: the same routes, statements and answers (see wrangler.toml).

Each crossing is paid once: a statement's rows leave SQLite as one JSON text, the Worker hands
the request body to the object as text, and the object's answer comes back as JSON text that
the Worker sends as it is.
"""

import json
import os
import time
from urllib.parse import parse_qs, urlparse

from js import JSON
from pyodide.ffi import create_once_callable, jsnull
from workers import DurableObject, Response, WorkerEntrypoint, python_to_rpc

TENANT = "default"
_parsed = {}


def statements(env):
    if "q" not in _parsed:
        _parsed["q"] = json.loads(env.STATEMENTS)
    return _parsed["q"]


def new_id():
    return format(int(time.time() * 1000), "012x") + os.urandom(10).hex()


def entry(row):
    payload = row["payload"]
    return {**row, "payload": None if payload is None else json.loads(payload)}


def text(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class FloorObject(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.q = statements(env)
        self.storage = python_to_rpc(ctx.storage)
        for ddl in self.q["schema"]:
            self.storage.sql.exec(ddl)

    def rows(self, sql, *params):
        cursor = self.storage.sql.exec(sql, *(jsnull if p is None else p for p in params))
        return json.loads(JSON.stringify(cursor.toArray()))

    def transaction(self, fn):
        outcome = {}

        def run():
            outcome["result"] = fn()

        self.storage.transactionSync(create_once_callable(run))
        return outcome["result"]

    def create(self, session_id):
        now = int(time.time() * 1000)
        self.rows(self.q["create_session"], TENANT, session_id, now, now)
        return text({"id": session_id, "version": 1})

    def append(self, session_id, body):
        entries = json.loads(body)["entries"]
        q = self.q

        def write():
            heads = self.rows(q["select_head"], TENANT, session_id)
            if not heads:
                return {"error": "not_found"}
            head = heads[0]
            now = max(int(time.time() * 1000), head["updated_at"])
            leaf, seq, messages, compacted = head["leaf_id"], head["last_seq"], 0, None
            rows, written = [], []
            for e in entries:
                entry_id = e.get("id") or new_id()
                seq += 1
                payload = e.get("payload")
                rows.append([
                    TENANT, session_id, seq, entry_id, e.get("parent_id") or leaf, e["type"],
                    e.get("role"), e.get("content"), None if payload is None else text(payload),
                    e.get("input_tokens", 0), e.get("output_tokens", 0), now, None,
                ])  # fmt: skip
                if e["type"] == "message":
                    messages += 1
                if e["type"] == "compaction":
                    compacted = (payload or {}).get("first_kept_seq", 1) - 1
                written.append({"id": entry_id, "seq": seq})
                leaf = entry_id
            if compacted is not None and compacted > head["compacted_through_seq"]:
                self.rows(q["update_compacted"], compacted, TENANT, session_id)
            per_insert = q["entry_rows_per_insert"]
            for start in range(0, len(rows), per_insert):
                chunk = rows[start : start + per_insert]
                flat = [value for row in chunk for value in row]
                self.rows(q["insert_entries"][len(chunk) - 1], *flat)
            version = head["version"] + 1
            first = head["last_seq"] + 1
            self.rows(
                q["update_after_append"], len(entries), messages, 0, 0, seq, leaf, version,
                now, TENANT, session_id,
            )  # fmt: skip
            self.rows(
                q["insert_outbox"], TENANT, session_id, "append_entries", version, first, seq, now
            )
            return {"entries": written, "first_seq": first, "last_seq": seq, "version": version}

        return text(self.transaction(write))

    def setLeaf(self, session_id, entry_id):  # floor.js's method names
        heads = self.rows(self.q["select_head"], TENANT, session_id)
        if not heads:
            return text({"error": "not_found"})
        version = heads[0]["version"] + 1
        now = int(time.time() * 1000)
        self.rows(self.q["update_leaf"], entry_id, version, now, TENANT, session_id)
        return text({"leaf_id": entry_id, "version": version})

    def readEntries(self, session_id, order, limit):
        if not self.rows(self.q["select_session"], TENANT, session_id):
            return text({"error": "not_found"})
        statement = self.q["select_entries_desc" if order == "desc" else "select_entries_asc"]
        rows = self.rows(statement, TENANT, session_id, 0, None, None, None, None, limit + 1)
        return text({"entries": [entry(r) for r in rows[:limit]], "has_more": len(rows) > limit})

    def readContext(self, session_id):
        sessions = self.rows(self.q["select_session"], TENANT, session_id)
        if not sessions:
            return text({"error": "not_found"})
        leaf = sessions[0]["leaf_id"]
        if leaf is None:
            return text({"entries": [], "leaf_id": None, "compaction_seq": None})
        params = (TENANT, session_id, leaf, TENANT, session_id)
        rows = sorted((entry(r) for r in self.rows(self.q["select_context"], *params)),
                      key=lambda e: e["seq"])  # fmt: skip
        compactions = [e for e in rows if e["type"] == "compaction"]
        latest = compactions[-1] if compactions else None
        ordered = rows if latest is None else [latest, *(e for e in rows if e is not latest)]
        compaction_seq = None if latest is None else latest["seq"]
        return text({"entries": ordered, "leaf_id": leaf, "compaction_seq": compaction_seq})


async def _create(stub, session_id, request, url):
    return await stub.create(session_id), 201


async def _append(stub, session_id, request, url):
    return await stub.append(session_id, await request.text()), 201


async def _read_entries(stub, session_id, request, url):
    query = parse_qs(url.query)
    order = query.get("order", ["asc"])[0]
    limit = int(query.get("limit", ["100"])[0])
    return await stub.readEntries(session_id, order, limit), 200


async def _set_leaf(stub, session_id, request, url):
    body = json.loads(await request.text())
    return await stub.setLeaf(session_id, body["entry_id"]), 200


async def _read_context(stub, session_id, request, url):
    return await stub.readContext(session_id), 200


ROUTES = {
    ("POST", ""): _create,
    ("POST", "entries"): _append,
    ("GET", "entries"): _read_entries,
    ("PUT", "leaf"): _set_leaf,
    ("GET", "context"): _read_context,
}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        _, version, kind, session_id, what = [*url.path.split("/"), "", "", "", ""][:5]
        handler = ROUTES.get((request.method, what))
        if version != "v1" or kind != "sessions" or not session_id or handler is None:
            return Response("no such route", status=404)
        stub = self.env.FLOOR.getByName(f"{TENANT}:{session_id}")
        body, status = await handler(stub, session_id, request, url)
        status = 404 if body.startswith('{"error"') else status
        return Response(body, status=status, headers={"content-type": "application/json"})
