"""Cloudflare's documented workflow (`uv run pywrangler dev|deploy`), checked offline.

`pywrangler sync` needs the network (it downloads a Pyodide interpreter and reads Pyodide's
package index), so it never runs here. What runs is pywrangler itself, reading this repository
through its own functions: the project root, the wrangler config, the Python version, and the
exact resolution that `sync` would ask uv for. That resolution must be what
scripts/vendor_worker.py (the offline path) asks pip for, so the two paths cannot vendor
different sets.

`pywrangler.cli` is never imported: it reconfigures the root logger at import.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator
from importlib.metadata import version
from itertools import takewhile
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from pywrangler import resolve, sync, utils

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import vendor_worker

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PYWRANGLER = Path(sys.executable).parent / "pywrangler"
# The options of pywrangler's `uv pip compile` that do not change what is requested. Another
# one (`--extra`, `--group`, `--no-config`, `-c`, ...) could: then re-read pywrangler's
# resolve.py and this module's model of what uv reads.
NEUTRAL_COMPILE_OPTIONS = {
    "--python",
    "--extra-index-url",
    "--index-strategy",
    "--no-header",
    "-o",
    "--no-build",
    "--upgrade",
}


@pytest.fixture(autouse=True)
def _fresh_pywrangler() -> Iterator[None]:
    """pywrangler caches the pyproject.toml it found and the Python version it chose, per
    process: each test starts from its own working directory."""
    caches = (utils.find_pyproject_toml, utils.get_python_version)
    for cached in caches:
        cached.cache_clear()
    yield
    for cached in caches:
        cached.cache_clear()


def normalized(requirements: Iterable[str]) -> list[str]:
    return sorted(str(Requirement(r)) for r in requirements)


def specifier(requirements: Iterable[str], name: str) -> SpecifierSet:
    """The one specifier given for `name` in a list of requirements."""
    found = [Requirement(r) for r in requirements if canonicalize_name(Requirement(r).name) == name]
    assert len(found) == 1, (name, found)
    return found[0].specifier


def test_pywrangler_runs_from_the_project_environment() -> None:
    """The console script that `pip install -e '.[dev]'` (and `uv run`) installs beside Python.

    `--help` also runs `npx --yes wrangler --help`, which without a local wrangler fetches one
    from npm: with only the environment's own bin/ on PATH, pywrangler prints its note instead.
    """
    env = {"PATH": str(PYWRANGLER.parent), "HOME": os.environ.get("HOME", "/tmp"), "TERM": "dumb"}

    def run(*args: str) -> str:
        result = subprocess.run(
            [str(PYWRANGLER), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    helped = run("--help")
    assert "sync" in helped
    assert "npx --yes wrangler --help" in helped
    assert run("--version").split()[-1] == version("workers-py")


@pytest.mark.parametrize("where", [".", "src/agent_sessions"])
def test_pywrangler_reads_this_repository(where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """From the root or below it, pywrangler finds this project, its wrangler.toml, and Python
    3.14 from `compatibility_date = "2026-09-08"` (workers-py 1.17.1 and later), the version
    scripts/vendor_worker.py builds for."""
    monkeypatch.chdir(ROOT / where)
    assert utils.get_project_root() == ROOT
    utils.check_wrangler_config()  # exits when there is none
    assert utils._parse_wrangler_config() == tomllib.loads((ROOT / "wrangler.toml").read_text())
    platform = vendor_worker.PLATFORM
    assert utils.get_python_version() == "3.14"
    assert platform[platform.index("--python-version") + 1] == utils.get_python_version()
    assert utils.get_uv_pyodide_interp_name().startswith("cpython-3.14.")
    # No [tool.pywrangler]: every dependency has a wheel, so sdists are never built (its one
    # key, allow-build, stays off), as pip's --only-binary=:all: in vendor_worker.py.
    assert utils.get_pywrangler_config() == {}


def test_one_wrangler_config_for_both_tools() -> None:
    """pywrangler reads wrangler.toml before wrangler.jsonc and never wrangler.json; wrangler
    makes its own choice among them. A second file would let the two read different configs."""
    configs = sorted(p.name for p in ROOT.glob("wrangler.*"))
    assert configs == ["wrangler.toml"]


def test_sync_resolves_what_vendor_worker_installs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pywrangler's own `sync`, with the steps that need the network or rewrite python_modules/
    replaced: its virtual environments (uv downloads Python 3.14 and Pyodide), uv itself
    (recorded, not run) and the install (the plan is kept). The lockfile goes to tmp_path.

    What uv is asked for is read the way uv reads it: `uv pip compile pyproject.toml FILE`
    without `--extra` or `--group` requests `[project] dependencies` plus the file's lines, and
    applies `[tool.uv] constraint-dependencies` from the configuration it discovers from its
    working directory up (uv 0.13.9 ignores them from any other directory, and a uv.toml
    beside pyproject.toml would take their place)."""
    compiles: list[tuple[list[str], Path | None, list[list[str]]]] = []

    def uv_offline(command: list[str], cwd: Path | None = None, **_: Any) -> Any:
        files = list(takewhile(lambda arg: not arg.startswith("-"), command[3:]))
        lines = [Path(f).read_text().splitlines() for f in files[1:]]  # gone after the call
        compiles.append((command, cwd, lines))
        Path(command[command.index("-o") + 1]).write_text("")
        return subprocess.CompletedProcess(command, 0, "", None)

    plans: list[tuple[resolve.InstallPlan, bool]] = []

    def keep_plan(plan: resolve.InstallPlan, allow_build: bool = False) -> None:
        plans.append((plan, allow_build))

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sync, "create_workers_venv", lambda: None)
    monkeypatch.setattr(sync, "create_pyodide_venv", lambda: None)
    monkeypatch.setattr(resolve, "run_command", uv_offline)
    monkeypatch.setattr(resolve, "get_lockfile_path", lambda: tmp_path / "pylock.toml")
    monkeypatch.setattr(sync, "install_requirements", keep_plan)
    sync.sync(force=True)

    [(command, cwd, lines)] = compiles
    assert command[:4] == ["uv", "pip", "compile", str(ROOT / "pyproject.toml")]
    options = {arg for arg in command[4:] if arg.startswith("-")}
    assert options <= NEUTRAL_COMPILE_OPTIONS, options - NEUTRAL_COMPILE_OPTIONS
    assert "--no-build" in options, "wheels only, as pip's --only-binary=:all:"
    assert command[command.index("--python") + 1] == utils.get_uv_pyodide_interp_name()
    assert cwd == ROOT, "uv discovers [tool.uv] from where it runs"
    assert not (ROOT / "uv.toml").exists()
    [(_, allow_build)] = plans
    assert allow_build is False

    requested = [*PYPROJECT["project"]["dependencies"], *(r for f in lines for r in f if r)]
    assert normalized(requested) == normalized(vendor_worker.requirements())
    uv_constraints = PYPROJECT["tool"]["uv"]["constraint-dependencies"]
    assert normalized(uv_constraints) == normalized(vendor_worker.constraints())


def test_the_runtime_sdk_is_pinned_once_for_every_path() -> None:
    """pywrangler adds the SDK unpinned (to python_modules/ and to its .venv-workers), and
    Cloudflare's dev group lists it unpinned: the one `==` pin is the uv constraint, which
    pip gets from vendor_worker.py and the example Worker's instructions repeat."""
    sdk = canonicalize_name(resolve.MANAGED_SDK_PACKAGE)
    assert sdk == vendor_worker.SDK
    [pin] = specifier(vendor_worker.constraints(), sdk)
    assert pin.operator == "=="
    group = PYPROJECT["dependency-groups"]["dev"]
    assert {canonicalize_name(Requirement(r).name) for r in group} == {"workers-py", sdk}
    assert not specifier(group, sdk)
    example = (ROOT / "examples" / "python-rpc-worker" / "wrangler.toml").read_text()
    assert f"{sdk}=={pin.version}" in example


def test_pip_and_uv_install_the_same_pywrangler() -> None:
    """`uv run` takes workers-py from [dependency-groups], scripts/test (pip) from the dev extra:
    one specifier, whose floor is 1.17.1, the first that selects Python 3.14 from the date."""
    from_group = specifier(PYPROJECT["dependency-groups"]["dev"], "workers-py")
    from_extra = specifier(PYPROJECT["project"]["optional-dependencies"]["dev"], "workers-py")
    assert from_group == from_extra
    assert "1.17.1" in from_group
    assert "1.17.0" not in from_group
    assert version("workers-py") in from_group
