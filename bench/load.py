"""A load test of the local server, over loopback only: requests/s and latency percentiles for
a mixed workload, for the same workload while searches run alongside, and for 32 writers on
one session (the hot spot: a session's writes are serial, as in its Durable Object).

The server is `agent-sessions serve` in a child process, as a user starts it, on tmpfs; the
clients are threads here, each with its own keep-alive connection. Phases without and with
search alternate, and the slowdown is the median of the rounds' own: a shared machine's drift
then blurs both phases of a round alike.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .run import scratch_root
from .workload import Conversation

SEARCHES = ("agent tokens", "compaction branches", "retries budgets", "summarises the file")


@dataclass(frozen=True)
class Size:
    workers: int
    searchers: int
    writers: int
    corpus_sessions: int
    corpus_entries: int
    phase_s: float
    rounds: int


FULL = Size(8, 2, 32, 20, 500, 2.0, 8)
SMOKE = Size(4, 1, 32, 2, 40, 0.5, 1)


class Connection:
    """One client's keep-alive connection; answers (status, JSON body)."""

    def __init__(self, port: int) -> None:
        self._http = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if payload is not None else {}
        self._http.request(method, path, body=payload, headers=headers)
        response = self._http.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def close(self) -> None:
        self._http.close()


@contextmanager
def local_server() -> Iterator[int]:
    """`agent-sessions serve --no-auth` on a free loopback port, data on tmpfs."""
    data = Path(tempfile.mkdtemp(prefix="agent-sessions-load-", dir=scratch_root()))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "agent_sessions", "serve", "--no-auth", "--port", str(port)]
    log = data / "server.log"  # a file, not a pipe nobody reads: the access log would fill it
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--data-dir", str(data / "data")], stdout=output, stderr=output
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                Connection(port).call("GET", "/healthz")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start: {log.read_text()}") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


def seed(port: int, size: Size) -> None:
    """The sessions the workers use, and a corpus of ~1 KB messages for search to index;
    waits until the mirror (the local D1, which search reads) has all of it."""
    client = Connection(port)
    conversation = Conversation()
    for worker in range(size.workers):
        client.call("POST", "/v1/sessions", {"id": f"w{worker}", "user_id": "load"})
    client.call("POST", "/v1/sessions", {"id": "hot"})
    for index in range(size.corpus_sessions):
        client.call("POST", "/v1/sessions", {"id": f"c{index}", "user_id": "corpus"})
        for start in range(0, size.corpus_entries, 250):
            batch = conversation.take(min(250, size.corpus_entries - start))
            entries = [{"type": "message", **message} for message in batch]
            client.call("POST", f"/v1/sessions/c{index}/entries", {"entries": entries})
    while client.call("GET", "/healthz")[1]["mirror"]["pending"]:
        time.sleep(0.2)
    client.close()


Operation = Callable[[Connection, int], tuple[str, int]]
"""(connection, how many it ran before) -> (route, HTTP status)."""


def mixed(worker: int) -> Operation:
    """The mix a worker runs on its own session: writes, reads, a context load, a listing."""
    session = f"/v1/sessions/w{worker}"
    steps: list[tuple[str, str, str, Any]] = [
        (
            "append",
            "POST",
            f"{session}/entries",
            {"entries": [{"type": "message", "content": "hi"}]},
        ),
        ("read", "GET", f"{session}/entries?limit=20&order=desc", None),
        (
            "append",
            "POST",
            f"{session}/entries",
            {"entries": [{"type": "message", "content": "ok"}]},
        ),
        ("context", "GET", f"{session}/context", None),
        ("get", "GET", session, None),
        ("list", "GET", "/v1/sessions?user_id=load&limit=20", None),
    ]

    def run(connection: Connection, count: int) -> tuple[str, int]:
        route, method, path, body = steps[count % len(steps)]
        return route, connection.call(method, path, body)[0]

    return run


def search(connection: Connection, count: int) -> tuple[str, int]:
    query = SEARCHES[count % len(SEARCHES)].replace(" ", "+")
    return "search", connection.call("GET", f"/v1/search?q={query}&limit=20")[0]


def hot_append(connection: Connection, _count: int) -> tuple[str, int]:
    body = {"entries": [{"type": "message", "content": "hot"}]}
    return "hot append", connection.call("POST", "/v1/sessions/hot/entries", body)[0]


def run_phase(
    port: int, operations: list[Operation], seconds: float
) -> list[tuple[str, int, float]]:
    """Every operation in its own thread, looping until the time is up: (route, status,
    seconds) per request."""
    records: list[tuple[str, int, float]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(operation: Operation) -> None:
        connection, mine, count = Connection(port), [], 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                route, status = operation(connection, count)
            except (OSError, http.client.HTTPException, ValueError):
                route, status = "error", 0
                connection.close()
                connection = Connection(port)
            mine.append((route, status, time.perf_counter() - started))
            count += 1
        connection.close()
        with lock:
            records.extend(mine)

    threads = [threading.Thread(target=loop, args=(op,)) for op in operations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return records


def figures(records: list[tuple[str, int, float]], seconds: float) -> dict[str, Any]:
    """Requests/s, p50/p95/p99 in ms, and errors (anything but a 2xx), of some requests."""
    latencies = sorted(r[2] for r in records)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "requests": len(records),
        "requests_per_s": round(len(records) / seconds, 1),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "errors": sum(1 for r in records if not 200 <= r[1] < 300),
    }


def measure(smoke: bool = False) -> dict[str, Any]:
    size = SMOKE if smoke else FULL
    with local_server() as port:
        seed(port, size)
        workers = [mixed(w) for w in range(size.workers)]
        plain: list[tuple[str, int, float]] = []
        searched: list[tuple[str, int, float]] = []
        slowdowns = []
        for _ in range(size.rounds):
            without = run_phase(port, workers, size.phase_s)
            alongside = run_phase(port, workers + [search] * size.searchers, size.phase_s)
            kept = sum(1 for r in alongside if r[0] != "search") / max(1, len(without))
            slowdowns.append(100 * (1 - kept))
            plain += without
            searched += alongside
        hot = run_phase(port, [hot_append] * size.writers, size.phase_s * 2)
        entries = Connection(port).call("GET", "/v1/sessions/hot")[1]["entry_count"]
    seconds = size.phase_s * size.rounds
    others = [r for r in searched if r[0] != "search"]
    results = {
        "size": size.__dict__,
        "mixed": figures(plain, seconds),
        "mixed_with_search": figures(searched, seconds),
        "other_routes_with_search": figures(others, seconds),
        "search": figures([r for r in searched if r[0] == "search"], seconds),
        "hot_spot": figures(hot, size.phase_s * 2)
        | {
            "acknowledged": sum(1 for r in hot if r[1] == 201),
            "entries": entries,
        },
        "search_slowdown_pct": round(statistics.median(slowdowns), 1),
        "search_slowdown_by_round_pct": [round(s, 1) for s in slowdowns],
    }
    return results
