"""Vendor the Worker's Python dependencies into python_modules/, built for Pyodide.

The offline twin of `pywrangler sync` (README: Deploying): that one downloads a Pyodide
interpreter and reads Pyodide's package index, this one needs only PyPI. The runtime ships no
`workers` SDK since 2026-04 and no third-party packages, so everything the Worker imports is
installed here for the `pyemscripten_2026_0_wasm32` platform (Python 3.14): pure wheels as they
are, pydantic-core as its WebAssembly wheel. pip is asked for exactly what pywrangler asks uv
for (tests/test_pywrangler.py holds the two equal). Wrangler then uploads python_modules/ with
the Worker. Nothing here is committed.

The example Python Worker (examples/python-rpc-worker) gets the runtime SDK, its only
dependency, in its own python_modules/, as its wrangler.toml asks.

`--test-site` also installs pytest, for Pyodide, into .pyodide-test-site/: the Pyodide test
tier (tests/runtime/) runs the engine's conformance suite inside Pyodide with it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "python_modules"
EXAMPLE_TARGET = ROOT / "examples" / "python-rpc-worker" / "python_modules"
TEST_SITE = ROOT / ".pyodide-test-site"
TEST_REQUIREMENTS = ["pytest>=8"]
PLATFORM = [
    "--platform", "pyemscripten_2026_0_wasm32",
    "--python-version", "3.14",
    "--implementation", "cp",
    "--abi", "cp314",
    "--only-binary=:all:",
]  # fmt: skip


# The runtime SDK: pywrangler adds it, unpinned, to every Worker's dependencies.
SDK = "workers-runtime-sdk"


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements() -> list[str]:
    """The Worker's requirements as pywrangler hands them to uv: `[project] dependencies`,
    plus the SDK."""
    return [*_pyproject()["project"]["dependencies"], SDK]


def constraints() -> list[str]:
    """`[tool.uv] constraint-dependencies`, which pin the SDK: uv applies them to pywrangler's
    resolution (it runs from the project root), and pip must apply them here, or the two paths
    would vendor different versions."""
    return _pyproject()["tool"]["uv"]["constraint-dependencies"]


def install(target: Path, packages: list[str]) -> None:
    shutil.rmtree(target, ignore_errors=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as pins:
        pins.write("\n".join(constraints()))
        pins.flush()
        command += ["--target", str(target), *PLATFORM, "--constraint", pins.name, *packages]
        subprocess.run(command, check=True)
    for junk in (target / "bin", *target.glob("**/__pycache__")):
        shutil.rmtree(junk, ignore_errors=True)
    count = len(list(target.glob("*.dist-info")))
    print(f"vendored {count} packages into {target.relative_to(ROOT)}/")


def main() -> int:
    install(TARGET, requirements())
    install(EXAMPLE_TARGET, [SDK])
    if "--test-site" in sys.argv[1:]:
        install(TEST_SITE, TEST_REQUIREMENTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
