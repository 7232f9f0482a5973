"""Entries as an integration writes them back, after `replace_history` removed a suffix that
held some it must keep."""

from __future__ import annotations

from typing import Any

from ..wire import Entry


def resend(entry: Entry) -> dict[str, Any]:
    """The entry's own fields (its id too); the seq and parent come from where it lands."""
    fields = {
        "id": entry.id,
        "type": entry.type,
        "role": entry.role,
        "content": entry.content,
        "payload": entry.payload,
        "input_tokens": entry.input_tokens,
        "output_tokens": entry.output_tokens,
    }
    return {k: v for k, v in fields.items() if v is not None}
