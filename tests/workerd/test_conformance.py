"""The conformance suite (tests/conformance/) on the Worker in real workerd: every spec test,
once over the gateway's HTTP API through the Python client (with the stack's tokens: two
tenants) and once over the gateway's RPC methods, called from another Worker (the stack's
driver). Each session is its own Durable Object, mirrored into the stack's local D1; ids are
unique per test, as the stack serves the whole tier."""

from __future__ import annotations

from types import ModuleType

import pytest

from agent_sessions.client import Client

from ..conformance import (
    test_append,
    test_branches,
    test_data,
    test_fork,
    test_history,
    test_import,
    test_large,
    test_lifecycle,
    test_mirror,
    test_read,
    test_sessions,
    test_storage,
    test_writers,
)
from ..conformance.paths import (
    HTTP_CAPABILITIES,
    RPC_CAPABILITIES,
    ClientPath,
    Path,
    RpcPath,
    skip_unless_capable,
)
from .stack import OTHER_TENANT_TOKEN, TOKEN, Stack

SPECS: tuple[ModuleType, ...] = (
    test_sessions, test_data, test_append, test_read, test_branches, test_history,
    test_fork, test_writers, test_import, test_lifecycle, test_mirror, test_storage, test_large,
)  # fmt: skip


def _gather(specs: tuple[ModuleType, ...]) -> dict[str, object]:
    """Every test of the spec modules, under its own name (two with one name would hide one)."""
    tests: dict[str, object] = {}
    for spec in specs:
        assert not hasattr(spec, "pytestmark"), f"{spec.__name__}: mark its tests, not the module"
        for name, test in vars(spec).items():
            if (
                name.startswith(("test_", "Test"))
                and getattr(test, "__module__", "") == spec.__name__
            ):
                assert name not in tests, f"{name} is in two spec modules"
                tests[name] = test
    return tests


globals().update(_gather(SPECS))
filled = test_read.filled


@pytest.fixture(params=["workerd-http", "workerd-rpc"])
def path(request: pytest.FixtureRequest, stack: Stack) -> Path:
    if request.param == "workerd-http":
        skip_unless_capable(request, request.param, HTTP_CAPABILITIES)
        base = stack.sessions.base
        clients = {"default": Client(base, TOKEN), "acme": Client(base, OTHER_TENANT_TOKEN)}
        return ClientPath(request.param, clients)
    skip_unless_capable(request, request.param, RPC_CAPABILITIES)
    return RpcPath(request.param, lambda *call: stack.rpc("GATEWAY", *call), ("default", "acme"))
