"""`prune`: a thread's log rewritten in one `replace_history`, guarded by its version."""

from __future__ import annotations

from typing import Any

from ...engine import NotFound
from ...engine.limits import MAX_PAGE_SIZE
from ...wire import Entry
from .._entries import resend
from .._steps import PLAN, Steps
from .reading import MissingValue, holds
from .records import CHECKPOINT, WRITES, Record, checkpoint_entry, read, value_entry

STRATEGIES = ("keep_latest", "delete")


def prune(session_id: str, strategy: str) -> Steps[None]:
    """ "delete" empties the log (the session stays, with its who and what); "keep_latest"
    keeps the latest checkpoint of each namespace, each now holding all its values, and its
    pending writes. Entries other clients wrote stay, first. Refused for threads whose graph
    uses `DeltaChannel`: their latest checkpoint is rarely a snapshot, and dropping its
    ancestors would empty those channels without an error."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
    try:
        session = yield PLAN.get_session(session_id)
        entries = yield from _all_entries(session_id)
    except NotFound:
        return
    kept = [] if strategy == "delete" else _keep_latest(entries)
    if entries and kept is not None:
        first = entries[0].seq
        yield PLAN.replace_history(session_id, first, kept, expected_version=session.version)


def _all_entries(session_id: str) -> Steps[list[Entry]]:
    entries: list[Entry] = []
    while True:
        after = entries[-1].seq if entries else 0
        page = yield PLAN.read_entries(session_id, after_seq=after, limit=MAX_PAGE_SIZE)
        entries += page.entries
        if not page.has_more:
            return entries


def _keep_latest(entries: list[Entry]) -> list[dict[str, Any]] | None:
    """The new log, or None when every checkpoint is already the latest of its namespace."""
    records = {e.seq: r for e in entries if (r := read(e)) is not None}
    checkpoints = [r for r in records.values() if r.role == CHECKPOINT]
    if any("counters_since_delta_snapshot" in r.body["metadata"] for r in checkpoints):
        raise NotImplementedError(
            "prune(keep_latest) of a thread that uses DeltaChannel would lose its state"
        )
    latest = {r.ns: r for r in checkpoints}
    if len(latest) == len(checkpoints):
        return None
    kept = [resend(e) for e in entries if e.seq not in records]
    for checkpoint in sorted(latest.values(), key=lambda r: r.seq):
        kept += _self_contained(checkpoint, records)
    return kept


def _self_contained(checkpoint: Record, records: dict[int, Record]) -> list[dict[str, Any]]:
    """A checkpoint with all its values just before it, and its writes just after."""
    values = []
    for channel, seq in checkpoint.value_seqs().items():
        value = records.get(seq)
        if value is None or not holds(value, checkpoint, channel):  # find it by its name
            earlier = (r for s, r in reversed(records.items()) if s < checkpoint.seq)
            value = next((r for r in earlier if holds(r, checkpoint, channel)), None)
        if value is None:
            raise MissingValue(f"checkpoint {checkpoint.checkpoint_id} lost its {channel!r}")
        values.append(
            value_entry(checkpoint.ns, channel, value.body["version"], value.body["value"])
        )
    refs = {channel: i - len(values) for i, channel in enumerate(checkpoint.value_seqs())}
    body = checkpoint.body
    rewritten = checkpoint_entry(
        checkpoint.ns, body["checkpoint"], body["metadata"], body["parent"], refs, None
    )
    writes = [
        {"type": "custom", "role": WRITES, "payload": r.body}
        for seq, r in sorted(records.items())
        if r.role == WRITES
        and seq > checkpoint.writes_floor
        and (r.ns, r.checkpoint_id) == (checkpoint.ns, checkpoint.checkpoint_id)
    ]
    return [*values, rewritten, *writes]
