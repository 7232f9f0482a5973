"""Values crossing RPC between the gateway and the Durable Object.

RPC arguments may arrive as JS proxies (objects, arrays, null); `to_python` turns them into
plain dicts, lists and None with the SDK's own converter, and leaves Python values alone.
Exceptions lose their type crossing RPC, so results travel as {"ok": ...} and engine errors
as {"error": {...}}, which the caller turns back into the same typed exception.
"""

from __future__ import annotations

from typing import Any

from ..engine import SessionError


def to_python(value: Any) -> Any:
    if not hasattr(value, "to_py") and not hasattr(value, "constructor"):
        return value
    from workers import python_from_rpc  # noqa: PLC0415 - needs the runtime

    return python_from_rpc(value)


def unwrap(answer: Any) -> Any:
    """The gateway's side: the result, or the engine error the DO answered with."""
    answer = to_python(answer)
    if "error" in answer:
        raise SessionError.from_dict(answer["error"])
    return answer["ok"]
