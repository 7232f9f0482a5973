"""The README's "Try it in real workerd" lines, run as a user runs them, against the Worker in
real workerd: curl for the API, and wrangler for a look into D1 itself."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable

from ..conftest import ROOT
from .stack import TOKEN, Stack


def readme_lines() -> list[str]:
    """The commands of the section's shell block, continuation lines joined."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Try it in real workerd") :]
    start = section.index("```sh\n") + len("```sh\n")
    block = section[start : section.index("\n```", start)]
    return [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def run(stack: Stack, setup: str, line: str) -> str:
    line = line.replace("localhost:8787", f"127.0.0.1:{stack.sessions.port}")
    line = line.replace(".workerd/dev-state", str(stack.sessions.state))
    done = subprocess.run(
        ["bash", "-c", f"{setup}\n{line}"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def until(stack: Stack, setup: str, line: str, wanted: Callable[[str], bool]) -> str:
    """The mirror delivers within milliseconds; a user typing the next line never notices."""
    deadline = time.monotonic() + 10
    while not wanted(out := run(stack, setup, line)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return out


def d1_rows(output: str) -> list[dict[str, object]]:
    """`wrangler d1 execute` prints a banner, then the results as JSON."""
    return json.loads(output[output.index("[") :])[0]["results"]


def test_the_readme_sequence_works_against_the_worker(stack: Stack) -> None:
    setup, create, append, read, listing, d1 = readme_lines()
    assert setup.startswith("AUTH="), setup
    assert d1.startswith("scripts/wrangler d1 execute"), d1
    setup = re.sub(r"Bearer [^']+", f"Bearer {TOKEN}", setup)
    assert json.loads(run(stack, setup, create))["id"] == "demo"
    assert json.loads(run(stack, setup, append))["last_seq"] == 1
    entries = json.loads(run(stack, setup, read))["entries"]
    assert [e["content"] for e in entries] == ["What is 2+2?"]
    listed = json.loads(until(stack, setup, listing, lambda out: '"demo"' in out))["sessions"]
    assert "demo" in [s["id"] for s in listed]
    demo = {"id": "demo", "entry_count": 1}
    rows = d1_rows(until(stack, setup, d1, lambda out: demo in d1_rows(out)))
    assert demo in rows, rows
