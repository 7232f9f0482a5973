"""The scale run in real workerd: the project's Worker (wrangler.toml, `wrangler dev`, local
D1 and Durable Objects) with one or two D1 shards, many sessions of several tenants written
at once by a few client threads over HTTP for a fixed time.

A turn is what agent SDKs write: two appends of one ~1 KB message each, the user's and then
the answer, back to back. Measured per configuration (shards, MIRROR_DRAIN_DELAY_MS):

- **turns/s**: turns acknowledged over the run's seconds, and each append's latency;
- **drain lag**: from a turn's last acknowledgement until `GET /v1/search` finds the unique
  word the answer carries. Search reads the tenant's D1 (its FTS index), so a hit is the
  turn's rows visible to a D1 reader; the session's mirror status would only say that its
  Durable Object has recorded D1's answer, a step later and without touching D1. One prober
  polls the newest turn every POLL_S; the lag counts up to the send of the search that found
  it, so it is late by at most POLL_S plus one search;
- **search latency** while the writes run (the prober's searches) and idle (after);
- **D1 statements and batches per turn**: the drain's own counters (`statements`,
  `batches` of each session's mirror status: what it sent D1), after minus before, over the
  turns written;
- **D1 bytes per turn**: the local D1 files' pages (SQLite page_count x page_size, indexes
  and the full-text index included) after the run minus before, over the turns; and the rows
  there, checked equal to what was acknowledged.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agent_sessions.mirror.shards import SHARDS_SETTING, ShardMap
from agent_sessions.mirror.timing import SETTING as DELAY_SETTING

from ..workload import Conversation
from .loopback import Loopback
from .main import stop_on_sigterm
from .processes import ROOT, START_TIMEOUT_S, WRANGLER, Wrangler, migrated_d1, wrangler_env
from .procfs import load_average
from .progress import progress
from .sampling import p95

POLL_S = 0.02
CONFIGS = ((1, 0), (2, 0), (2, 250))
"""(D1 shards, MIRROR_DRAIN_DELAY_MS) of each run."""
D1_FILES = "v3/d1/miniflare-D1DatabaseObject/[0-9a-f]*.sqlite"


@dataclass(frozen=True)
class ScalePlan:
    tenants: int
    sessions: int
    clients: int
    seconds: float
    idle_searches: int


FULL = ScalePlan(tenants=4, sessions=120, clients=4, seconds=40, idle_searches=40)
SMOKE = ScalePlan(tenants=2, sessions=6, clients=2, seconds=4, idle_searches=5)


def tenants_for(bindings: tuple[str, ...], count: int) -> list[str]:
    """`count` tenant names, as many on each shard as the count allows (the hash spreads many
    tenants evenly, bench/scale.py measures how evenly; a few need choosing)."""
    shard_map, each = ShardMap(bindings), -(-count // len(bindings))
    chosen: dict[str, list[str]] = {b: [] for b in bindings}
    n = 0
    while sum(map(len, chosen.values())) < count:
        name, n = f"tenant-{n}", n + 1
        placed = chosen[shard_map.place(name).read]
        if len(placed) < each:
            placed.append(name)
    return [t for names in chosen.values() for t in names]


def token_of(tenant: str) -> str:
    return f"scale-bench-token-{tenant}-0123456789"


class Worker:
    """One `wrangler dev` of the project's Worker with `shards` local D1 databases."""

    def __init__(self, scratch: Path, shards: int, delay_ms: int, tenants: list[str]) -> None:
        self.bindings = ("DB", *(f"DB_{n}" for n in range(1, shards)))
        self.env = wrangler_env(scratch)
        self.config = ROOT / "wrangler.toml"
        if shards > 1:  # beside wrangler.toml (python_modules/), a name .gitignore holds
            from shard_config import with_shards  # noqa: PLC0415 - on processes.py's path

            self.config = ROOT / f".wrangler-test-scale-{scratch.name}.toml"
            settings = {SHARDS_SETTING: json.dumps(list(self.bindings))}
            self.config.write_text(with_shards(ROOT / "wrangler.toml", self.bindings, settings))
        tokens = ",".join(f"{token_of(t)}={t}" for t in tenants)
        variables = {"AGENT_SESSIONS_TOKENS": tokens, DELAY_SETTING: str(delay_ms)}
        state = scratch / "state"
        self.wrangler = Wrangler("scale", [self.config], ROOT, state, self.env, variables)

    def migrate(self) -> None:
        """D1's tables in every database: `DB` from the runtime bench's migrated copy, the
        others as a user makes them (`wrangler d1 migrations apply --local`)."""
        shutil.copytree(migrated_d1(self.env), self.wrangler.state)
        for binding in self.bindings[1:]:
            command = [str(WRANGLER), "d1", "migrations", "apply", binding, "--local"]
            command += ["-c", str(self.config), "--persist-to", str(self.wrangler.state)]
            subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, check=True)

    def d1_files(self) -> tuple[int, int]:
        """(bytes of pages, entry rows) over the local D1 databases; read with workerd
        stopped."""
        pages = entries = 0
        for path in self.wrangler.state.glob(D1_FILES):
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                pages += (
                    db.execute("PRAGMA page_count").fetchone()[0]
                    * db.execute("PRAGMA page_size").fetchone()[0]
                )
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
                if "session_entries" in tables:
                    entries += db.execute("SELECT count(*) FROM session_entries").fetchone()[0]
            finally:
                db.close()
        return pages, entries

    def stop(self) -> None:
        self.wrangler.stop()
        if self.config != ROOT / "wrangler.toml":
            self.config.unlink(missing_ok=True)


def stats(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "p50_ms": None, "p95_ms": None}
    return {"count": len(values), "p50_ms": statistics.median(values), "p95_ms": p95(values)}


class Run:
    """The sessions, the writers and the prober against one running Worker."""

    def __init__(self, base: str, tenants: list[str], plan: ScalePlan, label: str) -> None:
        self.base, self.plan, self.label = base, plan, label
        self.sessions = [(tenants[i % len(tenants)], f"scale-{i}") for i in range(plan.sessions)]
        self.turns = 0
        self.appends: list[float] = []
        self.newest: tuple[str, str, float] | None = None
        """(tenant, word, acknowledged at) of the newest turn: what the prober looks for."""
        self.words: list[tuple[str, str]] = []
        """(tenant, word) of every turn written: what the idle searches look for."""
        self.lock = threading.Lock()
        self.writing = threading.Event()

    def client(self, tenant: str) -> Loopback:
        return Loopback(self.base, {"authorization": f"Bearer {token_of(tenant)}"})

    def each_session(self, call: Callable[[Loopback, str], Any]) -> list[Any]:
        clients = {t: self.client(t) for t, _ in self.sessions}
        try:
            return [call(clients[tenant], sid) for tenant, sid in self.sessions]
        finally:
            for c in clients.values():
                c.close()

    def create(self) -> None:
        self.each_session(lambda c, sid: c.call("POST", "/v1/sessions", {"id": sid}))

    def counters(self) -> tuple[int, int, int]:
        """(pending outbox rows, D1 batches, D1 statements), summed over the sessions."""
        status = self.each_session(lambda c, sid: c.call("GET", f"/v1/sessions/{sid}/mirror"))
        return (
            sum(s["pending"] for s in status),
            sum(s["batches"] for s in status),
            sum(s["statements"] for s in status),
        )

    def settled(self, timeout: float = 120) -> tuple[int, int]:
        """(batches, statements) once every session's outbox is empty."""
        deadline = time.monotonic() + timeout
        while True:
            pending, batches, statements = self.counters()
            if not pending:
                return batches, statements
            if time.monotonic() > deadline:
                raise TimeoutError(f"{pending} outbox rows still pending after {timeout} s")
            time.sleep(0.5)

    def writer(self, index: int) -> None:
        mine = self.sessions[index :: self.plan.clients]
        clients = {t: self.client(t) for t, _ in mine}
        conversation, n = Conversation(seed=index), 0
        try:
            while self.writing.is_set():
                tenant, sid = mine[n % len(mine)]
                word = f"w{self.label}x{index}x{n}"
                user, answer = conversation.turn()
                answer["content"] = f"{word} {answer['content']}"
                for item in (user, answer):
                    started = time.perf_counter()
                    body = {"entries": [{"type": "message", **item}]}
                    clients[tenant].call("POST", f"/v1/sessions/{sid}/entries", body)
                    acked = time.perf_counter()
                    with self.lock:
                        self.appends.append((acked - started) * 1000)
                with self.lock:
                    self.turns += 1
                    self.newest = (tenant, word, acked)
                    self.words.append((tenant, word))
                n += 1
        finally:
            for c in clients.values():
                c.close()

    def search(self, clients: dict[str, Loopback], tenant: str, word: str) -> tuple[bool, float]:
        started = time.perf_counter()
        hits = clients[tenant].call("GET", f"/v1/search?q={quote(word)}&limit=1")["hits"]
        return bool(hits), (time.perf_counter() - started) * 1000

    def prober(self, lags: list[float], searches: list[float]) -> None:
        clients = {t: self.client(t) for t, _ in self.sessions}
        try:
            while self.writing.is_set():
                with self.lock:
                    newest = self.newest
                if newest is None:
                    time.sleep(POLL_S)
                    continue
                tenant, word, acked = newest
                while self.writing.is_set():
                    sent = time.perf_counter()
                    found, took = self.search(clients, tenant, word)
                    searches.append(took)
                    if found:
                        lags.append((sent - acked) * 1000)
                        break
                    time.sleep(POLL_S)
        finally:
            for c in clients.values():
                c.close()

    def idle_searches(self) -> list[float]:
        """Searches for turns spread over the run, each found (the same one-hit query the
        prober makes while writes run)."""
        clients = {t: self.client(t) for t, _ in self.sessions}
        step = max(1, len(self.words) // self.plan.idle_searches)
        took = []
        try:
            for tenant, word in self.words[::step][: self.plan.idle_searches]:
                found, ms = self.search(clients, tenant, word)
                if not found:
                    raise AssertionError(f"turn {word} of {tenant} is not in D1 after the run")
                took.append(ms)
            return took
        finally:
            for c in clients.values():
                c.close()

    def measure(self) -> dict[str, Any]:
        self.create()
        before = self.settled()
        lags: list[float] = []
        writing_searches: list[float] = []
        self.writing.set()
        threads = [
            threading.Thread(target=self.writer, args=(i,)) for i in range(self.plan.clients)
        ]
        threads.append(threading.Thread(target=self.prober, args=(lags, writing_searches)))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(self.plan.seconds)
        self.writing.clear()
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - started
        after = self.settled()
        batches, statements = after[0] - before[0], after[1] - before[1]
        return {
            "seconds": seconds,
            "turns": self.turns,
            "turns_per_second": self.turns / seconds,
            "append": stats(self.appends),
            "drain_lag": stats(lags),
            "search_while_writing": stats(writing_searches),
            "search_idle": stats(self.idle_searches()),
            "d1_batches": batches,
            "d1_statements": statements,
            "batches_per_turn": batches / self.turns,
            "statements_per_turn": statements / self.turns,
            "statements_per_batch": statements / batches if batches else None,
        }


def run_config(scratch: Path, plan: ScalePlan, shards: int, delay_ms: int) -> dict[str, Any]:
    bindings = ("DB", *(f"DB_{n}" for n in range(1, shards)))
    tenants = tenants_for(bindings, plan.tenants)
    worker = Worker(scratch, shards, delay_ms, tenants)
    load_start = load_average()
    try:
        worker.migrate()
        empty, _ = worker.d1_files()
        worker.wrangler.start()
        worker.wrangler.wait_ready(time.monotonic() + START_TIMEOUT_S)
        label = f"{shards}s{delay_ms}d"
        figures = Run(worker.wrangler.base, tenants, plan, label).measure()
    except BaseException:
        print(f"--- wrangler log\n{worker.wrangler.log()[-4000:]}")
        raise
    finally:
        worker.stop()
    stored, entries = worker.d1_files()
    written = 2 * figures["turns"]
    if entries != written:
        raise AssertionError(f"D1 holds {entries} entries; {written} were acknowledged")
    return {
        "shards": shards,
        "delay_ms": delay_ms,
        "tenants": len(tenants),
        "sessions": plan.sessions,
        "clients": plan.clients,
        **figures,
        "d1_entries": entries,
        "d1_bytes_per_turn": (stored - empty) / figures["turns"],
        "load_average": {"start": load_start, "end": load_average()},
    }


def measure(scratch: Path, smoke: bool) -> dict[str, Any]:
    """Every configuration of CONFIGS, one `wrangler dev` after the other."""
    plan = SMOKE if smoke else FULL
    stop_on_sigterm()
    runs = []
    for shards, delay_ms in CONFIGS:
        folder = scratch / f"scale-{shards}-{delay_ms}"
        folder.mkdir(parents=True)
        runs.append(run_config(folder, plan, shards, delay_ms))
        progress(f"scale: {shards} shard(s), delay {delay_ms} ms: {runs[-1]['turns']} turns")
    return {"plan": asdict(plan), "runs": runs}
