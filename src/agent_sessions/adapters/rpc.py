"""Values crossing RPC between the gateway and the Durable Object.

RPC arguments may arrive as JS proxies: objects, arrays, and `null` as Pyodide's `jsnull`
(which is not None, and fails every "is it None?" check). `to_python` converts them with the
SDK's own converter, which leaves values that are already Python alone.
Exceptions lose their type crossing RPC, so results travel as {"ok": ...} and engine errors
as {"error": {...}}, which the caller turns back into the same typed exception. Between the
gateway and a Durable Object that envelope travels as JSON text (`envelope`, `unwrap`): one
string crosses instead of every value of a result converted to JavaScript and back. The
gateway hands its RPC callers their answer the same way (`forward`): JSON text that JavaScript
parses, the Durable Object's own text where it has one.
Background work handed to JavaScript (`waitUntil`) must outlive the call that started it, so
it crosses as an owned proxy, not a borrowed one (see `wait_until`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any

from js import JSON
from pyodide.ffi import create_proxy
from workers import python_from_rpc

from ..engine import SessionError


def to_python(value: Any) -> Any:
    return python_from_rpc(value)


OK = '{"ok":'
"""How an answer with a result begins: the result's JSON text follows, then "}"."""


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def envelope(result: Any = None, error: SessionError | None = None) -> str:
    """The Durable Object's side: its answer to an RPC call, as JSON text."""
    if error is not None:
        return _json({"error": error.to_dict()})
    return OK + _json(result) + "}"


def unwrap(answer: str) -> Any:
    """The gateway's side: the result, or the engine error the DO answered with."""
    answer = json.loads(answer)
    if "error" in answer:
        raise SessionError.from_dict(answer["error"])
    return answer["ok"]


def result_text(answer: str) -> str:
    """The result's JSON text in an answer, not parsed (the HTTP API sends it on as it is);
    an error answer raises its engine error."""
    if answer.startswith(OK):
        return answer[len(OK) : -1]
    return unwrap(answer)  # an error: raises


def forward(text: str) -> Any:
    """An envelope's JSON text as the JavaScript object an RPC caller receives: parsed once,
    in JavaScript, instead of a Python value converted to JavaScript value by value (what a
    10,000-entry context made cost twice its read)."""
    return JSON.parse(text)


def wait_until(ctx: Any, work: Awaitable[None]) -> None:
    """`ctx.waitUntil(work)` for a context the SDK does not wrap (a Durable Object's).

    A Python future passed to JavaScript directly is a borrowed proxy, destroyed when the
    calling method returns, so the promise it stands for never settles ("This borrowed proxy
    was automatically destroyed"). An owned proxy lives until the task is done.
    """
    task = asyncio.ensure_future(work)
    proxy = create_proxy(task)
    task.add_done_callback(lambda _: proxy.destroy())
    ctx.waitUntil(proxy)
