"""Large entries in the blob store: the host's side of engine/large.py and engine/blobs.py.

The objects live in the archive's bucket (R2's ARCHIVE, locally <data-dir>/archive), under
`{prefix}/{tenant}/blobs/{session}/`, beside the cold tier's snapshots. A write of large
entries is: split them (pure, every check that can refuse them first), record the keys as
pending (a transaction), put the objects (each durable when its put returns), then the
operation's own transaction, which marks them live. Whatever is still pending afterwards (the
write was refused, replayed, or held those entries already) is deleted before the answer;
what cannot be deleted then is left to the alarm (`collect`), as are objects whose rows a
write removed (prune, replace, delete, expiry) and those of writes that crashed after a put.

Reads fetch the large parts here, beside the store, unless the caller asked for prefixes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..engine import SessionEngine, SessionKey
from ..engine import snapshot as doc
from ..engine.errors import InsufficientStorage
from ..engine.large import blob_prefix, check_mode, public, restore, split
from ..engine.operations import Operation
from .ports import ArchivePort

log = logging.getLogger("agent_sessions")

REMOVING = frozenset({"delete_session", "prune", "replace_history"})
"""The writes that may remove rows with objects (expiry and eviction run in the alarm, which
collects after them): after these the host deletes the objects at once."""
BLOB_MARK = '"blob":'
"""What an export line of a large entry holds; inside a JSON string the quotes are escaped,
so a content that mentions it is never taken for it (a payload key named blob costs a parse)."""


class Blobs:
    def __init__(
        self, engine: Callable[[], SessionEngine], store: ArchivePort | None, prefix: str
    ) -> None:
        self._engine = engine
        self._store = store
        self._prefix = prefix

    def _where(self, key: SessionKey) -> str | None:
        return None if self._store is None else blob_prefix(self._prefix, key)

    async def write(
        self, operation: Operation, key: SessionKey, args: tuple[Any, ...], before_put: Any
    ) -> Any:
        """Run a write whose `entries` may hold large entries (see the module's docstring).
        `before_put` is awaited once the keys are recorded: the shell's alarm must be set
        before any object exists, so that a crash leaves the alarm to find it."""
        index = operation.params.index("entries")
        given = args[index] if len(args) > index else None
        entries, objects = split(given, "entries", self._where(key))
        if objects:
            args = (*args[:index], entries, *args[index + 1 :])
        engine = self._engine()
        if not objects:
            return getattr(engine, operation.name)(key, *args)
        keys = [name for name, _ in objects]
        engine.stage_blobs(key, keys)
        await before_put()
        try:
            try:
                for name, body in objects:
                    await self._put(name, body)
            except Exception as exc:
                log.exception("the blob store refused a large entry")
                raise InsufficientStorage(
                    f"the blob store did not take a large entry ({type(exc).__name__}); "
                    "nothing was written"
                ) from exc
            return getattr(engine, operation.name)(key, *args)
        finally:
            await self._discard(lambda: engine.pending_blobs(keys))

    async def _put(self, name: str, body: bytes) -> None:
        assert self._store is not None
        await self._store.put(name, body)

    async def _discard(self, garbage: Callable[[], Sequence[str]]) -> None:
        """Delete the objects `garbage` names, then their records; what fails is logged and
        left to the alarm (the records stay)."""
        try:
            keys = list(garbage())
            await self._delete(keys)
        except Exception:
            log.exception("deleting unused large entries failed; the alarm retries")

    async def _delete(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        assert self._store is not None
        for name in keys:
            await self._store.delete(name)
        self._engine().forget_blobs(keys)

    async def after_write(self, operation: Operation) -> None:
        """The objects a write doomed (it removed their rows), deleted now if possible; any
        other write costs no statement here."""
        if self._store is not None and operation.name in REMOVING:
            await self._discard(self._engine().blob_garbage)

    async def collect(self) -> int | None:
        """The alarm's part: delete doomed and stale pending objects (a failure raises, and
        the alarm backs off); returns when there is more to do."""
        if self._store is None:
            return None
        engine = self._engine()
        await self._delete(engine.blob_garbage())
        return engine.next_blob_due()

    # -- reads --------------------------------------------------------------------------

    async def resolve(self, operation: Operation, args: tuple[Any, ...], result: Any) -> Any:
        """A read's answer with its large entries whole, or shown as prefixes (`large`)."""
        if "large" not in operation.params:
            return result
        index = operation.params.index("large")
        whole = check_mode(args[index] if len(args) > index else None) == "whole"
        if operation.name == "export_session":
            result["text"] = await self._resolve_text(result["text"], whole)
            return result
        result["entries"] = [await self._entry(e, whole) for e in result["entries"]]
        return result

    async def _entry(self, found: dict[str, Any], whole: bool) -> dict[str, Any]:
        if "blob" not in found:
            return found
        if not whole:
            return public(found)
        if self._store is None:
            raise InsufficientStorage(
                f"entry {found['id']!r} is stored in the blob store, and none is configured"
            )
        return restore(found, await self._store.get(found["blob"]["key"]))

    async def _resolve_text(self, text: str, whole: bool) -> str:
        """An export part's lines, each large entry's made whole (or public)."""
        if BLOB_MARK not in text:
            return text
        lines = text.split("\n")  # not splitlines: U+2028 is text (snapshot.parse)
        for number, line in enumerate(lines):
            if BLOB_MARK not in line:
                continue
            value = json.loads(line)
            if "blob" in value and "seq" in value:
                lines[number] = doc.line(await self._entry(value, whole)).removesuffix("\n")
        return "\n".join(lines)
