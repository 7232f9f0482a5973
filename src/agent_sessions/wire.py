"""Request and response models of the HTTP API.

They describe shapes for validation and the OpenAPI document. Limits and the rules that need
the stored state (sizes, versions, duplicate ids) are the engine's, so RPC callers, who skip
this layer, get exactly the same answers.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .engine.limits import MAX_ENTRIES_PER_APPEND, MAX_TEXT_FIELD
from .engine.rules import ENTRY_TYPES, STATUSES
from .engine.values import ID_PATTERN, MAX_SAFE_INT

Id = Annotated[str, Field(pattern=ID_PATTERN, examples=["sess_01"])]


def _json_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer (a JSON number), not a string or a boolean")
    return value


Count = Annotated[int, Field(ge=0, le=MAX_SAFE_INT), BeforeValidator(_json_number)]
"""An integer as JSON Schema means it (2.0 counts, 2.5 does not), but never "7" or true,
which pydantic's lax mode would otherwise take as 7 and 1: the OpenAPI document says integer,
and the engine, which RPC callers reach directly, refuses them too."""


def _digits(value: Any) -> Any:
    if not isinstance(value, str) or not _DIGITS.fullmatch(value):
        raise ValueError("must be an integer written in plain digits (0-9)")
    return value


_DIGITS = re.compile(r"[0-9]{1,16}")
"""2**52, the largest integer the engine binds, has 16 digits."""
DIGITS = BeforeValidator(_digits)
"""For an integer in the query string, after its Query(...): plain ASCII digits only, where
int() would also take "1_0", "+1", " 1" and other scripts' digits. (Before the Query, it
would turn the Query's bounds into keys that are not JSON Schema.)"""
ShortText = Annotated[str, Field(max_length=MAX_TEXT_FIELD)]
EntryType = Literal[ENTRY_TYPES]  # type: ignore[valid-type]  # the engine's list, as a type
SettableStatus = Literal[tuple(s for s in STATUSES if s != "archived")]  # type: ignore[misc]
"""'archived' is set and cleared by the cold tier only."""
Status = Literal[STATUSES]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionCreate(Strict):
    id: Id | None = Field(None, description="Session id; generated when absent.")
    user_id: ShortText | None = None
    agent_name: ShortText | None = None
    title: ShortText | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    data: Any = Field(None, description="Opaque JSON blob (Flue's single-blob layout).")
    expires_at: Count | None = Field(None, description="Milliseconds since the epoch.")


class Session(BaseModel):
    id: str
    created_at: int
    updated_at: int
    user_id: str | None
    agent_name: str | None
    title: str | None
    status: Status
    parent_id: str | None
    forked_from_seq: int | None
    leaf_id: str | None
    entry_count: int
    message_count: int
    last_seq: int
    compacted_through_seq: int
    input_tokens: int
    output_tokens: int
    version: int
    expires_at: int | None
    metadata: dict[str, Any]
    status_changed_at: int | None = Field(
        description="When the status last changed (at creation, the creation time)."
    )
    archive_key: str | None = Field(
        None, description="Where the cold tier keeps the session's snapshot, once archived."
    )


class SessionUpdate(Strict):
    """Only the fields sent change; null clears a field. metadata is replaced whole.
    Status moves active -> completed | abandoned, and back to active."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": [field]}
                for field in ("user_id", "agent_name", "title", "metadata", "status", "expires_at")
            ]
        },
    )

    user_id: ShortText | None = None
    agent_name: ShortText | None = None
    title: ShortText | None = None
    metadata: dict[str, Any] | None = None
    status: SettableStatus = Field(None, description="Omit it to keep the status.")  # type: ignore[assignment]
    expires_at: Count | None = None
    expected_version: Count | None = None


def _bookmark_answered() -> Any:
    return Field(
        description="D1's bookmark after this read (also the x-d1-bookmark header): send it "
        "as x-d1-bookmark to read at least this fresh next time. Null in local mode."
    )


class SessionPage(BaseModel):
    sessions: list[Session]
    next_cursor: str | None = Field(description="Pass as cursor for the next page.")
    bookmark: str | None = _bookmark_answered()


class Deleted(BaseModel):
    id: str
    deleted: bool
    version: int


class DataSave(Strict):
    data: Any = Field(description="Any JSON value; null clears the blob.")
    expected_version: Count | None = None


class SessionData(BaseModel):
    id: str
    data: Any
    updated_at: int
    version: int


class EntryIn(Strict):
    id: Id | None = Field(None, description="Unique within the session; generated when absent.")
    type: EntryType
    role: ShortText | None = None
    parent_id: Id | None = Field(None, description="Defaults to the session's current leaf.")
    content: str | None = Field(None, description="Searchable text.")
    payload: Any = Field(None, description="Any JSON value.")
    input_tokens: Count = 0
    output_tokens: Count = 0


class WriterSeq(Strict):
    writer_id: Id
    epoch: Count = Field(description="From the writer's claim.")
    seq: Count = Field(description="0 for the first append after the claim, then +1 each.")


class AppendRequest(Strict):
    entries: list[EntryIn] = Field(min_length=1, max_length=MAX_ENTRIES_PER_APPEND)
    expected_version: Count | None = None
    writer: WriterSeq | None = Field(None, description="Fence the append to a claimed writer.")


class WriterClaim(Strict):
    writer_id: Id


class SearchHit(BaseModel):
    session_id: str
    seq: int
    type: str
    role: str | None
    snippet: str = Field(description="The matching text, matches in [brackets].")


class SearchPage(BaseModel):
    hits: list[SearchHit]
    bookmark: str | None = _bookmark_answered()


class Writer(BaseModel):
    writer_id: str | None = Field(description="Null until a writer claims the session.")
    epoch: int
    next_seq: int
    head_seq: int
    version: int


class Appended(BaseModel):
    id: str
    seq: int


class AppendResult(BaseModel):
    entries: list[Appended]
    first_seq: int
    last_seq: int
    version: int
    replayed: bool = Field(
        False, description="True when this exact batch was applied before: nothing was written."
    )


class BlobInfo(BaseModel):
    bytes: int = Field(description="The size of the part left out (its JSON, UTF-8).")
    sha256: str = Field(description="Its SHA-256, hex.")
    fields: list[str] = Field(description="Which of content and payload it holds.")


class Entry(BaseModel):
    seq: int
    id: str
    parent_id: str | None
    type: str
    role: str | None
    content: str | None
    payload: Any
    input_tokens: int
    output_tokens: int
    created_at: int
    blob: BlobInfo | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="Only in a read with large=prefix, and only for an entry larger than its "
        "row holds: content is then its first characters and a payload left out is null.",
    )


class EntryPage(BaseModel):
    entries: list[Entry]
    has_more: bool
    next_cursor: int | None = Field(
        description="Pass as after_seq (order=asc) or before_seq (order=desc) for the next page."
    )
    version: int = Field(description="The session's version when the page was read.")
    entry_count: int = Field(
        description="How many entries the session holds. A reader that keeps the entries up to "
        "a seq and reads on from there knows from it whether any it kept was removed meanwhile: "
        "seqs are never reused, so kept + new = entry_count unless some were."
    )
    last_seq: int


class MirrorStatus(BaseModel):
    pending: int = Field(description="Outbox rows not yet acknowledged by D1.")
    oldest_pending_at: int | None
    lag_ms: int = Field(description="Age of the oldest pending row: how far D1 is behind.")
    attempts: int = Field(description="Consecutive failed batches (0 when healthy).")
    last_error: str | None
    last_attempt_at: int | None
    last_success_at: int | None
    next_attempt_at: int | None
    delivered: int = Field(description="Outbox rows delivered, all time.")
    batches: int = Field(
        0, description="D1 batches sent, all time (one per database a batch went to)."
    )
    statements: int = Field(0, description="D1 statements in those batches, all time.")
    alarm_failures: int = Field(
        0, description="Consecutive alarms with a failed job (sweep, archive, drain); 0 when well."
    )
    alarm_error: str | None = Field(None, description="What the last failed alarm hit.")
    bookmark: str | None = Field(
        None,
        description="D1's bookmark after the last batch this object delivered to the tenant's "
        "database; once pending is 0, a listing or search sent with it as x-d1-bookmark sees "
        "this session's writes. Null in local mode, before a delivery, or after the object "
        "was evicted (kept in memory): read with x-d1-bookmark: first-primary instead.",
    )


class ParityCounts(BaseModel):
    missing: int
    extra: int
    different: int


class ParitySeqs(BaseModel):
    missing: list[int]
    extra: list[int]
    different: list[int]


class ParityReport(BaseModel):
    id: str
    equal: bool
    session_equal: bool
    counts: ParityCounts
    entries: ParitySeqs = Field(description="The first differing seqs of each kind.")


class Resync(BaseModel):
    id: str
    resync: bool
    exists: bool


class ForkRequest(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"not": {"required": ["at_seq", "at_entry_id"]}}
    )

    id: Id | None = Field(None, description="The child's id; generated when absent.")
    at_seq: Count | None = Field(None, description="Copy entries up to this seq (0: none).")
    at_entry_id: Id | None = Field(None, description="Or up to this entry.")
    title: ShortText | None = None
    user_id: ShortText | None = None
    agent_name: ShortText | None = None
    metadata: dict[str, Any] | None = None


class LeafMove(Strict):
    entry_id: Id = Field(description="An entry of this session: the new end of the branch.")
    expected_version: Count | None = None


class PruneRequest(Strict):
    before_seq: Count = Field(description="Entries with a lower seq are deleted for good.")
    expected_version: Count | None = None


class ReplaceRequest(Strict):
    from_seq: Count = Field(description="The first seq to replace; last_seq + 1 replaces none.")
    entries: list[EntryIn] = Field(
        max_length=MAX_ENTRIES_PER_APPEND, description="The new tail; empty truncates."
    )
    expected_version: Count | None = None


class Replaced(BaseModel):
    id: str
    removed: int
    version: int
    entries: list[Appended] = Field(default_factory=list)
    first_seq: int | None = None
    last_seq: int | None = None


class Pruned(BaseModel):
    id: str
    pruned: int
    version: int


class Context(BaseModel):
    entries: list[Entry] = Field(
        description="The latest compaction's summary entry first (if any), then the branch "
        "from its first_kept_seq (or the root) to the leaf, in seq order."
    )
    leaf_id: str | None
    compaction_seq: int | None


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    error: ErrorDetail
