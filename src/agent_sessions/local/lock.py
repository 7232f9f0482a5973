"""One server per data directory: a lock that a second one cannot take.

Two servers on one directory each drained the same outbox and lost D1 rows silently. The lock is
an exclusive `flock` on `<data-dir>/server.lock`, held as long as the store is open; the
kernel releases it when the process ends, however it ends (kill -9 too), so a crash never
leaves a stale lock behind. The file records the holder's pid, for the refusal's message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "server.lock"


class DataDirLocked(RuntimeError):
    """Another process holds the data directory."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock (held already: nothing to do); DataDirLocked if another has it."""
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirLocked(
                f"another agent-sessions server (pid {holder}) is using {self.path.parent}; "
                "stop it, or give this one another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
