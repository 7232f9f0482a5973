"""The Python client inside a Worker: `POST /turn/<session>` creates the session if needed,
appends one message and reads the session back, all through `AsyncClient` over the service
binding to agent-sessions' HTTP API; `GET /missing` shows a typed error crossing back."""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import urlparse

from workers import Response, WorkerEntrypoint

from agent_sessions.client import AsyncClient
from agent_sessions.engine import AlreadyExists, NotFound


def reply(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, headers={"content-type": "application/json"})


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        client = AsyncClient("https://sessions.internal", token, fetcher=self.env.SESSIONS_API)
        path = urlparse(str(request.url)).path
        if path == "/missing":
            try:
                await client.get_session("no-such-session")
            except NotFound as exc:
                return reply({"raised": type(exc).__name__, "status": exc.http_status})
            return reply({"raised": None})
        session_id = path.removeprefix("/turn/")
        with contextlib.suppress(AlreadyExists):
            await client.create_session(session_id, user_id="client-in-a-worker")
        text = json.loads(await request.text())["text"]
        appended = await client.append(session_id, [{"type": "message", "content": text}])
        page = await client.read_entries(session_id)
        return reply(
            {
                "last_seq": appended.last_seq,
                "contents": [e.content for e in page.entries],
                "user_id": (await client.get_session(session_id)).user_id,
            }
        )
