"""Run the benchmarks: `python -m bench` (the README's `scripts/bench`).

Under CPython, two suites: `storage`, what a turn costs as a session grows, for agent-sessions
and its peers; and `load`, the local server under concurrent clients (bench/load.py).
`python -m bench runtime` measures the Worker in real workerd beside JavaScript peers
(bench/runtime/), and `python -m bench scale` what the mirror's D1 shards carry, in
process and in real workerd, and the capacity model (bench/scale.py). Exits 1 if a target
is missed; `--smoke` runs tiny sizes to prove the bench works and checks no targets (they
are about sizes it does not reach).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from . import load, load_report, probe, scale
from .mirror import mirror_figures
from .report import check, machine, markdown, write
from .run import measure_system, scratch_root

ROOT = Path(__file__).resolve().parent
PEERS = {"openai-agents": "agents", "langgraph": "langgraph.checkpoint.sqlite"}


def turns_at(history: int, turns: int) -> int:
    """Fewer turns at 10,000 entries: the blob layouts then move ~10 MB a turn."""
    return max(3, turns // 5) if history >= 10_000 else turns


def storage(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The storage suite; its targets."""
    sizes = [10, 20] if args.smoke else [int(s) for s in args.sizes.split(",")]
    turns = 3 if args.smoke else args.turns
    probe.install()
    systems = ["agent-sessions", "single-blob"]
    for system, module in PEERS.items():
        if importlib.util.find_spec(module.split(".")[0]) is None:
            print(f"bench: {system} is not installed (pip install -e '.[bench]'); skipped")
        else:
            systems.append(system)
    rows = []
    for system in systems:
        for size in sizes:
            rows.append(measure_system(system, size, turns_at(size, turns)))
            print(f"bench: {system} at {size:,} entries done", flush=True)
    results = {
        "machine": machine(),
        "scratch": str(scratch_root()),
        "rows": rows,
        "mirror": mirror_figures(100 if not args.smoke else 5),
    }
    results["targets"] = check(results)
    write(results, args.out)
    print(markdown(results))
    return results["targets"]


def load_suite(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The load suite; its targets."""
    results = load.measure(args.smoke)
    load_report.write(results, args.out)
    print(load_report.markdown(results))
    return results["targets"]


SUITES = {"storage": storage, "load": load_suite}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["runtime"]:
        from .runtime.main import main as runtime  # noqa: PLC0415 - needs the workerd toolchain

        return runtime(argv[1:])
    if argv[:1] == ["scale"]:
        return scale.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--suite", choices=["all", *SUITES], default="all")
    parser.add_argument("--sizes", default="10,100,1000,10000", help="history lengths")
    parser.add_argument("--turns", type=int, default=100, help="turns measured per size")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; no target checks")
    args = parser.parse_args(argv)
    chosen = list(SUITES) if args.suite == "all" else [args.suite]
    targets = [target for name in chosen for target in SUITES[name](args)]
    missed = [t["target"] for t in targets if t["met"] is False]
    if missed and not args.smoke:
        print(f"bench: targets missed: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
