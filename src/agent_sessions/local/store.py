"""Session files on disk, standing in for one Durable Object per session, plus the D1 file.

`<data-dir>/sessions/<tenant>/<session>.sqlite` holds exactly what that session's DO would
hold, and `<data-dir>/d1.sqlite` what D1 would (with shards, `d1.sqlite` is the binding
`DB` and `d1-<BINDING>.sqlite` each other one: see `mirror_file`). Ids are validated before
they become path parts (no '/', no leading '.'). A write drains its session's outbox at once in the
background; `run_alarms` plays the part of each DO's alarm: the lifecycle sweep and the
mirror's retries, at the time the session's host asks for. At start every file gets one
alarm run, as the store cannot know what a previous run left due. No failure stops the alarms
(see `run_due_alarms`), and only one store opens a data directory at a time (local/lock.py).
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ..adapters.directory_archive import DirectoryArchive
from ..adapters.sqlite import SqliteSql, connect
from ..adapters.sqlite_mirror import SqliteMirror
from ..engine import NotFound, SessionKey
from ..engine.errors import InsufficientStorage
from ..engine.keys import now_ms
from ..engine.lifecycle import NO_LIFECYCLE, Lifecycle
from ..engine.operations import OPERATIONS
from ..host import SessionHost, alarm_failed
from ..mirror import MirrorPort
from ..mirror.shards import HOME, ShardMap, Shards
from ..mirror.timing import AT_ONCE, DrainTiming
from .lock import DataDirLock

log = logging.getLogger("agent_sessions")

OPEN_FILES = 256
"""Session files kept open at once; the least recently used are closed first."""
ALARM_TICK_S = 0.5
DISK_REFUSALS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EPERM, errno.EACCES})
"""What a full, read-only or immutable disk answers a new directory with."""


def mirror_file(data_dir: Path, binding: str) -> Path:
    """The local stand-in of one D1 binding: `d1.sqlite` for `DB`, as before shards."""
    return data_dir / ("d1.sqlite" if binding == HOME else f"d1-{binding}.sqlite")


class LocalStore:
    def __init__(
        self,
        data_dir: str | Path,
        mirror: MirrorPort | None = None,
        lifecycle: Lifecycle = NO_LIFECYCLE,
        shard_map: ShardMap | None = None,
        timing: DrainTiming = AT_ONCE,
    ) -> None:
        """`mirror`: one database for every tenant (tests); otherwise a file per binding of
        `shard_map` (by default the one binding `DB`). `timing`: when a write's mirror work
        leaves (mirror/timing.py)."""
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = DataDirLock(self.data_dir)
        self._lock.acquire()
        shard_map = shard_map or ShardMap()
        self._own_mirrors: list[SqliteMirror] = []
        try:
            if mirror is None:
                for binding in shard_map.bindings:
                    self._own_mirrors.append(SqliteMirror(mirror_file(self.data_dir, binding)))
        except BaseException:
            for made in self._own_mirrors:
                made.close()
            self._lock.release()
            raise
        ports: dict[str, MirrorPort] = (
            dict.fromkeys(shard_map.bindings, mirror)
            if mirror
            else dict(zip(shard_map.bindings, self._own_mirrors, strict=True))
        )
        self.shards = Shards(shard_map, ports)
        """Its own mirrors stay open for the store's life: `close` ends only their readers."""
        self.lifecycle = lifecycle
        self.timing = timing
        self.archive = DirectoryArchive(self.data_dir / "archive")
        """R2's stand-in: the same keys, under <data-dir>/archive/."""
        self._hosts: OrderedDict[SessionKey, tuple[SessionHost, SqliteSql]] = OrderedDict()
        self._pending: set[SessionKey] = set()
        """Sessions whose outbox may hold work (what /healthz reports on)."""
        files = sorted((self.data_dir / "sessions").glob("*/*.sqlite"))
        self._wake: dict[SessionKey, int] = {SessionKey(p.parent.name, p.stem): 0 for p in files}
        """When each session's alarm is due; a session absent has no alarm set."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._alarm_failures: dict[SessionKey, dict[str, Any]] = {}
        """Sessions whose last alarm failed (what /healthz reports), with the failure."""

    def path(self, key: SessionKey) -> Path:
        return self.data_dir / "sessions" / key.tenant_id / f"{key.session_id}.sqlite"

    def host(self, key: SessionKey, create: bool = False) -> SessionHost:
        """The host of one session's file; a missing file is a missing session unless creating."""
        if key in self._hosts:
            self._hosts.move_to_end(key)
            return self._hosts[key][0]
        self._lock.acquire()  # again, if the store was closed and is used once more
        path = self.path(key)
        made = not path.exists()
        if made:
            if not create:
                raise NotFound(f"session {key.session_id!r} not found")
            _make_directory(path.parent)
        try:
            sql = SqliteSql(connect(path))
        except BaseException:
            if made:  # a full disk left an empty file: no session is half-made
                for leftover in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
                    leftover.unlink(missing_ok=True)
            raise

        async def after_write() -> None:
            self._pending.add(key)
            ring_by, drain_now = self.timing.after_write(now_ms())
            self._wake_no_later(key, ring_by)
            if drain_now:
                self._spawn(self.drain(key))

        host = SessionHost(sql, self.shards, after_write, now_ms, self.lifecycle, self.archive)
        self._hosts[key] = (host, sql)
        while len(self._hosts) > OPEN_FILES:
            _, (_, old) = self._hosts.popitem(last=False)
            old.close()
        return self._hosts[key][0]

    async def transport(self, key: SessionKey, operation: str, args: tuple[Any, ...]) -> Any:
        """Run one operation. Calls are serial: one event loop, and sqlite3 calls do not await.
        A session's file is made only by an operation that creates one."""
        declared = OPERATIONS.get(operation)
        host = self.host(key, create=declared is not None and declared.creates)
        return await host.call(operation, key, args)

    async def drain(self, key: SessionKey) -> dict[str, Any]:
        status = await self.host(key).drain()
        if not status["pending"]:
            self._pending.discard(key)
        return status

    async def run_alarms(self) -> None:
        """Forever: run the alarms that are due."""
        while True:
            await self.run_due_alarms()
            await asyncio.sleep(ALARM_TICK_S)

    async def run_due_alarms(self) -> None:
        """Run each alarm that is due, as the DO's alarm would, and set the next one. No
        failure stops the loop: one that the host did not handle itself (its file cannot be
        opened) is logged, reported by `health`, and retried with backoff."""
        now = now_ms()
        for key, at in sorted(self._wake.items(), key=lambda item: item[1]):
            if at > now:
                continue
            del self._wake[key]
            try:
                host = self.host(key)
                due = await host.alarm()
                pending = host.pending()["pending"]
            except Exception as exc:
                log.exception("the alarm of %s failed", key.object_name)
                failure, retry_at = alarm_failed(self._alarm_failures.get(key), [exc], now)
                self._alarm_failures[key] = failure
                self._wake_no_later(key, retry_at)
                continue
            if host.alarm_failure is None:
                self._alarm_failures.pop(key, None)
            else:
                self._alarm_failures[key] = host.alarm_failure
            if due is not None:
                self._wake_no_later(key, due)
            if pending:
                self._pending.add(key)
            else:
                self._pending.discard(key)

    def _wake_no_later(self, key: SessionKey, at: int) -> None:
        self._wake[key] = min(at, self._wake.get(key, at))

    def health(self) -> dict[str, Any]:
        """The mirror across all sessions (how much is pending, how old the oldest is), and
        the alarms that fail: `ok` is false while any does."""
        statuses = []
        for key in list(self._pending):
            try:
                statuses.append(self.host(key).pending())
            except Exception as exc:  # its file cannot be read: an alarm failure shows it
                log.warning("the mirror status of %s cannot be read: %s", key.object_name, exc)
        oldest = [s["oldest_pending_at"] for s in statuses if s["oldest_pending_at"] is not None]
        errors = [s["last_error"] for s in statuses if s["last_error"]]
        failing = sorted(self._alarm_failures.values(), key=lambda f: f["at"])
        return {
            "ok": not failing,
            "mirror": {
                "pending": sum(s["pending"] for s in statuses),
                "sessions_pending": sum(1 for s in statuses if s["pending"]),
                "lag_ms": max(0, now_ms() - min(oldest)) if oldest else 0,
                "last_error": errors[-1] if errors else None,
            },
            "alarms": {
                "failing": len(failing),
                "last_error": failing[-1]["error"] if failing else None,
                "last_failure_at": failing[-1]["at"] if failing else None,
            },
        }

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the background drains started so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        """Close the session files and let the data directory go (its lock). A store used
        again afterwards reopens what it needs, and takes the lock again."""
        for _, sql in self._hosts.values():
            sql.close()
        self._hosts.clear()
        for mirror in self._own_mirrors:
            mirror.stop_readers()
        self._lock.release()


def _make_directory(path: Path) -> None:
    """A session's directory; a disk that refuses it is a 507, like one that refuses a write."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno not in DISK_REFUSALS:
            raise
        raise InsufficientStorage(f"the data directory cannot be written: {exc}") from exc
