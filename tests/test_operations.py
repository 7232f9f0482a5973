"""The operations table (engine/operations.py) is the one declaration of the per-session
operations; what is derived from it is derived, and what stays written out for its readers
(the Python client, the TypeScript RPC types, the gateway's own shapes) is held to it here."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re

import pytest

from agent_sessions.client.api import Operations as ClientOperations
from agent_sessions.engine import InvalidInput, SessionEngine
from agent_sessions.engine.operations import OPERATIONS, Kind
from agent_sessions.host import SessionHost
from agent_sessions.service.sessions import Sessions

from .conftest import ROOT

GATEWAY = ROOT / "src" / "agent_sessions" / "worker" / "gateway.py"
CLIENT_SHAPES = {
    "create_session": "the id may be generated; the fields are keywords",
    "update_session": "the changes are keywords",
    "read_entries": "the query is keywords with defaults",
    "import_session": "an export's JSON Lines, not the parsed session",
    "export_session": "the whole document, not its parts",
}
"""Operations the Python client offers in a shape of its own, and why."""


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


HANDLERS = ("fetch", "scheduled")
"""The gateway's event handlers (HTTP, the cron), which are not RPC methods of its own."""


def gateway_tree() -> tuple[set[str], frozenset[str]]:
    """The methods the gateway's class writes out, and its OWN_SHAPES (read from the source:
    the module imports the runtime SDK, which CPython does not have)."""
    tree = ast.parse(GATEWAY.read_text())
    (default,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Default"]
    written = {
        n.name
        for n in default.body
        if isinstance(n, ast.AsyncFunctionDef)
        and not n.name.startswith("_")
        and n.name not in HANDLERS
    }
    (own,) = [
        n.value
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "OWN_SHAPES"
    ]
    return written, frozenset(ast.literal_eval(own.args[0]))


def gateway_methods() -> dict[str, tuple[str, ...] | None]:
    """Every RPC method of the gateway: its parameters after (tenant, session_id) where it
    passes an operation through, None where it has a shape of its own."""
    written, own = gateway_tree()
    passed = {
        op.name: op.params for op in OPERATIONS.values() if not op.internal and op.name not in own
    }
    assert not written & set(passed), "a written-out method would hide the table's"
    return {name: None for name in written} | passed


def test_every_operation_is_an_engine_or_host_method_taking_its_params() -> None:
    for op in OPERATIONS.values():
        owner = SessionHost if op.kind is Kind.MIRROR else SessionEngine
        params = list(inspect.signature(getattr(owner, op.name)).parameters)
        assert params == ["self", "key", *op.params], op.name


def test_the_gateways_own_shapes_are_operations_it_writes_out() -> None:
    written, own = gateway_tree()
    assert own <= set(OPERATIONS), "OWN_SHAPES names operations"
    assert own <= written, "an operation offered in its own shape is written out"


def test_the_typescript_rpc_types_are_the_gateways_methods() -> None:
    text = (ROOT / "clients" / "typescript" / "rpc.d.ts").read_text()
    typed = dict(re.findall(r"^  (\w+)\(([^)]*)\)", text, re.M | re.S))
    methods = gateway_methods()
    assert set(typed) == set(methods)
    for name, params in methods.items():
        if params is None:
            continue
        names = [p.split(":")[0].strip().rstrip("?") for p in typed[name].split(",") if p.strip()]
        assert names == ["tenant", "sessionId", *map(camel, params)], name


def test_the_python_client_has_every_public_operation() -> None:
    for op in OPERATIONS.values():
        if op.internal:
            continue
        method = getattr(ClientOperations, op.name)
        if op.name in CLIENT_SHAPES:
            continue
        params = list(inspect.signature(method).parameters)
        assert params == ["self", "session_id", *op.params], op.name


def test_the_facade_binds_arguments_by_name_in_the_tables_order() -> None:
    sent = []

    async def transport(key: object, name: str, args: tuple[object, ...]) -> None:
        sent.append((name, args))

    facade = Sessions(transport)
    asyncio.run(facade.append("k", [1], writer={"w": 1}))
    asyncio.run(facade.append("k", [1], 3))
    asyncio.run(facade.read_context("k"))
    assert sent == [
        ("append", ([1], None, {"w": 1})),
        ("append", ([1], 3)),
        ("read_context", ()),
    ]
    with pytest.raises(InvalidInput, match=r"append takes \(entries, expected_version, writer\)"):
        asyncio.run(facade.append("k", [1], expected=2))
    with pytest.raises(InvalidInput):
        asyncio.run(facade.get_session("k", "extra"))
