"""The Pyodide bundle that real workerd runs offline (scripts/workerd/bundle.py): built from
the npm pyodide that the installed workerd names, every required patch applied, refused
when the versions disagree or a required patch finds nothing, and deterministic."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import capnp
import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts" / "workerd"))
import bundle  # scripts/workerd is not a package
import launch


@pytest.fixture(scope="module")
def glue() -> str:
    return (ROOT / "node_modules" / "pyodide" / "pyodide.asm.mjs").read_text()


def test_the_binary_names_the_pyodide_that_npm_installed() -> None:
    binary, _ = bundle.workerd_binary()
    wanted = bundle.read_binary_facts(binary)
    installed = json.loads((ROOT / "node_modules" / "pyodide" / "package.json").read_text())
    assert wanted == installed["version"], "package.json pins pyodide to workerd's dev Pyodide"


def test_a_mismatched_pyodide_is_refused_with_what_to_do() -> None:
    with pytest.raises(bundle.BundleError, match=r'pin "pyodide": "0\.0\.1" in package.json'):
        bundle.pyodide_package("0.0.1")


def test_every_required_patch_applies_to_the_real_glue(glue: str) -> None:
    patched, counts = bundle.patch_glue(glue)
    for patch in bundle.PATCHES:
        if patch.required:
            assert counts[patch.key] >= 1, patch.key
            assert patch.key not in patched or patch.key in patch.value, patch.key
    assert 'from "pyodide-internal:builtin_wrappers"' in patched
    assert patched.rstrip().endswith("export { _createPyodideModule };")
    assert "eval(func)" not in patched


def test_a_required_patch_that_finds_nothing_fails(glue: str) -> None:
    without = glue.replace("crypto.getRandomValues(", "crypto.notTheCallWeExpect(")
    with pytest.raises(bundle.BundleError, match="getRandomValues"):
        bundle.patch_glue(without)


def test_the_encoding_is_deterministic_and_workerds_layout() -> None:
    modules = [
        ("pyodideRuntime-internal:a", "src", b"x"),
        ("pyodideRuntime-internal:b", "wasm", b"\0"),
    ]
    first, second = bundle.encode(modules), bundle.encode(modules)
    assert first == second
    schema = capnp.load(str(ROOT / "scripts" / "workerd" / "bundle.capnp"))
    with schema.Bundle.from_bytes(first) as read:
        assert [(m.name, m.which(), str(m.type)) for m in read.modules] == [
            ("pyodideRuntime-internal:a", "src", "internal"),
            ("pyodideRuntime-internal:b", "wasm", "internal"),
        ]


def test_the_cached_bundle_is_current() -> None:
    """scripts/test built it; a second build finds it up to date and leaves it alone."""
    target = bundle.CACHE / bundle.BUNDLE_NAME
    before = target.stat().st_mtime_ns
    assert bundle.build() == bundle.CACHE
    assert target.stat().st_mtime_ns == before
    stamp = json.loads((bundle.CACHE / "stamp.json").read_text())
    assert stamp["builder"] == bundle.builder_digest()


def test_the_snapshot_setting_becomes_workerds_flags(tmp_path: Path) -> None:
    """launch.py's WORKERD_PYTHON_SNAPSHOT: what the bench's cold start and a developer use to
    save a deploy's snapshot and start from it; a setting it cannot read stops the launch."""
    assert launch.snapshot_flags(None) == launch.snapshot_flags("") == []
    folder = tmp_path / "snapshots"
    assert launch.snapshot_flags(f"save:{folder}") == [
        f"--python-snapshot-dir={folder}",
        "--python-save-snapshot",
    ]
    assert folder.is_dir(), "workerd writes the snapshot into the folder, and makes none"
    assert launch.snapshot_flags("load:/tmp/s") == [
        "--python-snapshot-dir=/tmp/s",
        "--python-load-snapshot=snapshot.bin",
    ]
    for bad in ("keep:/tmp/s", "save:", "/tmp/s"):
        with pytest.raises(SystemExit, match="save:<dir> or load:<dir>"):
            launch.snapshot_flags(bad)


def test_the_config_gets_the_dev_flag_and_the_v8_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    """launch.py's rewrite of miniflare's config: the development flag on every Python Worker
    (none on a JavaScript one), and WORKERD_V8_FLAGS after the V8 flags the config has."""
    monkeypatch.setenv("WORKERD_BINARY", str(bundle.workerd_binary()[0]))
    schema = launch.workerd_schema()
    config = schema.Config.new_message()
    config.v8Flags = ["--given"]
    services = config.init("services", 2)
    kinds = [("py", "pythonModule"), ("js", "esModule")]
    for service, (name, kind) in zip(services, kinds, strict=True):
        service.name = name
        worker = service.init("worker")
        worker.compatibilityFlags = ["python_workers"] if kind == "pythonModule" else []
        module = worker.init("modules", 1)[0]
        module.name = "entry"
        setattr(module, kind, "")
    written = config.to_bytes()
    changed = launch.with_flags(written, ["--perf-basic-prof"])
    with schema.Config.from_bytes(changed) as read:
        flags = {s.name: list(s.worker.compatibilityFlags) for s in read.services}
        assert flags == {"py": ["python_workers", launch.DEV_FLAG], "js": []}
        assert list(read.v8Flags) == ["--given", "--perf-basic-prof"]
    with schema.Config.from_bytes(launch.with_flags(written)) as read:
        assert list(read.v8Flags) == ["--given"]
