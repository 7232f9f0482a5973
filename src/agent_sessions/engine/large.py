"""Entries too large for a row: which part goes to the blob store, and how it comes back.

An entry whose content plus payload (UTF-8) is over INLINE_ENTRY_BYTES keeps each of the two
that is over half of it in one object of the blob store (its JSON: {"content": ...,
"payload": ...}, the parts that went out), and its row keeps the rest: the first PREFIX_CHARS
characters of a content that went out (what D1 indexes for search), the payload if it stayed,
and `blob`, {"key", "bytes", "sha256", "fields"}: the object's key, size and digest and which
fields it holds. Half the threshold per field means a row never holds more than about half
of it once an entry is split, and a small payload (a compaction's first_kept_seq, which SQL
reads) always stays in its row.

The split is pure and happens before anything is written (the host then records the key as
pending, puts the object, and commits the rows: host.py). A `LargeEntry` is how a split entry
reaches the engine: a dict (the entry as the row keeps it) with its `BlobRef` as an attribute,
which no JSON can carry, so a caller over HTTP or RPC cannot name an object of its own.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .errors import InsufficientStorage, InvalidInput, TooLarge
from .keys import SessionKey
from .limits import INLINE_ENTRY_BYTES, MAX_APPEND_BYTES, MAX_ENTRY_BYTES, PREFIX_CHARS
from .values import check_size, encode_json

LARGE_FIELDS = ("content", "payload")
READ_MODES = ("whole", "prefix")
"""How a read answers a large entry: whole (its parts fetched from the blob store), or as its
row holds it, with `blob` saying what is left out ({"bytes", "sha256", "fields"})."""


@dataclass(frozen=True, slots=True)
class BlobRef:
    key: str
    bytes: int
    sha256: str
    fields: tuple[str, ...]

    def column(self) -> str:
        """The `blob` column's JSON."""
        return json.dumps(asdict(self) | {"fields": list(self.fields)}, separators=(",", ":"))


class LargeEntry(dict[str, Any]):
    """An entry as its row keeps it, with the object that holds the rest (`ref`) and the
    entry's whole size (its content plus payload, as every append measures them)."""

    ref: BlobRef
    size: int

    def __init__(self, row: Mapping[str, Any], ref: BlobRef, size: int) -> None:
        super().__init__(row)
        self.ref, self.size = ref, size


def blob_prefix(prefix: str, key: SessionKey) -> str:
    """Where a session's objects live: `{prefix}/{tenant}/blobs/{session}/`."""
    return f"{prefix}/{key.tenant_id}/blobs/{key.session_id}/"


def check_mode(large: Any) -> str:
    mode = "whole" if large is None else large
    if mode not in READ_MODES:
        raise InvalidInput(f"large must be one of {list(READ_MODES)}", {"field": "large"})
    return mode


def split(entries: Any, where: str, store: str | None) -> tuple[list[Any], list[tuple[str, bytes]]]:
    """The entries with each large one split (a `LargeEntry`), and the objects to put.

    `store` is the key prefix of the session's objects (None: no blob store, and a large
    entry is a 413 saying so). Anything that is not a well-formed large entry is passed on
    unchanged for the engine's checks; a large one is checked here, before any object is put.
    """
    if not isinstance(entries, list | tuple):
        return entries, []
    out: list[Any] = []
    objects: list[tuple[str, bytes]] = []
    batch = 0
    for index, raw in enumerate(entries):
        if isinstance(raw, Mapping) and "blob" in raw:
            raise InvalidInput(
                f"{where}[{index}] carries `blob`: a large entry read with large='prefix' "
                "cannot be written back; read it whole",
                {"field": f"{where}[{index}].blob"},
            )
        sizes = _sizes(raw, f"{where}[{index}]")
        total = 0 if sizes is None else sum(sizes.values())
        batch += total
        if batch > MAX_APPEND_BYTES:
            raise TooLarge(
                f"the batch holds more than {MAX_APPEND_BYTES} bytes", {"limit": MAX_APPEND_BYTES}
            )
        if total <= INLINE_ENTRY_BYTES:
            out.append(raw)
            continue
        if total > MAX_ENTRY_BYTES:
            raise TooLarge(
                f"{where}[{index}] holds {total} bytes; the limit is {MAX_ENTRY_BYTES}",
                {"limit": MAX_ENTRY_BYTES},
            )
        if store is None:
            raise TooLarge(
                f"{where}[{index}] holds {total} bytes: more than {INLINE_ENTRY_BYTES} needs a "
                "blob store (the Worker's ARCHIVE bucket), and none is configured",
                {"limit": INLINE_ENTRY_BYTES},
            )
        fields = tuple(f for f in LARGE_FIELDS if sizes[f] > INLINE_ENTRY_BYTES // 2)
        if raw.get("type") == "compaction" and "payload" in fields:
            raise TooLarge(
                f"{where}[{index}] is a compaction whose payload is over "
                f"{INLINE_ENTRY_BYTES // 2} bytes: it must fit in its row",
                {"limit": INLINE_ENTRY_BYTES // 2},
            )
        body = json.dumps(
            {f: raw[f] for f in fields}, separators=(",", ":"), ensure_ascii=False
        ).encode()
        ref = BlobRef(f"{store}{uuid.uuid4().hex}", len(body), _digest(body), fields)
        row = dict(raw)
        if "content" in fields:
            row["content"] = raw["content"][:PREFIX_CHARS]
        if "payload" in fields:
            row["payload"] = None
        out.append(LargeEntry(row, ref, total))
        objects.append((ref.key, body))
    return out, objects


def _sizes(raw: Any, where: str) -> dict[str, int] | None:
    """The UTF-8 bytes of content and payload as the row would store them; None when the
    entry is malformed there (the engine's checks then say how)."""
    if not isinstance(raw, Mapping):
        return None
    content, payload = raw.get("content"), raw.get("payload")
    if content is not None and not isinstance(content, str):
        return None
    encoded = None if payload is None else encode_json(payload, f"{where}.payload", MAX_ENTRY_BYTES)
    return {
        "content": check_size(content, f"{where}.content", MAX_ENTRY_BYTES) if content else 0,
        "payload": check_size(encoded, f"{where}.payload", MAX_ENTRY_BYTES) if encoded else 0,
    }


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def ref_of(column: str | None) -> dict[str, Any] | None:
    return None if column is None else json.loads(column)


def restore(found: dict[str, Any], body: bytes | None) -> dict[str, Any]:
    """An entry read as its row holds it (with `blob`), made whole from its object."""
    ref = found.pop("blob")
    if body is None or len(body) != ref["bytes"] or _digest(body) != ref["sha256"]:
        raise InsufficientStorage(
            f"the large part of entry {found['id']!r} is missing or damaged in the blob store",
            {"id": found["id"], "key": ref["key"]},
        )
    found.update(json.loads(body))
    return found


def public(found: dict[str, Any]) -> dict[str, Any]:
    """An entry read with large="prefix": the row's parts, and what is left out, without the
    object's key (which only the store uses)."""
    ref = found["blob"]
    found["blob"] = {k: ref[k] for k in ("bytes", "sha256", "fields")}
    return found


def blob_bytes(found: Mapping[str, Any]) -> int:
    """The size of an entry's object (0 for an entry stored whole in its row)."""
    ref = found.get("blob")
    return ref["bytes"] if ref else 0


def row_bytes(row: Mapping[str, Any]) -> int:
    """An entry row's size, no less than an append of the whole entry measures it
    (batches.py): the row's content and payload, plus its object's (the object's JSON is a
    little larger than the parts it holds)."""
    inline = len(((row["content"] or "") + (row["payload"] or "")).encode())
    return inline + (json.loads(row["blob"])["bytes"] if row["blob"] else 0)


def same_blob(stored: str | None, given: str | None) -> bool:
    """Whether two `blob` columns hold the same parts (their keys differ: each write puts
    its own object), so a re-sent large entry counts as the same entry."""
    if stored is None or given is None:
        return stored is given
    a, b = json.loads(stored), json.loads(given)
    return all(a[f] == b[f] for f in ("bytes", "sha256", "fields"))


def blob_keys(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    return [e["blob"]["key"] for e in entries if e.get("blob")]
