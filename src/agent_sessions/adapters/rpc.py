"""Values crossing RPC between the gateway and the Durable Object.

RPC arguments may arrive as JS proxies: objects, arrays, and `null` as Pyodide's `jsnull`
(which is not None, and fails every "is it None?" check). `to_python` converts them with the
SDK's own converter, which leaves values that are already Python alone.
Exceptions lose their type crossing RPC, so results travel as {"ok": ...} and engine errors
as {"error": {...}}, which the caller turns back into the same typed exception. Between the
gateway and a Durable Object that envelope travels as JSON text (`envelope`, `unwrap`): one
string crosses instead of every value of a result converted to JavaScript and back.
Background work handed to JavaScript (`waitUntil`) must outlive the call that started it, so
it crosses as an owned proxy, not a borrowed one (see `wait_until`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

from pyodide.ffi import create_proxy
from workers import python_from_rpc

from ..engine import SessionError


def to_python(value: Any) -> Any:
    return python_from_rpc(value)


def envelope(result: Any = None, error: SessionError | None = None) -> str:
    """The Durable Object's side: its answer to an RPC call, as JSON text."""
    body = {"error": error.to_dict()} if error is not None else {"ok": result}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def unwrap(answer: Any) -> Any:
    """The gateway's side: the result, or the engine error the DO answered with."""
    answer = json.loads(to_python(answer))
    if "error" in answer:
        raise SessionError.from_dict(answer["error"])
    return answer["ok"]


def wait_until(ctx: Any, work: Coroutine[Any, Any, None]) -> None:
    """`ctx.waitUntil(work)` for a context the SDK does not wrap (a Durable Object's).

    A Python future passed to JavaScript directly is a borrowed proxy, destroyed when the
    calling method returns, so the promise it stands for never settles ("This borrowed proxy
    was automatically destroyed"). An owned proxy lives until the task is done.
    """
    task = asyncio.ensure_future(work)
    proxy = create_proxy(task)
    task.add_done_callback(lambda _: proxy.destroy())
    ctx.waitUntil(proxy)
