"""Crashes and faults against the real server, as a user runs it (issue 17's figures, kept as
tests): kill -9 during mixed writes with every acknowledged write checked and D1 compared row
by row; a full disk (a small tmpfs, where this machine lets us mount one) and a file-size limit,
where every refused write is a 507 that left nothing behind."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import Any

import pytest

from agent_sessions.engine.ddl import ENTRY_COLUMNS, SESSION_COLUMNS

from .servers import Server

KILLS = 5
SEED = int(os.environ.get("FAULT_SEED", random.randrange(1 << 30)))
EXPORTED = [{"type": "message", "id": f"x{i}", "content": f"imported {i}"} for i in range(5)]
EXPORT = "\n".join(
    json.dumps(line)
    for line in [{"format": "agent-sessions.v1", "session": {"metadata": {}}}, *EXPORTED]
)


def send(base: str, method: str, path: str, body: Any = None, raw: str | None = None) -> Any:
    """The answer's (status, body), or None when the server died before answering."""
    data = raw.encode() if raw is not None else None if body is None else json.dumps(body).encode()
    kind = "application/x-ndjson" if raw is not None else "application/json"
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", kind)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except (OSError, HTTPException, ValueError):
        return None


@dataclass
class Ledger:
    """What the server acknowledged, and what was in flight when it died."""

    appends: list[tuple[str, list[str], list[int]]] = field(default_factory=list)
    appends_in_flight: list[tuple[str, list[str]]] = field(default_factory=list)
    forks: list[tuple[str, str, int]] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    imports_in_flight: list[str] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    replaces: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def appender(base: str, cycle: int, ledger: Ledger) -> None:
    """Appends of three entries to one session, and every fifth operation a fork of it at the
    last acknowledged seq."""
    session, last_seq = f"log{cycle}", 0
    for n in range(10_000):
        if n % 5 == 4:
            child = f"fork{cycle}-{n}"
            answer = send(
                base, "POST", f"/v1/sessions/{session}/fork", {"id": child, "at_seq": last_seq}
            )
            if answer is None:
                return
            assert answer[0] == 201, answer
            with ledger.lock:
                ledger.forks.append((session, child, last_seq))
            continue
        ids = [f"a{cycle}-{n}-{k}" for k in range(3)]
        entries = [{"type": "message", "id": i, "content": f"entry {i}"} for i in ids]
        answer = send(base, "POST", f"/v1/sessions/{session}/entries", {"entries": entries})
        with ledger.lock:
            if answer is None:
                ledger.appends_in_flight.append((session, ids))
                return
            assert answer[0] == 201, answer
            ledger.appends.append((session, ids, [e["seq"] for e in answer[1]["entries"]]))
        last_seq = answer[1]["last_seq"]


def importer(base: str, cycle: int, ledger: Ledger) -> None:
    """Imports of a five-entry export, and a session made and deleted."""
    for n in range(10_000):
        made = f"imp{cycle}-{n}"
        answer = send(base, "POST", f"/v1/sessions/import?session_id={made}", raw=EXPORT)
        with ledger.lock:
            if answer is None:
                ledger.imports_in_flight.append(made)
                return
            assert answer[0] == 201, answer
            ledger.imports.append(made)
        gone = f"del{cycle}-{n}"
        if send(base, "POST", "/v1/sessions", {"id": gone}) is None:
            return
        answer = send(base, "DELETE", f"/v1/sessions/{gone}")
        if answer is None:
            return
        assert answer[0] == 200, answer
        with ledger.lock:
            ledger.deletes.append(gone)


def replacer(base: str, cycle: int, ledger: Ledger) -> None:
    """The whole history of one session replaced, again and again."""
    session, acknowledged = f"rep{cycle}", ["r0"]
    for n in range(1, 10_000):
        ids = [f"r{cycle}-{n}-{k}" for k in range(2)]
        entries = [{"type": "message", "id": i} for i in ids]
        answer = send(
            base, "POST", f"/v1/sessions/{session}/replace", {"from_seq": 1, "entries": entries}
        )
        with ledger.lock:
            ledger.replaces[session] = (acknowledged, ids if answer is None else [])
        if answer is None:
            return
        assert answer[0] == 200, answer
        acknowledged = ids
        with ledger.lock:
            ledger.replaces[session] = (acknowledged, [])


def stored(data: Path, table: str, columns: tuple[str, ...], where: str = "") -> list[tuple]:
    """Rows of one table across every session file (each is a Durable Object's store)."""
    rows: list[tuple] = []
    for path in sorted((data / "sessions").glob("*/*.sqlite")):
        with sqlite3.connect(path) as conn:
            rows += conn.execute(f"SELECT {', '.join(columns)} FROM {table} {where}").fetchall()
    return rows


def entry_ids(data: Path, session: str) -> dict[str, int]:
    path = data / "sessions" / "default" / f"{session}.sqlite"
    if not path.exists():
        return {}
    with sqlite3.connect(path) as conn:
        return dict(
            conn.execute("SELECT id, seq FROM session_entries WHERE session_id = ?", (session,))
        )


def session_row(data: Path, session: str) -> dict[str, Any] | None:
    path = data / "sessions" / "default" / f"{session}.sqlite"
    if not path.exists():
        return None
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM sessions WHERE id = ?", (session,)).fetchone()
        return None if row is None else dict(row)


def assert_d1_equals_the_session_files(data: Path) -> tuple[int, int]:
    """Row by row, on every shared column: nothing lost, duplicated or stale in D1."""
    counts = []
    with sqlite3.connect(data / "d1.sqlite") as d1:
        for table, columns in (("sessions", SESSION_COLUMNS), ("session_entries", ENTRY_COLUMNS)):
            expected = sorted(stored(data, table, columns))
            actual = sorted(d1.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall())
            assert len(actual) == len(set(actual)), f"{table}: duplicated rows in D1"
            assert actual == expected, f"{table}: D1 differs from the session files"
            counts.append(len(actual))
    return counts[0], counts[1]


def settled(server: Server, timeout: float = 60) -> None:
    """Wait until the mirror has delivered everything, through the alarms alone."""
    deadline = time.monotonic() + timeout
    while (health := server.call("GET", "/healthz")[1])["mirror"]["pending"]:
        assert time.monotonic() < deadline, f"the mirror did not catch up: {health}"
        time.sleep(0.2)


def test_kill_9_during_mixed_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    data, rng, ledger = tmp_path / "data", random.Random(SEED), Ledger()
    for cycle in range(KILLS):
        server = Server(data)
        assert server.call("POST", "/v1/sessions", {"id": f"log{cycle}"})[0] == 201
        made = server.call("POST", "/v1/sessions", {"id": f"rep{cycle}"})
        assert made[0] == 201
        first = {"entries": [{"type": "message", "id": "r0"}]}
        assert server.call("POST", f"/v1/sessions/rep{cycle}/entries", first)[0] == 201
        workers = [
            threading.Thread(target=work, args=(server.base, cycle, ledger))
            for work in (appender, importer, replacer)
        ]
        for worker in workers:
            worker.start()
        time.sleep(rng.uniform(0.3, 0.8))
        server.kill()
        for worker in workers:
            worker.join(timeout=30)
    final = Server(data)
    settled(final)
    final.stop()

    lost = duplicated = 0
    for session, ids, seqs in ledger.appends:
        found = entry_ids(data, session)
        lost += sum(1 for i, seq in zip(ids, seqs, strict=True) if found.get(i) != seq)
    assert lost == 0, f"seed {SEED}: {lost} acknowledged entries lost or moved"
    for session, ids in ledger.appends_in_flight:
        present = [i in entry_ids(data, session) for i in ids]
        assert all(present) or not any(present), f"seed {SEED}: a batch half-written"
    for source, child, at_seq in ledger.forks:
        row = session_row(data, child)
        assert row is not None, f"seed {SEED}: an acknowledged fork is gone"
        assert (row["forked_from_seq"], row["entry_count"]) == (at_seq, at_seq)
        kept = {i: s for i, s in entry_ids(data, source).items() if s <= at_seq}
        assert entry_ids(data, child) == kept
    for made in ledger.imports:
        assert sorted(entry_ids(data, made)) == sorted(e["id"] for e in EXPORTED)
    for made in ledger.imports_in_flight:
        assert len(entry_ids(data, made)) in (0, len(EXPORTED)), "an import half-made"
    for gone in ledger.deletes:
        assert session_row(data, gone) is None, f"seed {SEED}: a deleted session is back"
    for session, (acknowledged, in_flight) in ledger.replaces.items():
        assert sorted(entry_ids(data, session)) in (sorted(acknowledged), sorted(in_flight))
    for path in (data / "sessions" / "default").glob("*.sqlite"):
        with sqlite3.connect(path) as conn:
            total, distinct = conn.execute(
                "SELECT count(*), count(DISTINCT id) FROM session_entries"
            ).fetchone()
        duplicated += total - distinct
    assert duplicated == 0
    sessions, entries = assert_d1_equals_the_session_files(data)
    acknowledged = sum(len(ids) for _, ids, _ in ledger.appends)
    print(
        f"kill -9 x {KILLS} (seed {SEED}): {acknowledged} acknowledged appended entries, "
        f"{len(ledger.forks)} forks, {len(ledger.imports)} imports, {len(ledger.deletes)} "
        f"deletes, {len(ledger.replaces)} sessions replaced; 0 lost, 0 duplicated; "
        f"D1 equal: {sessions} sessions, {entries} entries"
    )


# -- a full or read-only disk ----------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, if this machine lets us mount one (root, in a container that allows it)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def write_until_refused(server: Server, session: str) -> tuple[int, Any]:
    """Append ~64 KB entries until the server refuses one; what it answered then. Each refusal
    must be a 507 that changed nothing; reads and the server itself go on."""
    entry = {"type": "message", "content": "x" * 64_000}
    for _ in range(2_000):
        before = server.call("GET", f"/v1/sessions/{session}")[1]
        answer = server.call("POST", f"/v1/sessions/{session}/entries", {"entries": [entry]})
        if answer[0] != 201:
            assert answer[0] == 507, answer
            assert answer[1]["error"]["code"] == "insufficient_storage"
            assert server.call("GET", f"/v1/sessions/{session}")[1] == before
            assert server.call("GET", f"/v1/sessions/{session}/entries?limit=1")[0] == 200
            return answer
    pytest.fail("the disk never filled")


def test_a_full_disk_answers_507_and_the_server_recovers_unasked(small_disk: Path) -> None:
    data = small_disk / "data"
    server = Server(data)
    try:
        assert server.call("POST", "/v1/sessions", {"id": "a"})[0] == 201
        write_until_refused(server, "a")
        answer = server.call("POST", "/v1/sessions", {"id": "new"})
        assert answer[0] == 507, answer
        assert server.call("GET", "/v1/sessions/new")[0] == 404, "no session half-made"
        assert server.call("GET", "/healthz")[0] == 200
        subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
        settled(server)  # the alarms went on through it all, and deliver what waited, unasked
        more = server.call("POST", "/v1/sessions/a/entries", {"entries": [{"type": "message"}]})
        assert more[0] == 201, more
        settled(server)
        assert server.call("POST", "/v1/sessions/a/mirror/verify")[1]["equal"] is True
        assert server.process.poll() is None
    finally:
        server.stop()


def test_an_immutable_data_directory_answers_507_and_the_server_lives(tmp_path: Path) -> None:
    """An immutable directory killed the server (SIGBUS, nothing logged): now every write is
    refused with a 507, reads go on, and the server stays up."""
    data = tmp_path / "data"
    server = Server(data)
    try:
        assert server.call("POST", "/v1/sessions", {"id": "a"})[0] == 201
        settled(server)
        frozen = subprocess.run(["chattr", "-R", "+i", str(data)], capture_output=True, check=False)
        if frozen.returncode != 0:
            pytest.skip(f"cannot make files immutable here ({frozen.stderr.decode().strip()})")
        try:
            before = server.call("GET", "/v1/sessions/a")[1]
            for method, path, body in (
                ("POST", "/v1/sessions/a/entries", {"entries": [{"type": "message"}]}),
                ("PUT", "/v1/sessions/a/data", {"data": {"k": 1}}),
                ("POST", "/v1/sessions", {"id": "b"}),
            ):
                answer = server.call(method, path, body)
                assert answer[0] == 507, answer
            assert server.call("GET", "/v1/sessions/a")[1] == before
            assert server.call("GET", "/v1/sessions/b")[0] == 404
        finally:
            subprocess.run(["chattr", "-R", "-i", str(data)], check=True)
        assert server.process.poll() is None
        appended = server.call("POST", "/v1/sessions/a/entries", {"entries": [{"type": "message"}]})
        assert appended[0] == 201, appended
    finally:
        server.stop()


def test_a_file_size_limit_answers_507_and_leaves_nothing_partial(tmp_path: Path) -> None:
    """The same on any machine: RLIMIT_FSIZE makes every file of the server hit a wall."""
    server = Server(tmp_path / "data", max_file_bytes=1_500_000)
    try:
        assert server.call("POST", "/v1/sessions", {"id": "a"})[0] == 201
        refused = write_until_refused(server, "a")
        assert "cannot be written" in refused[1]["error"]["message"]
        assert server.call("GET", "/healthz")[0] == 200
        assert server.process.poll() is None
    finally:
        server.stop()
