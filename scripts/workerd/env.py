"""The environment in which wrangler and miniflare run the Python Worker in real workerd,
offline: Node >= 22 first on PATH (scripts/toolchain.sh), and workerd started through
scripts/workerd/workerd with the locally built Pyodide bundle (bundle.py).

Used by the real-workerd test tier (tests/workerd/), the runtime bench and scripts/dev, so the
recipe is written once. `python scripts/workerd/env.py` prints it as shell `export` lines.

The bundle is the `dev` one, which workerd reads from disk without checking a digest; it is
selected by the compatibility flag `python_workers_development`, which launch.py gives every
Python Worker (wrangler.toml stays as deployed). Known difference from production: one
JavaScript-side Pyodide version check is skipped.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bundle  # noqa: E402 - this folder is not a package

ROOT = bundle.ROOT


def node_path() -> str:
    """PATH with a Node >= 22 first, installed by scripts/toolchain.sh if need be."""
    found = subprocess.run(
        ["bash", "-c", 'source scripts/toolchain.sh >&2 && dirname "$(command -v node)"'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return f"{found.stdout.strip()}{os.pathsep}{os.environ.get('PATH', '')}"


def environment(registry: Path | None = None) -> dict[str, str]:
    """Variables for wrangler/miniflare; `registry` isolates wrangler's dev registry (the
    directory through which `wrangler dev` processes find each other's Workers)."""
    path = node_path()
    os.environ["PATH"] = path  # bundle.workerd_binary asks node where workerd is
    binary, _ = bundle.workerd_binary()
    extra = {
        "PATH": path,
        "WORKERD_BINARY": str(binary),
        "WORKERD_PYTHON": sys.executable,  # launch.py needs pycapnp, which this one has
        "WORKERD_PYODIDE_BUNDLE_DIR": str(bundle.build()),
        "MINIFLARE_WORKERD_PATH": str(HERE / "workerd"),
        "CLOUDFLARE_CF_FETCH_ENABLED": "false",  # miniflare would fetch Request.cf online
        "WRANGLER_SEND_METRICS": "false",
    }
    if registry is not None:
        extra["WRANGLER_REGISTRY_PATH"] = str(registry)
    return extra


def main() -> int:
    try:
        for key, value in environment().items():
            print(f"export {key}={shlex.quote(value)}")
    except bundle.BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
