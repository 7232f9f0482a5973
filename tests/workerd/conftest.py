"""Fixtures of the real-workerd tier: one stack of `wrangler dev` processes per module that
asks for it (see stack.py), and, after every test, workerd's log read and asserted clean."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..conftest import ROOT
from .stack import Stack

NEEDED = (
    "node_modules/.bin/wrangler",
    "python_modules/workers",
    "examples/python-rpc-worker/python_modules/workers",
)


def started(stack: Stack) -> Iterator[Stack]:
    for needed in NEEDED:
        if not (ROOT / needed).exists():
            pytest.fail(f"{needed} is missing: scripts/test installs it")
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The Workers with this repository's configuration as it is."""
    yield from started(Stack(tmp_path_factory.mktemp("workerd")))


@pytest.fixture(autouse=True)
def clean_log(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a test does, workerd must log no error and no warning while it runs."""
    stacks: list[Stack] = [
        request.getfixturevalue(name) for name in request.fixturenames if name.endswith("stack")
    ]
    marks = [stack.marks() for stack in stacks]
    yield
    problems = [line for s, m in zip(stacks, marks, strict=True) for line in s.new_problems(m)]
    assert not problems, "workerd logged problems:\n" + "\n".join(problems)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/workerd/" in str(item.path):
            item.add_marker(pytest.mark.workerd)
