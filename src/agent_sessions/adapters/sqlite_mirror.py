"""`MirrorPort` over a local SQLite file holding D1's schema (local mode, tests, benchmarks).

`sqlite3 data/d1.sqlite 'select ...'` then answers like D1 would. Values go through D1's
binding rules by default, so the local mirror stores what D1 would store.

Reads run in worker threads on read-only connections of their own, as D1's run outside the
Worker: a search ranks every match of its words (~50 ms of CPU for a common word at 10,000
entries), and on the local server's one event loop every other request waited for it (the
other routes lost 80% of their throughput while searches ran, bench/load.py). SQLite releases
the GIL while it works, and WAL lets reads run beside the drain's writes. Searches (reads of
the full-text index) have a thread of their own, at a lower priority, so that they queue
behind each other and not in front of listings. An in-memory file has no other connections:
it is read where it is written.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..engine.ports import Row, SqlValue
from ..engine.schema import ensure_mirror_schema
from ..mirror.ports import Statement
from .runtime_values import D1, ValueRules
from .sqlite import SqliteSql, connect

SEARCH_INDEX = "entries_fts"
"""A query naming it is a search (service/search.py)."""
READERS = {"search": (1, 10), "read": (2, 0)}
"""Reader threads by kind of read, and how much they yield the CPU to the thread serving
requests (Linux niceness)."""


def _yield_cpu(niceness: int) -> None:
    """Lower this thread's priority. Linux keeps a niceness per thread; elsewhere the call
    would lower the whole process, so it is left alone."""
    if niceness and sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)


class SqliteMirror:
    def __init__(self, path: str | Path, values: ValueRules | None = D1) -> None:
        self.sql = SqliteSql(connect(path), values)
        ensure_mirror_schema(self.sql)
        self.batches = 0
        """Batches applied: with `sql.statements`, what the benchmarks count."""
        self._path = None if str(path) == ":memory:" else Path(path)
        self._values = values
        self._readers: dict[str, ThreadPoolExecutor] = {}
        self._reader = threading.local()
        self._opened: list[SqliteSql] = []
        self._opening = threading.Lock()

    async def apply(self, statements: Sequence[Statement]) -> None:
        def run() -> None:
            for sql, params in statements:
                self.sql.execute(sql, params)

        self.sql.transaction(run)
        self.batches += 1

    async def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        if self._path is None:
            return self.sql.execute(sql, params)
        kind = "search" if SEARCH_INDEX in sql else "read"
        if kind not in self._readers:
            threads, niceness = READERS[kind]
            self._readers[kind] = ThreadPoolExecutor(
                threads, f"d1-{kind}", initializer=_yield_cpu, initargs=(niceness,)
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers[kind], self._read, sql, params)

    def _read(self, sql: str, params: Sequence[SqlValue]) -> list[Row]:
        """In a reader thread, on that thread's own read-only connection."""
        reader = getattr(self._reader, "sql", None)
        if reader is None:
            assert self._path is not None
            reader = SqliteSql(connect(self._path, read_only=True), self._values)
            self._reader.sql = reader
            with self._opening:
                self._opened.append(reader)
        return reader.execute(sql, params)

    def stop_readers(self) -> None:
        """End the reader threads and their connections; the next read starts them again."""
        readers, self._readers = self._readers, {}
        for pool in readers.values():
            pool.shutdown(wait=True)
        with self._opening:
            opened, self._opened = self._opened, []
        for reader in opened:
            reader.close()

    def close(self) -> None:
        self.stop_readers()
        self.sql.close()
