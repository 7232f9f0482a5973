"""The local server: the Worker's HTTP API under CPython and uvicorn, sessions in files."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from ..api.app import create_app
from ..api.sessions import Sessions
from .store import LocalStore


def local_app(data_dir: str | Path) -> FastAPI:
    store = LocalStore(data_dir)
    sessions = Sessions(store.transport)
    app = create_app(lambda _request: sessions)
    app.state.store = store
    return app


def serve(host: str, port: int, data_dir: str | Path) -> None:
    import uvicorn  # noqa: PLC0415 - a local-mode dependency only

    app = local_app(data_dir)
    print(f"agent-sessions: serving http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    print(f"agent-sessions: data in {Path(data_dir).resolve()}")
    uvicorn.run(app, host=host, port=port, log_level="info")
