"""The local server: the Worker's HTTP API under CPython and uvicorn, sessions in files."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from ..engine import SessionError
from ..engine.lifecycle import NO_LIFECYCLE, Lifecycle
from ..http.app import create_app
from ..mirror.shards import ShardMap
from ..mirror.timing import AT_ONCE, DrainTiming
from ..service.auth import TokenTable
from ..service.services import Services
from ..service.sessions import Sessions
from .guard import NoAuthGuard
from .lock import DataDirLocked
from .store import LocalStore

BODY_TIMEOUT_S = 30.0
"""How long a request body may take to arrive, by default (`--body-timeout-seconds`)."""


def local_app(
    data_dir: str | Path,
    tokens: TokenTable | None,
    store: LocalStore | None = None,
    lifecycle: Lifecycle = NO_LIFECYCLE,
    host: str = "127.0.0.1",
    body_timeout: float | None = BODY_TIMEOUT_S,
    shard_map: ShardMap | None = None,
    timing: DrainTiming = AT_ONCE,
) -> FastAPI:
    """The local API over `data_dir`; `tokens=None` turns auth off (tenant `default`), and
    then keeps web pages out (local/guard.py), allowing `host`, the address it is bound to.
    A request body must arrive within `body_timeout` seconds (408 after). `shard_map`: the
    mirror's databases, a file each (local/store.py); `timing`: when writes drain to them."""
    store = store or LocalStore(data_dir, lifecycle=lifecycle, shard_map=shard_map, timing=timing)
    services = Services(Sessions(store.transport), store.shards, tokens)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        alarms = asyncio.create_task(store.run_alarms())
        try:
            yield
        finally:
            alarms.cancel()
            await store.settle()
            store.close()

    app = create_app(
        lambda _request: services,
        store.health,
        lifespan=lifespan,
        body_timeout=body_timeout,
        turn_writes=True,
    )
    if tokens is None:
        app.add_middleware(NoAuthGuard, bound_host=host)
    app.state.store = store
    return app


def serve(
    host: str,
    port: int,
    data_dir: str | Path,
    tokens: TokenTable | None,
    lifecycle: Lifecycle = NO_LIFECYCLE,
    body_timeout: float = BODY_TIMEOUT_S,
    shard_map: ShardMap | None = None,
    timing: DrainTiming = AT_ONCE,
) -> None:
    import uvicorn  # noqa: PLC0415 - a local-mode dependency only

    faulthandler.enable()  # a crash in SQLite (SIGBUS, SIGSEGV) leaves a traceback in the log
    try:
        app = local_app(
            data_dir, tokens, lifecycle=lifecycle, host=host, body_timeout=body_timeout,
            shard_map=shard_map, timing=timing,
        )  # fmt: skip
    except (DataDirLocked, SessionError, OSError, sqlite3.Error) as exc:
        sys.exit(f"agent-sessions: cannot serve {Path(data_dir).resolve()}: {exc}")
    print(f"agent-sessions: serving http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    print(f"agent-sessions: data in {Path(data_dir).resolve()}")
    if tokens is None:
        print(
            "agent-sessions: WARNING: authentication is OFF (--no-auth). Anyone who can reach "
            f"{host}:{port} can read and write every session, as tenant 'default'."
        )
    uvicorn.run(app, host=host, port=port, log_level="info")
