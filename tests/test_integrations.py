"""Flue's adapter against its vitest contract suite for `ConversationStreamStore`, and the
TypeScript types that the Flue adapter and other Workers compile against. (The Python
integrations have their own files: test_openai_agents.py, test_langgraph.py.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .conftest import run_tool

# -- Flue -------------------------------------------------------------------------------------


def test_flues_contract_suite_passes(tmp_path: Path) -> None:
    """Flue's own `defineConversationStreamStoreContractTests`, against the local server.
    Its seven submission-authorization tests return early without a submission store, which
    a stream-only adapter does not have (see integrations/flue)."""
    report = tmp_path / "vitest.json"
    command = ["node_modules/.bin/vitest", "run", "--root", "integrations/flue"]
    command += ["--reporter=json", f"--outputFile={report}"]
    run_tool(command, env={"AGENT_SESSIONS_PYTHON": sys.executable})
    result = json.loads(report.read_text())
    assert (result["numFailedTests"], result["numPendingTests"]) == (0, 0)
    assert result["numPassedTests"] == 21, result["numPassedTests"]


# -- TypeScript ----------------------------------------------------------------------------


def test_the_api_types_are_generated_from_the_current_api() -> None:
    run_tool([sys.executable, "scripts/gen_types.py", "--check"])


def test_the_typescript_compiles_against_flue_and_the_api_types() -> None:
    run_tool(["node_modules/.bin/tsc", "-p", "integrations/flue"])
