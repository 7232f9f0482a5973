"""The paths this process runs the suite on: the engine over each SQL adapter
(conftest.BACKENDS: inside Pyodide, only the Durable Object adapter there), the engine in its
host over sqlite with a directory as the blob store, and, outside
Pyodide, the Python client against `agent-sessions serve`: one server for the suite (each
start costs about a second), ids unique per test. The Worker's
paths (HTTP and RPC in real workerd) run the same tests from tests/workerd/test_conformance.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path as FilePath

import pytest

from ..conftest import BACKENDS, IN_PYODIDE, Clock
from .paths import (
    ENGINE_CAPABILITIES,
    HOST_CAPABILITIES,
    LOCAL_HTTP_CAPABILITIES,
    ClientPath,
    EnginePath,
    HostPath,
    Path,
    skip_unless_capable,
)

TOKENS = {"conformance": "conformance-token-0123456789", "elsewhere": "elsewhere-token-0123456789"}
"""The local server's tenants, each with its token."""
LOCAL_SERVERS = {"local-http": "one-shard", "local-http-two-shards": "two-shards"}
"""The local server's paths, by how many mirror databases it has (tests/shards.py): listings,
searches and mirror checks then read the tenant's own database, one of two."""
PATHS = [*BACKENDS, *([] if IN_PYODIDE else ["host", *LOCAL_SERVERS])]


def _local_server(tmp_path_factory: pytest.TempPathFactory, sharding: str) -> Iterator[object]:
    from ..servers import Server  # noqa: PLC0415 - no subprocesses inside Pyodide

    spec = ",".join(f"{token}={tenant}" for tenant, token in TOKENS.items())
    env = {**os.environ, "AGENT_SESSIONS_TOKENS": spec}
    server = Server(tmp_path_factory.mktemp("conformance") / "data", env=env, sharding=sharding)
    yield server
    server.stop()


@pytest.fixture(scope="package")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    yield from _local_server(tmp_path_factory, "one-shard")


@pytest.fixture(scope="package")
def sharded_local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    yield from _local_server(tmp_path_factory, "two-shards")


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest, tmp_path: FilePath, clock: Clock) -> Iterator[Path]:
    if request.param in LOCAL_SERVERS:
        skip_unless_capable(request, request.param, LOCAL_HTTP_CAPABILITIES)
        from agent_sessions.client import Client  # noqa: PLC0415

        one = LOCAL_SERVERS[request.param] == "one-shard"
        server = request.getfixturevalue("local_server" if one else "sharded_local_server")
        clients = {tenant: Client(server.base, token) for tenant, token in TOKENS.items()}
        yield ClientPath(request.param, clients, archive=server.data_dir / "archive")
        return
    if request.param == "host":
        skip_unless_capable(request, request.param, HOST_CAPABILITIES)
        backend = BACKENDS["sqlite"](tmp_path / "session.sqlite")
        yield HostPath(backend, clock, tmp_path / "archive")
        backend.raw.close()
        return
    skip_unless_capable(request, request.param, ENGINE_CAPABILITIES)
    backend = BACKENDS[request.param](tmp_path / "session.sqlite")
    yield EnginePath(backend, clock)
    backend.raw.close()
