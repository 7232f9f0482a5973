"""Turning the head of the outbox into one D1 batch.

The plan reads the outbox in order and ships the *current* rows of the DO, not copies taken
at write time. That coalesces for free: ten writes to a session row become one upsert at the
newest version. Work that a later tombstone (delete or resync) of the same session will
undo is skipped, so a batch never ships a newer incarnation ahead of an older tombstone.
A batch holds one tenant's work (a Durable Object holds one session, so in practice it
always does): each tenant's rows live in the database of its shard (mirror/shards.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter

from ..engine.ddl import ENTRY_COLUMNS, SESSION_COLUMNS
from ..engine.ports import Row, SqlPort, SqlValue
from . import statements as q
from .changes import (
    ENTRY_STREAM,
    SESSION_STREAM,
    AppendVersions,
    Changes,
    empty,
    entries_tombstone,
    entry_record,
    session_record,
    session_tombstone,
)
from .limits import BATCH_BYTES, OUTBOX_PAGE, STATEMENT_BYTES, STATEMENTS_PER_BATCH
from .ports import Statement

RESETS = ("delete_session", "resync")


def _size(values: tuple[SqlValue, ...]) -> int:
    return sum(
        len(v.encode()) if isinstance(v, str) else len(v) if isinstance(v, bytes) else 8
        for v in values
    )


@dataclass
class Batch:
    statements: list[Statement] = field(default_factory=list)
    through_id: int = 0
    """Outbox rows with id <= through_id are fully covered by the statements."""
    advance: tuple[int, int] | None = None
    """(outbox id, next seq_from): an append range this batch covered only in part."""
    covered: int = 0
    """Outbox rows the batch covers fully (deleted once it is acknowledged)."""
    size: int = 0
    tenant: str = ""
    """Whose work it is: the shard map sends it to that tenant's database."""
    changes: Changes | None = None
    """The same work as change-log records (mirror/changes.py), for a drain that has a
    change log (None otherwise: no records are made)."""

    def room(self, statements: int = 1) -> bool:
        return len(self.statements) + statements <= STATEMENTS_PER_BATCH and self.size < BATCH_BYTES

    def add(self, sql: str, params: tuple[SqlValue, ...], size: int | None = None) -> None:
        """`size`: the params' `_size`, where the caller has summed it already."""
        self.statements.append((sql, params))
        self.size += _size(params) if size is None else size


_session_values = itemgetter(*SESSION_COLUMNS)
_entry_values = itemgetter(*ENTRY_COLUMNS)
"""A row's values in the mirror's column order, picked in one call (no Python step per value:
the drain runs after every write, and each step costs more in WebAssembly)."""


@dataclass
class _Action:
    """Adjacent outbox rows of one kind and session, merged: consecutive appends become one
    seq range, so 100 one-entry turns ship as multi-row upserts, not 100 statements."""

    op: Row
    rows: list[Row]

    @property
    def key(self) -> tuple[str, str]:
        return (self.op["tenant_id"], self.op["session_id"])

    def absorb(self, row: Row) -> bool:
        same = (row["tenant_id"], row["session_id"]) == self.key and row["op"] == self.op["op"]
        if same and row["op"] == "upsert_session":
            self.rows.append(row)
            return True
        if (
            same
            and row["op"] == "append_entries"
            and row["seq_from"] == self.rows[-1]["seq_to"] + 1
        ):
            self.rows.append(row)
            return True
        return False


def _merge(ops: list[Row]) -> list[_Action]:
    actions: list[_Action] = []
    for op in ops:
        if not (actions and actions[-1].absorb(op)):
            actions.append(_Action(op, [op]))
    return actions


def _last_resets(ops: list[Row]) -> dict[tuple[str, str], int]:
    """Each session's latest tombstone among `ops` (0: none), what LAST_RESET answers when
    `ops` is the whole outbox: a turn's drain saves that statement."""
    last: dict[tuple[str, str], int] = {}
    for op in ops:
        key = (op["tenant_id"], op["session_id"])
        last[key] = max(last.get(key, 0), op["id"] if op["op"] in RESETS else 0)
    return last


class _Planner:
    def __init__(self, sql: SqlPort, log: bool) -> None:
        self.sql = sql
        self.batch = Batch(changes=empty() if log else None)
        self.log = self.batch.changes
        self.last_reset: dict[tuple[str, str], int] = {}
        self.upserted: set[tuple[str, str]] = set()

    def plan(self) -> Batch | None:
        ops = self.sql.execute(q.SELECT_OUTBOX_HEAD, (OUTBOX_PAGE,))
        if not ops:
            return None
        if len(ops) < OUTBOX_PAGE:
            self.last_reset = _last_resets(ops)  # the whole outbox: no need to ask for them
        self.batch.tenant = ops[0]["tenant_id"]
        for action in _merge(ops):
            if action.key[0] != self.batch.tenant:
                break  # another tenant's work: its own batch, to its own database
            shipped_to = self._take(action)
            done = [r for r in action.rows if shipped_to is None or r["seq_to"] < shipped_to]
            if done:
                self.batch.through_id = done[-1]["id"]
                self.batch.covered += len(done)
            if shipped_to is not None:
                cut = action.rows[len(done)] if len(done) < len(action.rows) else None
                if cut is not None and shipped_to > cut["seq_from"]:
                    self.batch.advance = (cut["id"], shipped_to)
                break
        return self.batch

    def _take(self, action: _Action) -> int | None:
        """Add the statements for one action. None: all of it fits. Otherwise the seq from
        which its entries did not fit (or 0 when nothing of it fits): the batch is full."""
        key = action.key
        if key not in self.last_reset:
            found = self.sql.execute(q.LAST_RESET, key)
            self.last_reset[key] = (found[0]["id"] if found else None) or 0
        kind = action.op["op"]
        if kind in RESETS:
            return self._reset(action)
        if action.rows[-1]["id"] < self.last_reset[key]:
            return None  # a later tombstone undoes it: nothing to send
        if not self._upsert_session_once(key):
            return 0
        if kind == "append_entries":
            start, end = action.rows[0]["seq_from"], action.rows[-1]["seq_to"]
            return self._ship_entries(key, start, end, AppendVersions(action.rows))
        if kind == "delete_entries":
            seqs = (action.op["seq_from"], action.op["seq_to"])
            left = self._add(q.DELETE_ENTRY_RANGE, (*key, *seqs))
            if left is None and self.log is not None:
                self.log[ENTRY_STREAM].append(entries_tombstone(action.op))
            return left
        return None

    def _add(self, sql: str, params: tuple[SqlValue, ...]) -> int | None:
        if not self.batch.room():
            return 0
        self.batch.add(sql, params)
        return None

    def _reset(self, action: _Action) -> int | None:
        """A tombstone (delete) or a purge (resync): the session starts over in D1."""
        key = action.key
        if not self.batch.room(2):
            return 0
        if action.op["op"] == "resync":
            self.batch.add(q.PURGE_ENTRIES, key)
            self.batch.add(q.PURGE_SESSION, key)
        else:
            version = action.op["version"]
            self.batch.add(q.TOMBSTONE_ENTRIES, (*key, *key, version))
            self.batch.add(q.TOMBSTONE_SESSION, (*key, version))
            if self.log is not None:
                self.log[SESSION_STREAM].append(session_tombstone(action.op))
        self.upserted.discard(key)
        return None

    def _upsert_session_once(self, key: tuple[str, str]) -> bool:
        """Ship the session's current row once per batch; False when the batch is full."""
        if key in self.upserted:
            return True
        if not self.batch.room():
            return False
        rows = self.sql.execute(q.SELECT_SESSION_ROW, key)
        if rows:
            values = _session_values(rows[0])
            self.batch.add(q.UPSERT_SESSION, values)
            if self.log is not None:
                self.log[SESSION_STREAM].append(session_record(values))
        self.upserted.add(key)
        return True

    def _ship_entries(
        self, key: tuple[str, str], start: int, end: int, versions: AppendVersions
    ) -> int | None:
        """Ship entries start..end as far as they fit; the first seq left over, if any."""
        while start <= end:
            capacity = (STATEMENTS_PER_BATCH - len(self.batch.statements)) * q.ENTRY_ROWS_PER_UPSERT
            if capacity <= 0 or not self.batch.room():
                return start
            rows = self.sql.execute(q.SELECT_ENTRY_ROWS, (*key, start, end, capacity))
            if not rows:
                return None
            shipped = self._pack(rows, versions)
            if shipped < len(rows):
                return rows[shipped]["seq"]
            start = rows[-1]["seq"] + 1
        return None

    def _pack(self, rows: list[Row], versions: AppendVersions) -> int:
        """Group rows into multi-row upserts within the parameter and byte limits."""
        shipped = 0
        chunk: list[tuple[SqlValue, ...]] = []
        chunk_size = 0

        def flush() -> None:
            nonlocal chunk, chunk_size
            if chunk:
                params = tuple(chain.from_iterable(chunk))
                self.batch.add(q.upsert_entries(len(chunk)), params, chunk_size)
                chunk, chunk_size = [], 0

        for row in rows:
            values = _entry_values(row)
            size = _size(values)
            full = len(chunk) == q.ENTRY_ROWS_PER_UPSERT or chunk_size + size > STATEMENT_BYTES
            if chunk and full:
                flush()
            if not chunk and not self.batch.room():
                break
            chunk.append(values)
            chunk_size += size
            if self.log is not None:
                self.log[ENTRY_STREAM].append(entry_record(values, versions.of(row["seq"])))
            shipped += 1
        flush()
        return shipped


def plan_batch(sql: SqlPort, log: bool = False) -> Batch | None:
    """The next batch to send, or None when the outbox is empty. `log`: with its change-log
    records too."""
    return _Planner(sql, log).plan()


def acknowledge(sql: SqlPort, batch: Batch) -> None:
    """Forget what D1 has acknowledged (inside the caller's transaction)."""
    if batch.through_id:
        sql.execute(q.DELETE_OUTBOX_THROUGH, (batch.through_id,))
    if batch.advance is not None:
        op_id, next_seq = batch.advance
        sql.execute(q.ADVANCE_OUTBOX, (next_seq, op_id))
