"""The change log over the Worker's Cloudflare Pipelines bindings, inside Pyodide.

A binding's `send(records)` takes an array of JSON-serialisable objects (Pipelines' Workers
API). The records cross as one JSON text, parsed on the JavaScript side: a None becomes
null (not undefined, which JSON would drop, and a stream's schema would then see a missing
field), and an integer stays an integer in the JSON the stream receives.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from js import JSON

from ..mirror.changes import ChangeRecord
from .change_log import StreamsChangeLog, bound_streams


def _sender(binding: Any) -> Any:
    async def send(records: Sequence[ChangeRecord]) -> None:
        await binding.send(JSON.parse(json.dumps(list(records), separators=(",", ":"))))

    return send


def pipelines_change_log(env: Any) -> StreamsChangeLog | None:
    """The change log of the streams `env` binds; None when it binds none (no change log)."""
    streams = bound_streams(env)
    if not streams:
        return None
    return StreamsChangeLog({stream: _sender(b) for stream, b in streams.items()})
