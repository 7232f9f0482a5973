"""Session files on disk, standing in for one Durable Object per session.

`<data-dir>/sessions/<tenant>/<session>.sqlite` holds exactly what that session's DO would
hold. Ids are validated before they become path parts (no '/', no leading '.').
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ..adapters.sqlite import SqliteSql, connect
from ..engine import NotFound, SessionEngine, SessionKey
from ..engine.sessions import now_ms

OPEN_FILES = 256
"""Engines kept open at once; older ones are closed (least recently used first)."""


class LocalStore:
    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self._open: OrderedDict[SessionKey, SessionEngine] = OrderedDict()
        self._sql: dict[SessionKey, SqliteSql] = {}
        self._lock = threading.Lock()

    def path(self, key: SessionKey) -> Path:
        return self.data_dir / "sessions" / key.tenant_id / f"{key.session_id}.sqlite"

    def engine(self, key: SessionKey, create: bool = False) -> SessionEngine:
        """The engine of one session's file; a missing file is a missing session unless creating."""
        with self._lock:
            engine = self._open.get(key)
            if engine is not None:
                self._open.move_to_end(key)
                return engine
            path = self.path(key)
            if not path.exists():
                if not create:
                    raise NotFound(f"session {key.session_id!r} not found")
                path.parent.mkdir(parents=True, exist_ok=True)
            sql = SqliteSql(connect(path))
            engine = SessionEngine(sql, now_ms)
            self._open[key], self._sql[key] = engine, sql
            while len(self._open) > OPEN_FILES:
                old, _ = self._open.popitem(last=False)
                self._sql.pop(old).close()
            return engine

    async def transport(
        self, key: SessionKey, operation: str, args: tuple[Any, ...]
    ) -> dict[str, Any]:
        """Run one operation. Calls are serial: one event loop, and sqlite3 calls do not await."""
        engine = self.engine(key, create=operation == "create_session")
        return getattr(engine, operation)(key, *args)

    def close(self) -> None:
        with self._lock:
            for sql in self._sql.values():
                sql.close()
            self._open.clear()
            self._sql.clear()
