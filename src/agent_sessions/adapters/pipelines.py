"""The change log over the Worker's Cloudflare Pipelines bindings, inside Pyodide.

A binding's `send(records)` takes an array of JSON-serialisable objects (Pipelines' Workers
API). The records cross as one JSON text, parsed on the JavaScript side: a None becomes
null (not undefined, which JSON would drop, and a stream's schema would then see a missing
field), and an integer stays an integer in the JSON the stream receives.

The method is not called as `binding.send(...)`: a binding that is a service stub
(miniflare's local Pipelines binding is one, a service bound to an entrypoint with `send`)
answers every property, `next` and `throw` included, so Pyodide takes its proxy for a
JavaScript generator, and `.send` on it is the generator protocol's (it calls `next`: 'Result
should have type "object" not "function"', seen in workerd). Nor can Python hold the
property itself (it is a thenable, which Pyodide turns into a future). So JavaScript copies
the property, untouched, onto a plain object, and the call is made on that.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from js import JSON, Array, Object, Reflect
from workers import python_to_rpc

from ..mirror.changes import ChangeRecord
from .change_log import StreamsChangeLog, bound_streams


def _js_call(target: Any, name: str, *args: Any) -> Any:
    """`target[name](...args)`, the name resolved by JavaScript, not among Pyodide's own."""
    return Reflect.apply(Reflect.get(target, name), target, Array.of(*args))


def _sender(binding: Any) -> Any:
    binding = python_to_rpc(binding)  # the runtime's object, wrapped by the SDK or not
    getter = _js_call(Reflect.get, "bind", None, binding, "send")
    taken = _js_call(Array.of(binding), "map", getter)  # [binding.send], left in JavaScript
    holder = Object.fromEntries(Array.of(_js_call(Array.of("send"), "concat", taken)))

    async def send(records: Sequence[ChangeRecord]) -> None:
        await holder.send(JSON.parse(json.dumps(list(records), separators=(",", ":"))))

    return send


def pipelines_change_log(env: Any) -> StreamsChangeLog | None:
    """The change log of the streams `env` binds; None when it binds none (no change log)."""
    streams = bound_streams(env)
    if not streams:
        return None
    return StreamsChangeLog({stream: _sender(b) for stream, b in streams.items()})
