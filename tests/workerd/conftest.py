"""Fixtures of the real-workerd tier: the stacks of `wrangler dev` processes (see stack.py),
and, after every test, workerd's log read and asserted clean.

Starting a stack takes most of a minute of CPU on 2 cores (Pyodide boots once per Python
Worker), so the stacks the collected tests need start in the background as soon as
collection ends, one after the other, while the other tiers' tests run; a fixture waits for
its stack only when a test first asks for it.
"""

from __future__ import annotations

import concurrent.futures
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from ..conftest import ROOT
from .stack import Stack

NEEDED = (
    "node_modules/.bin/wrangler",
    "python_modules/workers",
    "examples/python-rpc-worker/python_modules/workers",
)
POLICY = {"SESSION_TTL_SECONDS": "3600", "IDLE_TIMEOUT_SECONDS": "1", "ARCHIVE_AFTER_SECONDS": "3"}
"""The lifecycle policy and the cold tier, switched on through the Worker's vars."""
WORKERD_SHARDS = {
    "D1_SHARDS": '["DB", "DB_1", "DB_2"]',
    "TENANT_SHARDS": '{"mover": {"from": "DB", "to": "DB_2"}}',
}
"""The "two-shards" hash of tests/shards.py (DB_2 is a destination, so not in the pool), and
a tenant "mover" being moved from `DB`, where the hash puts it, to `DB_2` of its own."""
CHANGES = """
[[pipelines]]
binding = "SESSION_CHANGES"
stream = "agent-sessions-sessions"

[[services]]
binding = "ENTRY_CHANGES"
service = "agent-sessions-test-driver"
entrypoint = "ChangeSink"
"""
"""The change log switched on: the session stream on miniflare's local Pipelines binding
(which accepts and drops the records), the entry stream on the driver's ChangeSink (the same
kind of binding, keeping them); and D1's retention, at one day."""
STACKS = {
    "stack": Stack,
    "policy_stack": lambda state: Stack(state, POLICY, examples=False),
    "shards_stack": lambda state: Stack(state, examples=False, shards=WORKERD_SHARDS),
    "changes_stack": lambda state: Stack(
        state, {"MIRROR_RETENTION_DAYS": "1"}, examples=False, config=CHANGES
    ),
}
EITHER = {"any_stack": ("stack", "shards_stack")}
"""A fixture that runs a test once on each of these stacks: the mirror with one D1
database, and with several (tenants hashed over `DB` and `DB_1`: "default" on `DB_1`, "acme"
on `DB`; WORKERD_SHARDS)."""


def _stacks_of(names: Iterable[str]) -> set[str]:
    return {s for name in names for s in EITHER.get(name, (name,)) if s in STACKS}


_starting: dict[str, tuple[Stack, concurrent.futures.Future[None]]] = {}
_starter = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="workerd-stacks")
_state = Path(tempfile.mkdtemp(prefix="agent-sessions-workerd-"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/workerd/" in str(item.path):
            item.add_marker(pytest.mark.workerd)


def pytest_collection_finish(session: pytest.Session) -> None:
    wanted = _stacks_of({n for item in session.items for n in getattr(item, "fixturenames", ())})
    for name, make in STACKS.items():
        if name in wanted and all((ROOT / needed).exists() for needed in NEEDED):
            stack = make(_state / name)
            _starting[name] = (stack, _starter.submit(stack.start))


def pytest_sessionfinish() -> None:
    for stack, started in _starting.values():
        started.cancel()
        if started.done() or started.running():
            concurrent.futures.wait([started])
            stack.stop()
    _starter.shutdown()
    shutil.rmtree(_state, ignore_errors=True)


def running(name: str) -> Stack:
    for needed in NEEDED:
        if not (ROOT / needed).exists():
            pytest.fail(f"{needed} is missing: scripts/test installs it")
    if name not in _starting:  # collected late (e.g. by name): start it now
        stack = STACKS[name](_state / name)
        _starting[name] = (stack, _starter.submit(stack.start))
    stack, started = _starting[name]
    started.result()
    return stack


@pytest.fixture(scope="session")
def stack() -> Stack:
    """The Workers with this repository's configuration as it is."""
    return running("stack")


@pytest.fixture(scope="session")
def policy_stack() -> Stack:
    """The same, with the lifecycle policy and the cold tier switched on (POLICY)."""
    return running("policy_stack")


@pytest.fixture(scope="session")
def shards_stack() -> Stack:
    """The Workers with two D1 databases and the shard settings (tests/shards.py)."""
    return running("shards_stack")


@pytest.fixture(scope="session")
def changes_stack() -> Stack:
    """The Workers with the change log bound and D1's retention set (CHANGES)."""
    return running("changes_stack")


@pytest.fixture(params=EITHER["any_stack"])
def any_stack(request: pytest.FixtureRequest) -> Stack:
    return request.getfixturevalue(request.param)


@pytest.fixture(autouse=True)
def clean_log(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a test does, workerd must log no error and no warning while it runs."""
    names = [n for n in request.fixturenames if n in STACKS]
    if "any_stack" in request.fixturenames:
        names.append(request.node.callspec.params["any_stack"])
    stacks: list[Stack] = [request.getfixturevalue(name) for name in names]
    marks = [stack.marks() for stack in stacks]
    yield
    problems = [line for s, m in zip(stacks, marks, strict=True) for line in s.new_problems(m)]
    assert not problems, "workerd logged problems:\n" + "\n".join(problems)
