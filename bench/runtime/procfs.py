"""What Linux tells about another process: its CPU time, its memory, the machine's load.

workerd does not report CPU time locally (a tail Worker's events carry `cpuTime: 0` and
`wallTime: 0`, and `performance.now()` is frozen during a request), so the bench reads the
CPU clock of the workerd process that runs the Worker (clock_getcpuclockid: every thread,
in nanoseconds), the way an outside observer can.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
from pathlib import Path


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


_LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used so far, all threads, user and system."""
    clock = ctypes.c_int()
    if _LIBC.clock_getcpuclockid(pid, ctypes.byref(clock)) != 0:
        raise ProcessLookupError(f"no CPU clock for process {pid}")
    spec = _Timespec()
    if _LIBC.clock_gettime(clock.value, ctypes.byref(spec)) != 0:
        raise OSError(ctypes.get_errno(), f"clock_gettime for process {pid}")
    return spec.tv_sec + spec.tv_nsec / 1e9


def rss_bytes(pid: int) -> int:
    """Resident memory now (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ProcessLookupError(f"no VmRSS for process {pid}")


def descendants(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    children = [int(p) for p in found.stdout.split()]
    return children + [g for c in children for g in descendants(c)]


def runtime_of(wrangler_pid: int) -> int:
    """The workerd process that runs a `wrangler dev` process's Workers. wrangler starts two:
    its own proxy (which holds the public port) and the runtime, the one given an inspector."""
    for pid in descendants(wrangler_pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if command[0].endswith(b"workerd") and any(b"--inspector-addr" in a for a in command):
            return pid
    raise ProcessLookupError(f"no workerd runtime under wrangler dev (pid {wrangler_pid})")


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()
