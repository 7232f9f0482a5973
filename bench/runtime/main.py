"""`python -m bench runtime [--smoke] [--out DIR]`: start the systems, run the phases, write
runtime.json / .md / .png, print the table and each target; exit 1 while a target is missed
(the smoke run checks no targets)."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import machine
from bench.run import scratch_root

from .agents_turn import IN_PROCESS_KEYS, AgentsTurns, run_agents
from .coldstart import run_cold
from .history import HistoryPhase
from .loopback import Loopback
from .plan import FULL, SMOKE, Plan
from .processes import TOKEN, Fleet
from .procfs import load_average
from .progress import progress
from .report import SYSTEMS, markdown, write
from .sampling import IN_PROCESS, quiesce
from .systems import Floor, Peer, SessionsHttp, SessionsRpc, System
from .targets import check

RESULTS = Path(__file__).resolve().parents[1] / "results"
NOTE = (
    "Every workerd system is reached through its `wrangler dev` port (wrangler's proxy, as a "
    "developer runs it), state on the same scratch filesystem. CPU is the CPU clock of the "
    "workerd process running the Workers (workerd reports none locally: tail events carry "
    "cpuTime 0), from one request's start to the next's, so it includes background work: "
    "for agent-sessions, the drain to its local D1, which runs in the same process."
)


PROCESSES = tuple(key for key in SYSTEMS if key not in IN_PROCESS_KEYS)
"""The systems with a process of their own (the SDK's sessions run in the bench's)."""


def build_systems(fleet: Fleet) -> dict[str, System]:
    auth = {"authorization": f"Bearer {TOKEN}"}
    return {
        "http": SessionsHttp("http", SYSTEMS["http"], Loopback(fleet.base("http"), auth)),
        "rpc": SessionsRpc("rpc", SYSTEMS["rpc"], Loopback(fleet.base("rpc"))),
        "floor": Floor("floor", SYSTEMS["floor"], Loopback(fleet.base("floor"))),
        "pyfloor": Floor("pyfloor", SYSTEMS["pyfloor"], Loopback(fleet.base("pyfloor"))),
        "peer": Peer("peer", SYSTEMS["peer"], Loopback(fleet.base("peer"))),
        "cpython": SessionsHttp("cpython", SYSTEMS["cpython"], Loopback(fleet.base("cpython"))),
    }


def measure(fleet: Fleet, plan: Plan) -> dict[str, Any]:
    fleet.start()
    progress("all systems started")
    quiesce({key: fleet.pid(key) for key in (*PROCESSES, "trivial")})
    cold = run_cold(
        {"http": fleet.http, "pyfloor": fleet.pyfloor, "trivial": fleet.trivial}, plan.cold_reps
    )
    pids = {key: fleet.pid(key) for key in PROCESSES}
    history = HistoryPhase(build_systems(fleet), pids, plan)
    cells = history.run()
    servers = {"http": (fleet.base("http"), TOKEN), "cpython": (fleet.base("cpython"), None)}
    turns = AgentsTurns(servers, fleet.scratch / "sdk-sessions.db")
    try:
        agents_pids = {key: pids[key] for key in servers} | dict.fromkeys(
            IN_PROCESS_KEYS, IN_PROCESS
        )
        cells += run_agents(turns, agents_pids, plan)
    finally:
        turns.close()
    cells.append(history.final(fleet.abandon))
    return {"cells": cells, "memory": history.memory, "cold_start": cold}


def report_failure(fleet: Fleet) -> None:
    for wrangler in fleet.wranglers.values():
        print(f"--- {wrangler.name} log\n{wrangler.log()[-3000:]}", file=sys.stderr)


def stop_on_sigterm() -> None:
    """A SIGTERM (a test's timeout, a CI cancel) unwinds like Ctrl-C: the processes stop."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench runtime", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; no target checks")
    parser.add_argument("--out", type=Path, help="bench/results (smoke: bench/results/tmp)")
    parser.add_argument("--histories", help="three history lengths, e.g. 10,1000,10000")
    parser.add_argument("--reps", type=int, help="repetitions per cell")
    args = parser.parse_args(argv)
    plan = SMOKE if args.smoke else FULL
    if args.histories:
        small, middle, large = (int(h) for h in args.histories.split(","))
        plan = dataclasses.replace(plan, histories=(small, middle, large))
    if args.reps:
        plan = dataclasses.replace(plan, reps=args.reps, agents_reps=args.reps)
    out = args.out or (RESULTS / "tmp" if args.smoke else RESULTS)
    scratch = Path(tempfile.mkdtemp(prefix="agent-sessions-runtime-", dir=scratch_root()))
    fleet = Fleet(scratch)
    stop_on_sigterm()
    load_start, started = load_average(), time.monotonic()
    try:
        results = measure(fleet, plan)
    except BaseException:
        report_failure(fleet)
        raise
    finally:
        fleet.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    results |= {
        "machine": machine(),
        "plan": plan.as_dict(),
        "load_average": {"start": load_start, "end": load_average()},
        "seconds": time.monotonic() - started,
        "note": NOTE,
    }
    results["targets"] = check(results)
    write(results, out)
    print(markdown(results))
    for t in results["targets"]:
        value = "not measured" if t["value"] is None else f"{t['value']:.2f}"
        verdict = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        print(f"target: {t['target']} {t['limit']}: {value}: {verdict}")
    progress(f"results in {out}")
    missed = [t for t in results["targets"] if t["met"] is False]
    return 1 if missed and not args.smoke else 0
