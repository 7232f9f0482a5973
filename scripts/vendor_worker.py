"""Vendor the Worker's Python dependencies into python_modules/, built for Pyodide.

The runtime ships no `workers` SDK since 2026-04 and no third-party packages, so everything
the Worker imports is installed here from PyPI for the `pyemscripten_2026_0_wasm32` platform
(Python 3.14): pure wheels as they are, pydantic-core as its WebAssembly wheel. Wrangler then
uploads python_modules/ with the Worker. Nothing here is committed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "python_modules"
PLATFORM = [
    "--platform", "pyemscripten_2026_0_wasm32",
    "--python-version", "3.14",
    "--implementation", "cp",
    "--abi", "cp314",
    "--only-binary=:all:",
]  # fmt: skip


def requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["worker"]]


def main() -> int:
    shutil.rmtree(TARGET, ignore_errors=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--target", str(TARGET), *PLATFORM, *requirements()]
    subprocess.run(command, check=True)
    for junk in (TARGET / "bin", *TARGET.glob("**/__pycache__")):
        shutil.rmtree(junk, ignore_errors=True)
    print(f"vendored {len(list(TARGET.glob('*.dist-info')))} packages into {TARGET.name}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
