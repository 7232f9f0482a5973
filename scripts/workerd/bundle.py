"""Build the Pyodide bundle that real workerd needs to run a Python Worker offline.

workerd normally downloads this file at start. Offline it reads it from
`--pyodide-bundle-disk-cache-dir DIR` as `DIR/pyodide_dev.capnp.bin` when the Worker runs under
the experimental flag `python_workers_development` (the `dev` bundle is the one workerd does
not check against a compiled-in digest). The bundle is a Cap'n Proto `Bundle` (bundle.capnp)
of three internal modules, all taken from the npm `pyodide` that matches the binary:

- `pyodideRuntime-internal:pyodide.asm`: `pyodide.asm.mjs`, with the runtime's text patches,
  which route the Emscripten glue's own calls to hooks exported by workerd's built-in
  `pyodide-internal:builtin_wrappers` (the list and its reasons are in PATCHES below);
- `pyodideRuntime-internal:pyodide.asm.wasm` and `pyodideRuntime-internal:python_stdlib.zip`,
  unchanged.

This is "layout v2" (workerd 2026-11-17 and later, whose binary carries
`pyodide-internal:emscriptenSetup` itself). Older binaries want a different bundle and are
refused. The result is cached under `.workerd/` and rebuilt only when the workerd version, the
pyodide version or this builder changes; it is deterministic.

Usage: python scripts/workerd/bundle.py [--force]   (prints the bundle directory last)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = ROOT / ".workerd" / "pyodide-bundle"
BUNDLE_NAME = "pyodide_dev.capnp.bin"
LAYOUT_V2_MARKER = b"pyodide-internal:emscriptenSetup"
DEV_PYODIDE_MARKER = re.compile(rb"pythonWorkersDevPyodide\x00(\d+\.\d+\.\d+)\x00")
MODULE_PREFIX = "pyodideRuntime-internal:"

_NO_EVAL = (
    "(() => {throw new Error('Internal Emscripten code tried to eval; workerd does not allow "
    "eval')})()"
)
_PRELUDE = (
    "import { addEventListener, getRandomValues, location, monotonicDateNow, newWasmModule, "
    "patchedApplyFunc, patchedLoadLibData, wasmInstantiate, patched_PyEM_CountFuncParams } "
    'from "pyodide-internal:builtin_wrappers";\n'
)


@dataclass(frozen=True)
class Patch:
    """Every occurrence of `key` becomes `value`; an absent key is skipped unless required."""

    key: str
    value: str
    why: str
    required: bool = True


PATCHES = (
    Patch("new WebAssembly.Module", "newWasmModule", "workerd compiles Wasm through its hook"),
    Patch("WebAssembly.instantiate", "wasmInstantiate", "the same, for instantiation"),
    Patch("Date.now", "monotonicDateNow", "the glue's clock must not move inside a request"),
    Patch(
        "crypto.getRandomValues(",
        "getRandomValues(Module, ",
        "entropy goes through workerd, which refuses it outside a request",
    ),
    Patch("eval(func)", _NO_EVAL, "workerd forbids eval"),
    Patch("eval(data)", _NO_EVAL, "workerd forbids eval"),
    Patch("eval(UTF8ToString(ptr))", _NO_EVAL, "workerd forbids eval"),
    Patch(
        "function loadLibData(){",
        "function loadLibData(){var libData=patchedLoadLibData(Module,libName,flags.rpath);"
        "return flags.loadAsync?Promise.resolve(libData):libData}"
        "function unpatchedLoadLibData(){",
        "shared libraries come from the Worker's python_modules/ (and the memory snapshot)",
    ),
    Patch(
        "getMemory(",
        "Module.getMemoryPatched(Module, libName, ",
        "a dynamic library's memory base must be stable across snapshots",
    ),
    Patch(
        "function _PyEM_CountFuncParams(func){",
        "function _PyEM_CountFuncParams(func){return patched_PyEM_CountFuncParams(Module,func);",
        "counting a function's parameters must not compile Wasm at run time",
        required=False,
    ),
    Patch(
        'console.error("Recursive call to fatal_error. Inner error was:");',
        'console.error("Recursive call to fatal_error. Inner error was:");'
        "try{API.on_fatal?.(e)}catch(e2){console.error(e2)}",
        "report every fatal error to workerd, not only the first",
        required=False,
    ),
    Patch(
        "export default _createPyodideModule;",
        _PRELUDE + "export default _createPyodideModule; export { _createPyodideModule };",
        "import workerd's hooks, and export the factory by name as workerd imports it",
    ),
)


class BundleError(RuntimeError):
    """The installed workerd and pyodide cannot give a bundle; the message says what to do."""


def node_modules() -> Path:
    return ROOT / "node_modules"


def workerd_binary() -> tuple[Path, str]:
    """The workerd binary that wrangler and miniflare run, and its npm version."""
    found = subprocess.run(
        ["node", "-e", "const w = require('workerd'); console.log(w.default + '\\n' + w.version)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        raise BundleError(f"npm workerd is not installed (npm ci installs it):\n{found.stderr}")
    path, version = found.stdout.split()
    return Path(path), version


def read_binary_facts(binary: Path) -> str:
    """The dev Pyodide version compiled into the binary; refuses a binary of another layout."""
    data = binary.read_bytes()
    if LAYOUT_V2_MARKER not in data:
        raise BundleError(
            f"{binary} wants a bundle of layout v1 (workerd before 2026-11-17); this builder "
            "makes layout v2: install wrangler 4.164 or newer (package.json pins it)"
        )
    match = DEV_PYODIDE_MARKER.search(data)
    if match is None:
        raise BundleError(f"{binary} names no development Pyodide version")
    return match.group(1).decode()


def pyodide_package(wanted: str) -> Path:
    package = node_modules() / "pyodide"
    manifest = package / "package.json"
    if not manifest.exists():
        raise BundleError(f"npm pyodide is not installed; workerd needs pyodide@{wanted}")
    installed = json.loads(manifest.read_text())["version"]
    if installed != wanted:
        raise BundleError(
            f"npm pyodide {installed} is installed, but this workerd runs Pyodide {wanted}: "
            f'pin "pyodide": "{wanted}" in package.json and run npm ci'
        )
    return package


def patch_glue(text: str) -> tuple[str, dict[str, int]]:
    """Apply PATCHES in order; the counts say how often each key matched."""
    counts: dict[str, int] = {}
    for patch in PATCHES:
        counts[patch.key] = text.count(patch.key)
        if counts[patch.key] == 0 and patch.required:
            raise BundleError(f"required patch matched nothing: {patch.key!r} ({patch.why})")
        text = text.replace(patch.key, patch.value)
    return text, counts


def encode(modules: list[tuple[str, str, bytes]]) -> bytes:
    """The capnp message: (name, kind, bytes) with kind one of src, wasm, data."""
    import capnp  # noqa: PLC0415 - a dev dependency, needed only here

    capnp.remove_import_hook()
    schema = capnp.load(str(HERE / "bundle.capnp"))
    bundle = schema.Bundle.new_message()
    listed = bundle.init("modules", len(modules))
    for module, (name, kind, body) in zip(listed, modules, strict=True):
        module.name = name
        module.type = "internal"
        setattr(module, kind, body)
    return bundle.to_bytes()


def builder_digest() -> str:
    digest = hashlib.sha256()
    for part in (Path(__file__), HERE / "bundle.capnp"):
        digest.update(part.read_bytes())
    return digest.hexdigest()[:16]


def build(force: bool = False) -> Path:
    """The bundle directory, built if missing or stale."""
    binary, workerd_version = workerd_binary()
    pyodide_version = read_binary_facts(binary)
    stamp = {"workerd": workerd_version, "pyodide": pyodide_version, "builder": builder_digest()}
    stamp_file = CACHE / "stamp.json"
    target = CACHE / BUNDLE_NAME
    if (
        not force
        and target.exists()
        and stamp_file.exists()
        and json.loads(stamp_file.read_text()) == stamp
    ):
        return CACHE
    package = pyodide_package(pyodide_version)
    glue, counts = patch_glue((package / "pyodide.asm.mjs").read_text())
    for key, count in counts.items():
        print(f"  patch {count:3d}x {key}", file=sys.stderr)
    message = encode(
        [
            (MODULE_PREFIX + "pyodide.asm", "src", glue.encode()),
            *(
                (MODULE_PREFIX + name, kind, (package / name).read_bytes())
                for name, kind in (("pyodide.asm.wasm", "wasm"), ("python_stdlib.zip", "data"))
            ),
        ]
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    target.write_bytes(message)
    stamp_file.write_text(json.dumps(stamp, indent=2) + "\n")
    print(
        f"built {target.relative_to(ROOT)}: {len(message) / 1e6:.1f} MB for workerd "
        f"{workerd_version}, Pyodide {pyodide_version}",
        file=sys.stderr,
    )
    return CACHE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args()
    try:
        print(build(args.force))
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
