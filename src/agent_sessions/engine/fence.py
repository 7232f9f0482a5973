"""Fenced writers: one writer at a time per session, as Flue's `ConversationStreamStore`
fences producers. `claim_writer` makes a writer the only one (the epoch goes up, fencing every
earlier writer); appends then carry `{writer_id, epoch, seq}` with `seq` 0, 1, 2, ...; a
stale epoch, a gap, or the same `seq` with another batch is refused, and an exact retry of
the last `seq` returns the original result."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from . import statements as q
from .errors import Fenced, InvalidInput
from .keys import SessionKey
from .rows import Rows
from .rules import WRITER_FIELDS, only
from .values import check_count, check_id


def writer_claim(writer: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """An append's `writer` field, checked: all three parts, or none."""
    if writer is None:
        return None
    only(writer, WRITER_FIELDS, "writer")
    missing = sorted(WRITER_FIELDS - {k for k, v in writer.items() if v is not None})
    if missing:
        raise InvalidInput(f"writer needs {', '.join(missing)}", {"fields": missing})
    return {
        "writer_id": check_id(writer.get("writer_id"), "writer.writer_id"),
        "epoch": check_count(writer.get("epoch"), "writer.epoch"),
        "seq": check_count(writer.get("seq"), "writer.seq"),
    }


def batch_digest(entries: Sequence[Mapping[str, Any]]) -> str:
    """A batch as sent, before ids are generated: what an exact retry must repeat."""
    text = json.dumps(list(entries), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Fencing(Rows):
    def claim_writer(self, key: SessionKey, writer_id: Any) -> dict[str, Any]:
        """Make `writer_id` the session's only writer: the epoch goes up by one, which fences
        every earlier writer, and the writer sequence starts again at 0. Returns what the
        writer needs to resume: its epoch and the head of the log."""
        check_id(writer_id, "writer_id")

        def write() -> dict[str, Any]:
            session = self._require(key)
            self._sql.execute(q.CLAIM_WRITER, (*key.params, writer_id))
            fence = self._sql.execute(q.SELECT_WRITER, key.params)[0]
            return {
                "writer_id": writer_id,
                "epoch": fence["epoch"],
                "next_seq": 0,
                "head_seq": session["last_seq"],
                "version": session["version"],
            }

        return self._sql.transaction(write)

    def get_writer(self, key: SessionKey) -> dict[str, Any]:
        """The session's writer fence as a writer resumes from it: who holds the claim, its
        epoch and the writer sequence the next append must carry (no claim yet: epoch 0)."""
        session = self._require(key)
        rows = self._sql.execute(q.SELECT_WRITER, key.params)
        fence = rows[0] if rows else {"writer_id": None, "epoch": 0, "next_seq": 0}
        return {
            "writer_id": fence["writer_id"],
            "epoch": fence["epoch"],
            "next_seq": fence["next_seq"],
            "head_seq": session["last_seq"],
            "version": session["version"],
        }

    def _fence(self, key: SessionKey, claim: dict[str, Any], digest: str | None) -> Any:
        """Check a writer's append: the current epoch and writer, and the next writer
        sequence. The previous sequence again with the same batch is an exact retry and
        returns the original result; anything else out of order is a 409 `fenced`."""
        rows = self._sql.execute(q.SELECT_WRITER, key.params)
        fence = rows[0] if rows else None
        if fence is None or (fence["epoch"], fence["writer_id"]) != (
            claim["epoch"],
            claim["writer_id"],
        ):
            raise Fenced(
                "this writer's claim is not the current one: claim the session again",
                {"epoch": fence["epoch"] if fence else 0, "reason": "stale_epoch"},
            )
        if claim["seq"] == fence["next_seq"]:
            return None
        if claim["seq"] == fence["next_seq"] - 1 and fence["last_digest"] == digest:
            return json.loads(fence["last_result"]) | {"replayed": True}
        raise Fenced(
            f"writer sequence {claim['seq']} is out of order; the next is {fence['next_seq']}",
            {"epoch": fence["epoch"], "next_seq": fence["next_seq"], "reason": "sequence"},
        )

    def _advance_writer(self, key: SessionKey, digest: str, result: dict[str, Any]) -> None:
        """The fenced append went through: remember it, for an exact retry of it."""
        self._sql.execute(q.ADVANCE_WRITER, (digest, json.dumps(result), *key.params))
