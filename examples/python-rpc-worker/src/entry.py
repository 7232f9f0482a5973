"""Notes kept in agent-sessions, through a service binding to its Worker (RPC).

    POST /notes/<session_id>   {"text": "..."}   appends a note (the session is made on first use)
    GET  /notes/<session_id>                     the notes, in order

Every RPC method of agent-sessions takes the tenant first and answers `{"ok": ...}` or
`{"error": {"code", "message", "details"}}`; the SDK converts arguments and results between
Python and JavaScript (the types: clients/typescript/rpc.d.ts).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from workers import Response, WorkerEntrypoint

STATUS = {"invalid": 422, "not_found": 404, "too_large": 413, "already_exists": 409}


def reply(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, headers={"content-type": "application/json"})


def failed(answer: dict[str, Any]) -> Response:
    error = answer["error"]
    return reply({"error": error}, STATUS.get(error["code"], 502))


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Response:
        parts = [p for p in urlparse(str(request.url)).path.split("/") if p]
        if len(parts) != 2 or parts[0] != "notes":
            return reply({"error": {"code": "not_found", "message": "no such route"}}, 404)
        if request.method == "GET":
            return await self.notes(parts[1])
        if request.method == "POST":
            return await self.add_note(parts[1], json.loads(await request.text()).get("text"))
        return reply({"error": {"code": "invalid", "message": "GET or POST"}}, 405)

    async def notes(self, session_id: str) -> Response:
        tenant = str(self.env.SESSIONS_TENANT)
        answer = await self.env.SESSIONS.read_entries(tenant, session_id, {"types": ["message"]})
        if "error" in answer:
            return failed(answer)
        return reply({"notes": [e["content"] for e in answer["ok"]["entries"]]})

    async def add_note(self, session_id: str, text: Any) -> Response:
        sessions, tenant = self.env.SESSIONS, str(self.env.SESSIONS_TENANT)
        made = await sessions.create_session(tenant, {"id": session_id, "title": "notes"})
        if "error" in made and made["error"]["code"] != "already_exists":
            return failed(made)
        entry = {"type": "message", "role": "user", "content": text}
        answer = await sessions.append(tenant, session_id, [entry])
        if "error" in answer:
            return failed(answer)
        return reply({"seq": answer["ok"]["last_seq"]}, 201)
