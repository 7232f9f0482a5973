"""Session files on disk, standing in for one Durable Object per session, plus the D1 file.

`<data-dir>/sessions/<tenant>/<session>.sqlite` holds exactly what that session's DO would
hold, and `<data-dir>/d1.sqlite` what D1 would. Ids are validated before they become path
parts (no '/', no leading '.'). A write drains its session's outbox at once in the
background; `run_alarms` plays the part of the DO alarm for the retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ..adapters.sqlite import SqliteSql, connect
from ..adapters.sqlite_mirror import SqliteMirror
from ..engine import NotFound, SessionKey
from ..engine.sessions import now_ms
from ..host import SessionHost
from ..mirror import MirrorPort

OPEN_FILES = 256
"""Session files kept open at once; the least recently used are closed first."""
ALARM_TICK_S = 0.5


class LocalStore:
    def __init__(self, data_dir: str | Path, mirror: MirrorPort | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.mirror: MirrorPort = mirror or SqliteMirror(self.data_dir / "d1.sqlite")
        self._hosts: OrderedDict[SessionKey, tuple[SessionHost, SqliteSql]] = OrderedDict()
        self._pending: set[SessionKey] = set(self._sessions_with_pending_work())
        self._tasks: set[asyncio.Task[Any]] = set()

    def path(self, key: SessionKey) -> Path:
        return self.data_dir / "sessions" / key.tenant_id / f"{key.session_id}.sqlite"

    def host(self, key: SessionKey, create: bool = False) -> SessionHost:
        """The host of one session's file; a missing file is a missing session unless creating."""
        if key in self._hosts:
            self._hosts.move_to_end(key)
            return self._hosts[key][0]
        path = self.path(key)
        if not path.exists():
            if not create:
                raise NotFound(f"session {key.session_id!r} not found")
            path.parent.mkdir(parents=True, exist_ok=True)
        sql = SqliteSql(connect(path))

        async def after_write() -> None:
            self._pending.add(key)
            self._spawn(self.drain(key))

        self._hosts[key] = (SessionHost(sql, self.mirror, after_write, now_ms), sql)
        while len(self._hosts) > OPEN_FILES:
            _, (_, old) = self._hosts.popitem(last=False)
            old.close()
        return self._hosts[key][0]

    async def transport(self, key: SessionKey, operation: str, args: tuple[Any, ...]) -> Any:
        """Run one operation. Calls are serial: one event loop, and sqlite3 calls do not await."""
        creates = ("create_session", "import_session", "adopt_entries")
        host = self.host(key, create=operation in creates)
        return await host.call(operation, key, args)

    async def drain(self, key: SessionKey) -> dict[str, Any]:
        status = await self.host(key).drain.drain()
        if not status["pending"]:
            self._pending.discard(key)
        return status

    async def run_alarms(self) -> None:
        """Forever: retry the drains that are due, as each DO's alarm would."""
        while True:
            await self.drain_due()
            await asyncio.sleep(ALARM_TICK_S)

    async def drain_due(self) -> None:
        now = now_ms()
        for key in list(self._pending):
            status = self.host(key).drain.status()
            if status["next_attempt_at"] is None or status["next_attempt_at"] <= now:
                await self.drain(key)

    def health(self) -> dict[str, Any]:
        """The mirror across all sessions: how much is pending, and how old the oldest is."""
        statuses = [self.host(key).drain.status() for key in list(self._pending)]
        oldest = [s["oldest_pending_at"] for s in statuses if s["oldest_pending_at"] is not None]
        errors = [s["last_error"] for s in statuses if s["last_error"]]
        return {
            "pending": sum(s["pending"] for s in statuses),
            "sessions_pending": sum(1 for s in statuses if s["pending"]),
            "lag_ms": max(0, now_ms() - min(oldest)) if oldest else 0,
            "last_error": errors[-1] if errors else None,
        }

    def _sessions_with_pending_work(self) -> list[SessionKey]:
        """At start, find sessions whose outbox a previous run left behind."""
        found = []
        for path in sorted((self.data_dir / "sessions").glob("*/*.sqlite")):
            conn = connect(path)
            with contextlib.closing(conn):
                try:
                    (pending,) = conn.execute("SELECT count(*) FROM mirror_outbox").fetchone()
                except sqlite3.OperationalError:  # not a session file of ours
                    continue
            if pending:
                found.append(SessionKey(path.parent.name, path.stem))
        return found

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the background drains started so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        for _, sql in self._hosts.values():
            sql.close()
        self._hosts.clear()
