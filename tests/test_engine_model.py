"""A model-based property test of the engine (hypothesis, stateful).

Random sequences of create, append (new and repeated ids), compaction, prune, rewind, status
changes, fork and delete run against the engine and against a plain in-memory model; after
every step the engine's sessions, counters, entries and context must equal the model's.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from agent_sessions.adapters.runtime_values import DURABLE_OBJECT
from agent_sessions.adapters.sqlite import SqliteSql
from agent_sessions.engine import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    SessionEngine,
    SessionKey,
)
from agent_sessions.engine.errors import DuplicateEntry
from agent_sessions.engine.rules import TRANSITIONS

IDS = st.sampled_from(["a", "b", "c", "d"])
ENTRY_IDS = st.sampled_from([f"e{i}" for i in range(12)])
KINDS = st.sampled_from(["message", "tool_call", "tool_result"])


@dataclass
class Entry:
    seq: int
    id: str
    type: str
    parent: str | None
    content: str
    payload: Any = None


@dataclass
class Model:
    entries: list[Entry] = field(default_factory=list)
    last_seq: int = 0
    leaf: str | None = None
    status: str = "active"
    version: int = 1
    compacted: int = 0
    parent_id: str | None = None
    forked_from: int | None = None

    def by_id(self, entry_id: str) -> Entry | None:
        return next((e for e in self.entries if e.id == entry_id), None)

    def context(self) -> list[int]:
        """The branch from the leaf, cut at the latest compaction's first_kept_seq."""
        chain, floor = [], 0
        node = self.by_id(self.leaf) if self.leaf else None
        while node is not None and node.seq >= floor:
            chain.append(node)
            if node.type == "compaction" and floor == 0:
                floor = node.payload["first_kept_seq"]
            parent = self.by_id(node.parent) if node.parent else None
            node = parent if parent is not None and parent.seq < node.seq else None
        chain = [e for e in chain if e.seq >= floor]
        seqs = sorted(e.seq for e in chain)
        compactions = [e.seq for e in chain if e.type == "compaction"]
        if compactions:
            latest = max(compactions)
            seqs = [latest, *(s for s in seqs if s != latest)]
        return seqs


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = 1_000
        conn = sqlite3.connect(":memory:", isolation_level=None)
        self.engine = SessionEngine(SqliteSql(conn, DURABLE_OBJECT), lambda: self.clock)
        self.model: dict[str, Model] = {}
        self.floors: dict[str, int] = {}

    def key(self, session_id: str) -> SessionKey:
        return SessionKey("t", session_id)

    @rule(sid=IDS)
    def create(self, sid: str) -> None:
        if sid in self.model:
            try:
                self.engine.create_session(self.key(sid))
                raise AssertionError("created twice")
            except AlreadyExists:
                return
        made = self.engine.create_session(self.key(sid))
        self.model[sid] = Model(version=self.floors.get(sid, 0) + 1)
        assert made["version"] == self.model[sid].version

    @rule(sid=IDS, ids=st.lists(ENTRY_IDS, min_size=1, max_size=4), kind=KINDS)
    def append(self, sid: str, ids: list[str], kind: str) -> None:
        batch = [{"type": kind, "id": i, "content": f"{kind}:{i}"} for i in ids]
        m = self.model.get(sid)
        try:
            result = self.engine.append(self.key(sid), batch)
        except NotFound:
            assert m is None
            return
        except InvalidInput:
            assert len(set(ids)) < len(ids), "only a repeated id within the batch is invalid"
            return
        except DuplicateEntry:
            assert m is not None
            known = [m.by_id(i) for i in ids]
            assert any(known), "a duplicate needs an existing id"
            assert not all(k and k.type == kind and k.content == f"{kind}:{k.id}" for k in known)
            return
        assert m is not None
        if result.get("replayed"):
            assert all(m.by_id(i) for i in ids)
            return
        for entry_id in ids:
            m.last_seq += 1
            m.entries.append(Entry(m.last_seq, entry_id, kind, m.leaf, f"{kind}:{entry_id}"))
            m.leaf = entry_id
        m.version += 1

    @precondition(lambda self: any(m.entries for m in self.model.values()))
    @rule(data=st.data())
    def compact(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(sorted(s for s, m in self.model.items() if m.entries)))
        m = self.model[sid]
        first_kept = data.draw(st.integers(1, m.last_seq + 1))
        entry_id = f"k{m.last_seq + 1}"
        if m.by_id(entry_id):
            return
        summary = {"type": "compaction", "id": entry_id, "payload": {"first_kept_seq": first_kept}}
        self.engine.append(self.key(sid), [summary])
        m.last_seq += 1
        m.entries.append(Entry(m.last_seq, entry_id, "compaction", m.leaf, "", summary["payload"]))
        m.leaf = entry_id
        m.compacted = max(m.compacted, first_kept - 1)
        m.version += 1

    @precondition(lambda self: any(m.entries for m in self.model.values()))
    @rule(data=st.data())
    def rewind(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(sorted(s for s, m in self.model.items() if m.entries)))
        m = self.model[sid]
        target = data.draw(st.sampled_from(m.entries))
        self.engine.set_leaf(self.key(sid), target.id)
        m.leaf = target.id
        m.version += 1

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def prune(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(sorted(self.model)))
        m = self.model[sid]
        before = data.draw(st.integers(0, m.last_seq + 1))
        leaf = m.by_id(m.leaf) if m.leaf else None
        try:
            result = self.engine.prune(self.key(sid), before)
        except InvalidInput:
            assert leaf is not None
            assert leaf.seq < before
            return
        gone = [e for e in m.entries if e.seq < before]
        assert result["pruned"] == len(gone)
        m.entries = [e for e in m.entries if e.seq >= before]
        m.version += 1

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data(), status=st.sampled_from(["active", "completed", "abandoned", "archived"]))
    def change_status(self, data: st.DataObject, status: str) -> None:
        sid = data.draw(st.sampled_from(sorted(self.model)))
        m = self.model[sid]
        allowed = status == m.status or status in TRANSITIONS[m.status]
        try:
            self.engine.update_session(self.key(sid), {"status": status})
        except InvalidInput:
            assert not allowed
            return
        assert allowed
        m.status = status
        m.version += 1

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data(), child=IDS)
    def fork(self, data: st.DataObject, child: str) -> None:
        sid = data.draw(st.sampled_from(sorted(self.model)))
        if child in self.model or child == sid:
            return
        m = self.model[sid]
        at = data.draw(st.integers(0, m.last_seq))
        copied = [e for e in m.entries if e.seq <= at]
        page = [
            {"type": e.type, "id": e.id, "seq": e.seq, "parent_id": e.parent,
             "content": e.content or None, "payload": e.payload}
            for e in copied
        ]  # fmt: skip
        origin = {"parent_id": sid, "forked_from_seq": at}
        made = self.engine.adopt_entries(self.key(child), origin, [])
        if page:
            made = self.engine.adopt_entries(self.key(child), origin, page)
        kid = Model(
            entries=[Entry(**vars(e)) for e in copied],
            last_seq=copied[-1].seq if copied else 0,
            leaf=copied[-1].id if copied else None,
            version=self.floors.get(child, 0) + 1 + (1 if page else 0),
            parent_id=sid,
            forked_from=at,
        )
        kid.compacted = max(
            [e.payload["first_kept_seq"] - 1 for e in copied if e.type == "compaction"] or [0]
        )
        self.model[child] = kid
        assert made["version"] == kid.version

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(sorted(self.model)))
        result = self.engine.delete_session(self.key(sid))
        self.floors[sid] = result["version"]
        assert result["version"] == self.model.pop(sid).version + 1

    @invariant()
    def engine_equals_model(self) -> None:
        self.clock += 1
        for sid in "abcd":
            m = self.model.get(sid)
            if m is None:
                try:
                    self.engine.get_session(self.key(sid))
                    raise AssertionError(f"{sid} should not exist")
                except NotFound:
                    continue
            s = self.engine.get_session(self.key(sid))
            expected = {
                "entry_count": len(m.entries),
                "message_count": sum(e.type == "message" for e in m.entries),
                "last_seq": m.last_seq,
                "leaf_id": m.leaf,
                "status": m.status,
                "version": m.version,
                "compacted_through_seq": m.compacted,
                "parent_id": m.parent_id,
                "forked_from_seq": m.forked_from,
            }
            assert {k: s[k] for k in expected} == expected, sid
            stored = self.engine.read_entries(self.key(sid), limit=1000)["entries"]
            assert [(e["seq"], e["id"], e["parent_id"]) for e in stored] == [
                (e.seq, e.id, e.parent) for e in m.entries
            ]
            context = [e["seq"] for e in self.engine.read_context(self.key(sid))["entries"]]
            assert context == m.context(), sid


TestEngineModel = EngineMachine.TestCase
TestEngineModel.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
