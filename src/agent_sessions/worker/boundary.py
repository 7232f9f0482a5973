"""Values crossing RPC into Python.

RPC arguments of a Python Durable Object may arrive as JS proxies (objects, arrays, null).
`to_python` turns them into plain dicts, lists and None with the SDK's own converter, and
leaves values that are already Python untouched.
"""

from __future__ import annotations

from typing import Any


def to_python(value: Any) -> Any:
    if not hasattr(value, "to_py") and not hasattr(value, "constructor"):
        return value
    from workers import python_from_rpc  # noqa: PLC0415 - needs the runtime

    return python_from_rpc(value)


def reply(call: Any) -> dict[str, Any]:
    """Run `call()` and wrap its result for RPC: {"ok": result} or {"error": {...}}.

    Exceptions lose their type crossing RPC, so engine errors travel as data and the caller
    rebuilds them (`SessionError.from_dict`). Anything else is a real fault and propagates.
    """
    from ..engine import SessionError  # noqa: PLC0415 - keep this module import-light

    try:
        return {"ok": call()}
    except SessionError as exc:
        return {"error": exc.to_dict()}


def unwrap(answer: Any) -> dict[str, Any]:
    """The caller's side of `reply`."""
    from ..engine import SessionError  # noqa: PLC0415

    answer = to_python(answer)
    if "error" in answer:
        raise SessionError.from_dict(answer["error"])
    return answer["ok"]
