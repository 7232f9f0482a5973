"""Input checked and encoded before a write's transaction starts, so bad input writes nothing:
a batch of entries, a session's fields, and what a batch's compactions imply."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import InvalidInput, TooLarge
from .large import LargeEntry
from .limits import (
    INLINE_ENTRY_BYTES,
    MAX_APPEND_BYTES,
    MAX_DATA_BYTES,
    MAX_ENTRIES_PER_APPEND,
    MAX_METADATA_BYTES,
)
from .rules import ENTRY_FIELDS, ENTRY_TYPES, STATUSES, only
from .values import (
    check_count,
    check_id,
    check_optional_int,
    check_size,
    check_text,
    decode_json,
    encode_json,
    new_id,
)


def prepare_batch(
    entries: Sequence[Mapping[str, Any]],
    limit: int | None = MAX_ENTRIES_PER_APPEND,
    extra: frozenset[str] | set[str] = frozenset(),
    new_ids: Callable[[], str] = new_id,
) -> list[dict[str, Any]]:
    """Validate and encode a batch of entries.

    `limit` caps the entries of one append (None for an import, bounded by the body size);
    `extra` admits more fields (an import keeps `created_at`); `new_ids` gives the id of an
    entry that has none (`placeholder_ids` where only the checks matter). A row holds at most
    INLINE_ENTRY_BYTES of an entry: a larger one arrives split (a `LargeEntry`, whose object
    the host has put: engine/large.py), and counts towards the batch's bytes whole.
    """
    if not isinstance(entries, list | tuple) or not entries:
        raise InvalidInput("entries must be a non-empty list", {"field": "entries"})
    if limit is not None and len(entries) > limit:
        raise TooLarge(
            f"{len(entries)} entries in one append; the limit is {limit}", {"limit": limit}
        )
    batch: list[dict[str, Any]] = []
    ids: set[str] = set()
    total = 0
    allowed = ENTRY_FIELDS | extra
    for index, raw in enumerate(entries):
        where = f"entries[{index}]"
        only(raw, allowed, "entry")
        kind = raw.get("type")
        if kind not in ENTRY_TYPES:
            raise InvalidInput(
                f"{where}.type must be one of {sorted(ENTRY_TYPES)}", {"field": f"{where}.type"}
            )
        entry_id = new_ids() if raw.get("id") is None else check_id(raw["id"], f"{where}.id")
        if entry_id in ids:
            raise InvalidInput(f"{where}.id repeats an id of this batch", {"id": entry_id})
        ids.add(entry_id)
        parent = raw.get("parent_id")
        content = check_text(raw.get("content"), f"{where}.content", None)
        payload = None
        if raw.get("payload") is not None:
            payload = encode_json(raw["payload"], f"{where}.payload", INLINE_ENTRY_BYTES)
        size = check_size((content or "") + (payload or ""), where, INLINE_ENTRY_BYTES)
        ref = raw.ref if isinstance(raw, LargeEntry) else None
        total += size if ref is None else raw.size
        prepared = {
            "id": entry_id,
            "type": kind,
            "role": check_text(raw.get("role"), f"{where}.role"),
            "parent_id": None if parent is None else check_id(parent, f"{where}.parent_id"),
            "content": content,
            "payload": payload,
            "input_tokens": check_count(raw.get("input_tokens"), f"{where}.input_tokens"),
            "output_tokens": check_count(raw.get("output_tokens"), f"{where}.output_tokens"),
            "blob": None if ref is None else ref.column(),
        }
        if "created_at" in extra and raw.get("created_at") is not None:
            prepared["created_at"] = check_count(raw["created_at"], f"{where}.created_at")
        batch.append(prepared)
    if total > MAX_APPEND_BYTES:
        raise TooLarge(
            f"the batch holds {total} bytes; the limit is {MAX_APPEND_BYTES}",
            {"limit": MAX_APPEND_BYTES},
        )
    return batch


def placeholder_ids() -> Callable[[], str]:
    """Ids for checking a batch without drawing random ones (which workerd refuses at import,
    where the gateway's warm-up checks one): ':0', ':1', ..., unlike any id an entry may have
    (':' is not allowed), so they never meet a given one."""
    return map(":{}".format, itertools.count()).__next__


def session_columns(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The given session fields, checked and encoded as the columns store them."""
    columns: dict[str, Any] = {}
    for name in ("user_id", "agent_name", "title"):
        if name in fields:
            columns[name] = check_text(fields[name], name)
    if "metadata" in fields:
        metadata = fields["metadata"] if fields["metadata"] is not None else {}
        if not isinstance(metadata, dict):
            raise InvalidInput("metadata must be an object", {"field": "metadata"})
        columns["metadata"] = encode_json(metadata, "metadata", MAX_METADATA_BYTES)
    if "data" in fields:
        data = fields["data"]
        columns["data"] = None if data is None else encode_json(data, "data", MAX_DATA_BYTES)
    if "expires_at" in fields:
        columns["expires_at"] = check_optional_int(fields["expires_at"], "expires_at")
    if "status" in fields:
        if fields["status"] not in STATUSES:
            raise InvalidInput(f"status must be one of {list(STATUSES)}", {"field": "status"})
        columns["status"] = fields["status"]
    return columns


def compaction_floor(batch: list[dict[str, Any]], seqs: list[int]) -> int | None:
    """The compacted_through_seq that the batch's compaction entries imply, after checking each:
    its payload must name a first_kept_seq from 1 up to the compaction's own seq."""
    floor = None
    for entry, own_seq in zip(batch, seqs, strict=True):
        if entry["type"] != "compaction":
            continue
        payload = decode_json(entry["payload"], f"the payload of {entry['id']!r}")
        kept = payload.get("first_kept_seq") if isinstance(payload, dict) else None
        if isinstance(kept, bool) or not isinstance(kept, int) or not 1 <= kept <= own_seq:
            raise InvalidInput(
                "a compaction entry needs payload.first_kept_seq, from 1 to its own seq",
                {"id": entry["id"], "seq": own_seq},
            )
        floor = max(floor or 0, kept - 1)
    return floor
