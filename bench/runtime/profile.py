"""Where a fresh isolate's first request spends its CPU, read with Linux `perf` from outside.

Inside workerd the clock is frozen during a request and Pyodide's WebAssembly has no function
names, so neither Python's profilers nor the inspector's (which files most of it under
"(program)") say where a first request goes. `perf` sees workerd's own symbols, V8's among
them: this samples the runtime process (procfs.runtime_of) from just before the first request
until just after its answer, and sorts each sample of the main thread and of V8's background
threads by what is on its stack: compiling WebAssembly on first use (Liftoff), tiering it up,
compiling JavaScript on first use, SQLite, the garbage collector, or the rest (the work).

    .venv/bin/python -m bench.runtime.profile [http|http.health|pyfloor|trivial]

It also lists what V8 compiled during the request, from the names V8 writes for `perf`
(`--perf-basic-prof`, handed over by scripts/workerd/launch.py): WebAssembly functions
compiled by Liftoff, those among them that had been compiled before the request already (the
same function index and size of code: the import and the warm-up compiled them, and the
request's isolate compiles them again), WebAssembly tiered up, and JavaScript compiled on
first use. An index alone could be another module's (a package's `.so`), hence the size.

Needs `perf` (Debian's linux-perf) and the workerd environment (scripts/workerd/env.py). The
figures are sampled with call stacks (10 kHz), which slows the request about twofold: compare
them with each other, not with the bench's.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .coldstart import FIRST, worker_of
from .loopback import Loopback
from .processes import START_TIMEOUT_S, TOKEN, Fleet, migrated_d1, perf_names
from .procfs import runtime_of

KINDS = (
    ("Liftoff: WebAssembly compiled on first use", "Runtime_WasmCompileLazy"),
    ("TurboFan: WebAssembly tiered up", "ExecuteTurboshaftWasmCompilation"),
    ("JavaScript compiled on first use", "Runtime_CompileLazy"),
    ("JavaScript optimised", "Compile"),
    ("SQLite", "sqlite3"),
    ("garbage collector", "Heap::"),
)
"""(what, a symbol on the stack that shows it), the first that matches naming a sample."""


Sample = tuple[int, int, list[str]]
"""(thread id, period in nanoseconds, the stack's frames, innermost first)."""


def _samples(data: Path) -> list[Sample]:
    script = ["perf", "script", "-i", str(data), "-F", "tid,period,ip,sym"]
    return parse(subprocess.run(script, capture_output=True, text=True, check=True).stdout)


def parse(text: str) -> list[Sample]:
    """The samples of `perf script -F tid,period,ip,sym`: a line with the thread and the
    period, then one tab-indented line per frame."""
    samples: list[Sample] = []
    for line in text.splitlines():
        if line.startswith("\t"):
            samples[-1][2].append(line.strip())
        elif line.strip():
            thread, period = line.split()[:2]
            samples.append((int(thread), int(period), []))
    return samples


def summary(samples: list[Sample]) -> dict[str, collections.Counter[str]]:
    """Milliseconds by what the stack shows, for the main thread (the lowest id: workerd's own,
    which runs the isolate) and for the background threads together."""
    main = min(thread for thread, _, _ in samples)
    found: dict[str, collections.Counter[str]] = {"main": collections.Counter()}
    found["background"] = collections.Counter()
    for thread, period, stack in samples:
        what = next((w for w, sign in KINDS if any(sign in s for s in stack)), "the rest")
        found["main" if thread == main else "background"][what] += period / 1e6
    return found


COMPILED = re.compile(r"^\S+ ([0-9a-f]+) (?:JS:wasm-function\[(\d+)\]-\d+-(\w+)|(JS:~))")
"""A line of V8's perf map: code's start, size (hex) and name; the name of a WebAssembly
function's code says its index and its tier, a JavaScript function compiled lazily for its
first use starts "JS:~"."""


Compiled = dict[str, tuple[int, int]]
"""{what: (functions, bytes of code)}."""


def compiled(before: list[str], during: list[str]) -> Compiled:
    """What V8 compiled during the request, from its perf map's lines written `before` it and
    `during` it."""
    earlier = set()
    for line in before:
        if (found := COMPILED.match(line)) and found[3] == "liftoff":
            earlier.add((found[2], found[1]))
    what: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for line in during:
        if not (found := COMPILED.match(line)):
            continue
        size, index, tier, lazy = found.groups()
        if lazy:
            kind = "JavaScript, first use"
        elif tier != "liftoff":
            kind = f"WebAssembly, tiered up ({tier})"
        elif (index, size) in earlier:
            kind = "WebAssembly, compiled before the request already, and again (liftoff)"
        else:
            kind = "WebAssembly, first compiled (liftoff)"
        what[kind][0] += 1
        what[kind][1] += int(size, 16)
    return {kind: (count, size) for kind, (count, size) in what.items()}


Profile = tuple[dict[str, collections.Counter[str]], Compiled]


def profile(kind: str) -> Profile:
    """The first request of `kind`: its CPU by what the stacks show (`summary`), and what V8
    compiled meanwhile (`compiled`)."""
    with tempfile.TemporaryDirectory(prefix="first-request-profile-") as folder:
        scratch = Path(folder)
        fleet = Fleet(scratch)  # the bench's own systems; only this one is started
        worker = fleet.wranglers[worker_of(kind)]
        perf_names(worker, scratch / "v8.log")
        if worker is fleet.http:
            shutil.copytree(migrated_d1(fleet.env), worker.state)
        worker.start()
        names: Path | None = None
        try:
            worker.wait_ready(time.monotonic() + START_TIMEOUT_S)
            pid = runtime_of(worker.process.pid)
            names = Path(f"/tmp/perf-{pid}.map")  # where V8 writes it
            data, code = _record(pid, names, kind, worker.base, scratch)
            return summary(_samples(data)), code
        finally:
            worker.stop()
            if names is not None:
                names.unlink(missing_ok=True)


def _record(pid: int, names: Path, kind: str, base: str, scratch: Path) -> tuple[Path, Compiled]:
    """perf's samples of the runtime process `pid` around the first request of `kind`, and
    what V8 compiled during it (from its perf map, `names`)."""
    data = scratch / "perf.data"
    record = ["perf", "record", "-F", "10000", "-g", "-o", str(data), "-p", str(pid)]
    recording = subprocess.Popen(record, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # perf is attached
    before = names.read_text().splitlines()
    client = Loopback(base, {"authorization": f"Bearer {TOKEN}"})
    FIRST[kind].request(client)
    client.close()
    time.sleep(0.1)
    recording.send_signal(signal.SIGINT)
    recording.wait()
    return data, compiled(before, names.read_text().splitlines()[len(before) :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    kinds = sorted(set(FIRST) - {"http.resume"})  # a resume needs a session made before
    parser.add_argument("kind", nargs="?", default="http", choices=kinds)
    kind = parser.parse_args().kind
    if shutil.which("perf") is None:
        parser.exit(2, "bench.runtime.profile needs perf (Debian: apt-get install linux-perf)\n")
    spent_by_thread, code = profile(kind)
    for thread, spent in spent_by_thread.items():
        print(f"{thread}: {sum(spent.values()):.1f} ms")
        for what, ms in spent.most_common():
            print(f"  {ms:7.1f}  {what}")
    print("compiled by V8 during the request:")
    for what, (count, size) in sorted(code.items(), key=lambda item: -item[1][1]):
        print(f"  {count:5d} functions  {size / 1024:8,.0f} KB  {what}")


if __name__ == "__main__":
    main()
