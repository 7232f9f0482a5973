"""Values crossing RPC between the gateway and the Durable Object.

RPC arguments may arrive as JS proxies: objects, arrays, and `null` as Pyodide's `jsnull`
(which is not None, and fails every "is it None?" check). `to_python` converts them with the
SDK's own converter, which leaves values that are already Python alone.
Exceptions lose their type crossing RPC, so results travel as {"ok": ...} and engine errors
as {"error": {...}}, which the caller turns back into the same typed exception.
"""

from __future__ import annotations

from typing import Any

from workers import python_from_rpc

from ..engine import SessionError


def to_python(value: Any) -> Any:
    return python_from_rpc(value)


def unwrap(answer: Any) -> Any:
    """The gateway's side: the result, or the engine error the DO answered with."""
    answer = to_python(answer)
    if "error" in answer:
        raise SessionError.from_dict(answer["error"])
    return answer["ok"]
