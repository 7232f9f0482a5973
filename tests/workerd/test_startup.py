"""The Worker's start in real workerd: what the deploy-time snapshot captures (the module
level) must not touch entropy, do I/O or raise, for every module the Worker loads; and this
tier must be able to tell, which a deliberately broken copy of the Worker proves."""

from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from ..conftest import ROOT
from .stack import Stack, StartFailed, Wrangler, free_port, request, workerd_env

SOURCE = ROOT / "src"


def test_the_worker_starts_and_answers(stack: Stack) -> None:
    status, health = stack.http("GET", "/healthz", token=None)
    assert (status, health["ok"]) == (200, True)
    assert "Ready on" in stack.sessions.log()


def worker_modules() -> set[Path]:
    """The modules of this package that the Worker's main module loads, transitively."""
    seen: set[Path] = set()
    todo = [SOURCE / "entry.py"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        package = path.parent.relative_to(SOURCE).parts
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = list(package[: len(package) - node.level + 1]) if node.level else []
                names = [*base, *(node.module or "").split(".")] if node.module else base
                candidates = [names, *([*names, alias.name] for alias in node.names)]
            elif isinstance(node, ast.Import):
                candidates = [alias.name.split(".") for alias in node.names]
            else:
                continue
            for parts in candidates:
                module = SOURCE.joinpath(*[p for p in parts if p])
                for found in (module.with_suffix(".py"), module / "__init__.py"):
                    if found.exists():
                        todo.append(found)
    return seen


def test_every_module_the_worker_loads_is_imported_at_start() -> None:
    """An import inside a function would run at the first request of every new isolate,
    outside the snapshot and unchecked by the start above: the Worker's modules have none."""
    modules = worker_modules()
    assert SOURCE / "agent_sessions" / "http" / "app.py" in modules, "the walk follows imports"
    late = []
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                late += [
                    f"{path.relative_to(ROOT)}:{inner.lineno}"
                    for inner in ast.walk(node)
                    if isinstance(inner, ast.Import | ast.ImportFrom)
                ]
    assert not late, f"imports inside functions: {late}"


BREAKAGES = {
    "entropy": (
        "import secrets\n_SEED = secrets.randbits(8)\n",
        r"OSError: \[Errno 29\] (Randomness is not allowed while a Worker is starting|"
        r"Cannot get entropy)",
    ),
    "raises": ('raise RuntimeError("broken at import")\n', r"RuntimeError: broken at import"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_the_tier_catches_a_worker_broken_at_import(tmp_path: Path, breakage: str) -> None:
    """A copy of this Worker with one bad line at the top of a module deep inside the engine
    must fail to start here, with the reason in workerd's log."""
    line, reason = BREAKAGES[breakage]
    copy = tmp_path / "worker"
    shutil.copytree(
        SOURCE, copy / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
    )
    shutil.copy(ROOT / "wrangler.toml", copy / "wrangler.toml")
    (copy / "python_modules").symlink_to(ROOT / "python_modules")
    target = copy / "src" / "agent_sessions" / "engine" / "values.py"
    target.write_text(target.read_text() + "\n" + line)
    state = tmp_path / "state"
    state.mkdir()
    env = {**os.environ, **workerd_env.environment(registry=state / "registry")}
    broken = Wrangler("broken", [copy / "wrangler.toml"], copy, state / "broken", env)
    broken.start()
    try:
        with pytest.raises(StartFailed) as failed:
            broken.wait_ready(deadline=time.monotonic() + 120)
    finally:
        broken.stop()
    assert "failed to start" in str(failed.value), str(failed.value)[-3000:]
    assert re.search(reason, broken.log()), broken.log()[-3000:]


def test_scripts_dev_serves_where_it_is_told(tmp_path: Path) -> None:
    """The README's command for the Worker in real workerd, on a port of the caller's (its
    own default, given twice, would make wrangler refuse to start), with the token it prints."""
    port, token = free_port(), "dev-script-token-0123456789"
    env = {
        **os.environ,
        "AGENT_SESSIONS_DEV_STATE": str(tmp_path),
        "AGENT_SESSIONS_DEV_TOKEN": token,
    }
    log = tmp_path / "dev.log"
    with log.open("wb") as out:
        dev = subprocess.Popen(
            [str(ROOT / "scripts" / "dev"), "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as health:
                    assert health.status == 200
                    break
            except OSError:
                assert dev.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.5)
        auth = {"authorization": f"Bearer {token}"}
        status, _, body = request(base, "POST", "/v1/sessions", {"id": "dev"}, auth)
        assert status == 201, body
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        dev.wait(timeout=30)
    assert f"token for this Worker: {token}" in log.read_text()
