"""Start the real workerd the way miniflare (wrangler dev) asks, for Python Workers offline.

miniflare runs `$MINIFLARE_WORKERD_PATH serve --binary ... -` and writes the whole config, a
Cap'n Proto `Config` (npm workerd's own `workerd.capnp`), to its stdin. This launcher, which
scripts/workerd/workerd execs, changes what follows and then becomes workerd itself:

- it gives `serve` and `test` the locally built Pyodide bundle
  (`--pyodide-bundle-disk-cache-dir`, see bundle.py);
- it adds the compatibility flag `python_workers_development` to every Python Worker of the
  config, which makes workerd use that bundle (the `dev` one). wrangler's
  `--compatibility-flags` reaches only the first Worker of a process, so without this a
  second Python Worker in the same `wrangler dev` (or the example Worker beside this one)
  would ask for Cloudflare's released bundle, which needs the network.

- with `WORKERD_PYTHON_SNAPSHOT` set, it asks workerd for the memory snapshot that a deploy
  makes and a cold start restores: `save:<dir>` runs the top level and writes
  `<dir>/snapshot.bin`; `load:<dir>` starts from that file instead of importing, as a Worker
  starts in production (bench/runtime/coldstart.py measures the first request both ways).
- with `WORKERD_V8_FLAGS` set (space-separated), it hands those flags to V8, for looking
  inside the runtime: `--perf-basic-prof` makes V8 write what it compiles, named, to
  /tmp/perf-<pid>.map (bench/runtime/profile.py reads it). Nothing else sets it.

The config goes to workerd as `/dev/fd/N` of an unlinked temporary file in place of stdin
(it holds the Workers' modules, megabytes, too much for a pipe nobody drains); everything else
is passed through, open file descriptors included (miniflare's control pipe, fd 3).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DEV_FLAG = "python_workers_development"
SNAPSHOT = "WORKERD_PYTHON_SNAPSHOT"
SNAPSHOT_FILE = "snapshot.bin"
V8_FLAGS = "WORKERD_V8_FLAGS"


def snapshot_flags(setting: str | None) -> list[str]:
    """workerd's flags for `WORKERD_PYTHON_SNAPSHOT` (`save:<dir>`, `load:<dir>` or unset)."""
    if not setting:
        return []
    mode, _, folder = setting.partition(":")
    if mode not in ("save", "load") or not folder:
        sys.exit(f"launch.py: {SNAPSHOT} must be save:<dir> or load:<dir>, not {setting!r}")
    if mode == "load":
        return [f"--python-snapshot-dir={folder}", f"--python-load-snapshot={SNAPSHOT_FILE}"]
    os.makedirs(folder, exist_ok=True)  # workerd writes into it, and makes none
    return [f"--python-snapshot-dir={folder}", "--python-save-snapshot"]


def workerd_schema() -> object:
    import capnp  # noqa: PLC0415 - only the launcher needs it

    capnp.remove_import_hook()
    # The schema imports "/capnp/c++.capnp", which pycapnp ships as capnp/c++.capnp.
    imports = [str(Path(capnp.__file__).resolve().parent.parent)]
    binary = Path(os.environ["WORKERD_BINARY"]).resolve()
    # npm's workerd package (node_modules/workerd) ships the schema; the binary is in
    # node_modules/@cloudflare/workerd-<platform>/bin/.
    for folder in binary.parents:
        found = folder / "workerd" / "workerd.capnp"
        if found.exists():
            return capnp.load(str(found), imports=imports)
    sys.exit(f"launch.py: no workerd/workerd.capnp above {binary}")


def with_flags(config: bytes, v8_flags: list[str] | None = None) -> bytes:
    """The config with every Python Worker given the development flag, and V8 `v8_flags`
    after those it has."""
    schema = workerd_schema()
    with schema.Config.from_bytes(config, traversal_limit_in_words=2**62) as read:
        message = read.as_builder()
    if v8_flags:
        given = [*message.v8Flags, *v8_flags]
        listed = message.init("v8Flags", len(given))
        for index, flag in enumerate(given):
            listed[index] = flag
    for service in message.services:
        if service.which() != "worker":
            continue
        worker = service.worker
        if worker.which() != "modules" or not any(
            module.which() == "pythonModule" for module in worker.modules
        ):
            continue
        flags = list(worker.compatibilityFlags)
        if DEV_FLAG not in flags:
            listed = worker.init("compatibilityFlags", len(flags) + 1)
            for index, flag in enumerate([*flags, DEV_FLAG]):
                listed[index] = flag
    return message.to_bytes()


def main(argv: list[str]) -> None:
    binary = os.environ["WORKERD_BINARY"]
    args = list(argv)
    if args and args[0] in ("serve", "test"):
        args[1:1] = ["--pyodide-bundle-disk-cache-dir", os.environ["WORKERD_PYODIDE_BUNDLE_DIR"]]
        args[1:1] = snapshot_flags(os.environ.get(SNAPSHOT))
        if "--binary" in args and "-" in args:
            kept = tempfile.TemporaryFile(prefix="workerd-config-")  # noqa: SIM115 - outlives us
            v8_flags = os.environ.get(V8_FLAGS, "").split()
            kept.write(with_flags(sys.stdin.buffer.read(), v8_flags))
            kept.flush()
            os.set_inheritable(kept.fileno(), True)
            args[args.index("-")] = f"/dev/fd/{kept.fileno()}"
    os.execv(binary, [binary, *args])


if __name__ == "__main__":
    main(sys.argv[1:])
