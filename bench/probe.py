"""What SQLite did during a stretch of code, for every system alike.

Each system opens its own connections (the peers do it inside their libraries), so the probe
wraps `sqlite3.connect` for the whole process, and every connection gets:
- a trace callback: statements run (transaction control and PRAGMAs aside), and the bytes
  the writes carried, as the length of each write's expanded SQL (values inlined by SQLite;
  a blob literal x'..' counts its binary size);
- `wal_autocheckpoint = 0`, so the WAL only grows: its growth is exactly the pages SQLite
  wrote (each frame is a page plus a 24-byte header), with no checkpoint to blur a turn;
- `total_changes`, SQLite's own count of rows inserted, updated or deleted.
Bytes read come from the kernel's count of bytes the process read (/proc/self/io rchar).
Tracing costs time (SQLite expands every statement) and a WAL that never checkpoints is not
how anyone runs SQLite, so timings are taken under `quiet()`: SQLite's defaults, untraced.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA|--)", re.I)
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)", re.I)
_BLOB = re.compile(r"x'([0-9a-f]*)'", re.I)


@dataclass
class Counters:
    statements: int = 0
    write_bytes: int = 0
    tracing: bool = True
    connections: list[sqlite3.Connection] = field(default_factory=list)

    def trace(self, sql: str) -> None:
        if _CONTROL.match(sql):
            return
        self.statements += 1
        if _WRITE.match(sql):
            self.write_bytes += len(_BLOB.sub(lambda m: "x" * (len(m.group(1)) // 2), sql))


COUNTERS = Counters()
_connect = sqlite3.connect
_NO_CHECKPOINTS = "PRAGMA wal_autocheckpoint = 0"
_DEFAULT_CHECKPOINTS = "PRAGMA wal_autocheckpoint = 1000"


def _probed_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    conn = _connect(*args, **kwargs)
    if COUNTERS.tracing:
        conn.set_trace_callback(COUNTERS.trace)
        conn.execute(_NO_CHECKPOINTS)
    COUNTERS.connections.append(conn)
    return conn


def install() -> None:
    """Probe every connection opened from now on (call before any system opens one)."""
    sqlite3.connect = _probed_connect


def open_wal(path: Path) -> sqlite3.Connection:
    """How the bench opens the databases it manages itself: WAL, like the peers' own."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


def _rows_changed() -> int:
    total = 0
    for conn in COUNTERS.connections:
        try:
            total += conn.total_changes
        except sqlite3.ProgrammingError:  # closed: its changes were counted while it was open
            continue
    return total


def _read_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError("no rchar in /proc/self/io")


def _wal_bytes(database: Path) -> int:
    wal = Path(f"{database}-wal")
    return wal.stat().st_size if wal.exists() else 0


def _probe_all(tracing: bool) -> None:
    for conn in COUNTERS.connections:
        try:
            conn.set_trace_callback(COUNTERS.trace if tracing else None)
            conn.execute(_NO_CHECKPOINTS if tracing else _DEFAULT_CHECKPOINTS)
        except sqlite3.ProgrammingError:  # closed
            continue


@contextmanager
def quiet() -> Iterator[None]:
    """SQLite's defaults and no tracing inside the block: for timings."""
    COUNTERS.tracing = False
    _probe_all(tracing=False)
    try:
        yield
    finally:
        COUNTERS.tracing = True
        _probe_all(tracing=True)


@dataclass
class Measured:
    seconds: float = 0.0
    statements: int = 0
    rows_written: int = 0
    write_bytes: int = 0
    wal_bytes: int = 0
    read_bytes: int = 0


@contextmanager
def measure(database: Path) -> Iterator[Measured]:
    """Count what happens inside the block; the result is filled in when it ends."""
    result = Measured()
    statements, write_bytes = COUNTERS.statements, COUNTERS.write_bytes
    rows, wal, read = _rows_changed(), _wal_bytes(database), _read_bytes()
    started = time.perf_counter()
    yield result
    result.seconds = time.perf_counter() - started
    result.statements = COUNTERS.statements - statements
    result.write_bytes = COUNTERS.write_bytes - write_bytes
    result.rows_written = _rows_changed() - rows
    result.wal_bytes = _wal_bytes(database) - wal
    result.read_bytes = _read_bytes() - read
