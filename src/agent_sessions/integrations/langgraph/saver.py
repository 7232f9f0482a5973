"""`AgentSessionsSaver`: a LangGraph checkpointer whose threads are agent-sessions sessions."""

from __future__ import annotations

import random
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from ...client import AsyncClient, Client
from ...engine import AlreadyExists, NotFound
from .._steps import PLAN, Steps, append_or_create, iterate_async, iterate_sync, run_async, run_sync
from . import pruning
from .reading import Found, config_of, scan
from .records import (
    Record,
    checkpoint_entry,
    dump,
    session_fields,
    session_of,
    thread_metadata,
    value_entry,
    write_rows,
    writes_entry,
)

CACHE_LIMIT = 4096
"""Threads (and namespaces) whose latest checkpoint's value locations a saver remembers."""

Locator = dict[str, tuple[Any, int]]
"""channel -> (version, seq of the entry holding that value)."""


class AgentSessionsSaver(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer on agent-sessions: each thread is a session, its checkpoints,
    channel values and pending writes are entries (see `records`).

        saver = AgentSessionsSaver(Client("http://127.0.0.1:8787", token="..."))
        graph = builder.compile(checkpointer=saver)
        graph.invoke(inputs, {"configurable": {"thread_id": "t-1", "user_id": "ada"}})

    Sync and async methods are the same code (`_steps`); give it a `Client` or an
    `AsyncClient` (inside a Worker) and it builds the other from the same settings. A thread's
    session is created by its first write, with `user_id` from the run's configurable (else
    the saver's) and `agent_name`, and `{"langgraph": {"thread_id": ...}}` as metadata, so D1
    can list a user's threads.
    """

    def __init__(
        self,
        client: Client | AsyncClient,
        *,
        serde: SerializerProtocol | None = None,
        user_id: str | None = None,
        agent_name: str | None = None,
    ) -> None:
        super().__init__(serde=serde)
        settings = (client.base_url, client.token, client.timeout, client.retry)
        self.client = client if isinstance(client, Client) else Client(*settings)
        self.async_client = client if isinstance(client, AsyncClient) else AsyncClient(*settings)
        self.user_id = user_id
        self.agent_name = agent_name
        self._heads: dict[tuple[str, str], tuple[str, Locator]] = {}
        """(thread, ns) -> the checkpoint last put or read there, and where its values are."""
        self._floors: dict[tuple[str, str, str], int] = {}
        """Writes sent before their checkpoint was put: a seq below them."""
        self._newest: dict[str, int] = {}
        """thread -> the highest seq seen: whatever is written next lands above it."""
        self._lock = threading.Lock()
        """LangGraph calls a sync saver from its background threads."""

    # -- reading ---------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._remember(next(iterate_sync(self.client, self._find(config)), None))

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        async for found in iterate_async(self.async_client, self._find(config)):
            return self._remember(found)
        return None

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        for found in iterate_sync(self.client, self._list(config, filter, before, limit)):
            yield found.tuple

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        steps = self._list(config, filter, before, limit)
        async for found in iterate_async(self.async_client, steps):
            yield found.tuple

    def _find(self, config: RunnableConfig) -> Steps[None]:
        thread, ns = _thread(config), config["configurable"].get("checkpoint_ns", "")
        wanted = get_checkpoint_id(config)

        def matches(record: Record) -> bool:
            return record.ns == ns and wanted in (None, record.checkpoint_id)

        return scan(session_of(thread), thread, self.serde, matches, limit=1)

    def _list(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> Steps[None]:
        if config is None:
            raise ValueError("AgentSessionsSaver lists one thread at a time: pass its config")
        thread, conf = _thread(config), config["configurable"]
        ns = conf.get("checkpoint_ns")
        until = get_checkpoint_id(before) if before else None
        wanted = filter or {}

        def matches(record: Record) -> bool:
            metadata = record.body["metadata"]
            return (
                (ns is None or record.ns == ns)
                and (until is None or record.checkpoint_id < until)
                and all(metadata.get(key) == value for key, value in wanted.items())
            )

        return scan(session_of(thread), thread, self.serde, matches, limit, first_page=64)

    def _remember(self, found: Found | None) -> CheckpointTuple | None:
        if found is None:
            return None
        conf = found.tuple.config["configurable"]
        thread = str(conf["thread_id"])
        self._saw(thread, found.newest_seq)
        versions = found.tuple.checkpoint["channel_versions"]
        locator = {ch: (versions[ch], seq) for ch, seq in found.record.value_seqs().items()}
        self._head(thread, conf["checkpoint_ns"], conf["checkpoint_id"], locator)
        return found.tuple

    # -- writing ---------------------------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return run_sync(self.client, self._put(config, checkpoint, metadata, new_versions))

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        steps = self._put(config, checkpoint, metadata, new_versions)
        return await run_async(self.async_client, steps)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        run_sync(self.client, self._put_writes(config, writes, task_id, task_path))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await run_async(self.async_client, self._put_writes(config, writes, task_id, task_path))

    def _put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Steps[RunnableConfig]:
        """One append: the values this checkpoint changed, then the checkpoint. Values it did
        not change are referenced where the parent's are, when this saver knows (it put or
        read the parent); otherwise they are stored again, so a checkpoint never depends on
        what a saver remembers."""
        conf = config["configurable"]
        thread, ns = _thread(config), conf.get("checkpoint_ns", "")
        parent = conf.get("checkpoint_id")
        head = self._heads.get((thread, ns))
        known = head[1] if head is not None and head[0] == parent else {}
        values, versions = checkpoint["channel_values"], checkpoint["channel_versions"]
        refs: dict[str, int] = {}
        fresh: list[str] = []
        for channel, version in versions.items():
            if channel not in new_versions and known.get(channel, (None, 0))[0] == version:
                refs[channel] = known[channel][1]
            elif channel in values:
                fresh.append(channel)
        entries = [value_entry(ns, ch, versions[ch], dump(self.serde, values[ch])) for ch in fresh]
        # The i-th new value is len(fresh) - i entries before the checkpoint.
        refs |= {ch: i - len(fresh) for i, ch in enumerate(fresh)}
        meta = get_serializable_checkpoint_metadata(config, metadata)
        early = self._floors.get((thread, ns, checkpoint["id"]))
        entries.append(checkpoint_entry(ns, checkpoint, meta, parent, refs, early))
        written = yield from self._append(config, thread, entries)
        with self._lock:
            self._floors.pop((thread, ns, checkpoint["id"]), None)
        at = {ch: seq if seq > 0 else written.last_seq + seq for ch, seq in refs.items()}
        self._head(thread, ns, checkpoint["id"], {ch: (versions[ch], at[ch]) for ch in at})
        return config_of(conf["thread_id"], ns, checkpoint["id"])

    def _put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, path: str
    ) -> Steps[None]:
        conf = config["configurable"]
        thread, ns, checkpoint_id = (
            _thread(config),
            conf.get("checkpoint_ns", ""),
            conf["checkpoint_id"],
        )
        head = self._heads.get((thread, ns))
        if head is None or head[0] != checkpoint_id:
            with self._lock:
                self._floors.setdefault((thread, ns, checkpoint_id), self._newest.get(thread, 0))
                _bound(self._floors)
        rows = write_rows(self.serde, writes)
        yield from self._append(
            config, thread, [writes_entry(ns, checkpoint_id, task_id, path, rows)]
        )

    def _append(
        self, config: RunnableConfig, thread: str, entries: list[dict[str, Any]]
    ) -> Steps[Any]:
        user = config["configurable"].get("user_id")
        fields = session_fields(
            thread, user if isinstance(user, str) else self.user_id, self.agent_name
        )
        written = yield from append_or_create(session_of(thread), entries, fields)
        self._saw(thread, written.last_seq)
        return written

    def get_next_version(self, current: str | int | float | None, channel: None = None) -> str:
        """`<counter, 32 digits>.<random>`: ordered by the counter as strings compare, and
        unique across branches, so a value entry is named by its channel and version."""
        counter = 0 if current is None else int(str(current).split(".")[0])
        return f"{counter + 1:032}.{random.random():.16f}"

    # -- threads ---------------------------------------------------------------------------

    def delete_thread(self, thread_id: str) -> None:
        run_sync(self.client, self._delete(str(thread_id)))

    async def adelete_thread(self, thread_id: str) -> None:
        await run_async(self.async_client, self._delete(str(thread_id)))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        run_sync(self.client, self._copy(str(source_thread_id), str(target_thread_id)))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await run_async(self.async_client, self._copy(str(source_thread_id), str(target_thread_id)))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        for thread in thread_ids:
            run_sync(self.client, self._prune(str(thread), strategy))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        for thread in thread_ids:
            await run_async(self.async_client, self._prune(str(thread), strategy))

    def _delete(self, thread: str) -> Steps[None]:
        self._forget(thread)
        try:
            yield PLAN.delete_session(session_of(thread))
        except NotFound:
            return

    def _copy(self, source: str, target: str) -> Steps[None]:
        """A fork of the source's session: every entry, seqs and all, in pages, idempotent.
        A target thread that already has checkpoints is refused (a fork cannot merge)."""
        metadata = thread_metadata(target)
        try:
            yield PLAN.fork_session(session_of(source), session_of(target), metadata=metadata)
        except NotFound:
            return
        except AlreadyExists:
            raise ValueError(
                f"thread {target!r} already exists; copy_thread needs a new one"
            ) from None

    def _prune(self, thread: str, strategy: str) -> Steps[None]:
        self._forget(thread)
        yield from pruning.prune(session_of(thread), strategy)

    # -- what this saver remembers ---------------------------------------------------------

    def _head(self, thread: str, ns: str, checkpoint_id: str, locator: Locator) -> None:
        with self._lock:
            self._heads.pop((thread, ns), None)
            self._heads[(thread, ns)] = (checkpoint_id, locator)
            _bound(self._heads)

    def _saw(self, thread: str, seq: int) -> None:
        with self._lock:
            self._newest[thread] = max(seq, self._newest.get(thread, 0))
            _bound(self._newest)

    def _forget(self, thread: str) -> None:
        with self._lock:
            self._newest.pop(thread, None)
            for key in [k for k in self._heads if k[0] == thread]:
                del self._heads[key]


def _thread(config: RunnableConfig) -> str:
    return str(config["configurable"]["thread_id"])


def _bound(cache: dict[Any, Any]) -> None:
    """Keep a memo small: drop the oldest entries (dicts keep insertion order)."""
    while len(cache) > CACHE_LIMIT:
        del cache[next(iter(cache))]
