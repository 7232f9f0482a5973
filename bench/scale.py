"""How far the mirror scales with D1 shards: `python -m bench scale`.

Measured here, with the mirror's own code on local SQLite files standing in for D1: how
evenly the shard map spreads tenants (rendezvous hashing, mirror/shards.py), and what a
mirrored turn costs each database (D1 statements, and bytes of D1 storage, indexes and the
full-text index included) when many sessions of many tenants write at once. The capacity
table multiplies those by D1's published per-database limits (D1_QUERIES_PER_SECOND,
D1_BYTES): ceilings to plan with, not a load test of D1 itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from agent_sessions.adapters.runtime_values import DURABLE_OBJECT
from agent_sessions.adapters.sqlite import SqliteSql, connect
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine import SessionKey
from agent_sessions.host import SessionHost
from agent_sessions.mirror.shards import ShardMap, Shards
from agent_sessions.mirror.timing import DrainTiming

from .mirror import CountingMirror, timed
from .workload import Conversation

D1_QUERIES_PER_SECOND = 1_000
"""What one D1 database serves, single-threaded (Cloudflare's D1 documentation, 2026)."""
D1_BYTES = 10 * 10**9
"""The most one D1 database holds."""
SHARD_COUNTS = (1, 2, 4, 8, 16)
BALANCE_TENANTS = 10_000


def balance(shards: int, tenants: int) -> float:
    """The busiest database's share of tenants over the mean share (1.0: perfectly even)."""
    shard_map = ShardMap(tuple(f"DB_{i}" for i in range(shards)))
    counts = Counter(shard_map.place(f"tenant-{t}").read for t in range(tenants))
    return max(counts.values()) / (tenants / shards)


async def mirrored(shards: int, tenants: int, sessions: int, turns: int) -> dict[str, Any]:
    """Sessions of many tenants, each turn one append (two ~1 KB messages) drained at once."""
    bindings = tuple(f"DB_{i}" for i in range(shards))
    counters = {b: CountingMirror(SqliteMirror(":memory:")) for b in bindings}
    router = Shards(ShardMap(bindings), counters)
    hosts: list[tuple[SessionHost, SessionKey]] = []

    async def nothing() -> None:
        return None

    for s in range(sessions):
        key = SessionKey(f"tenant-{s % tenants}", f"session-{s}")
        host = SessionHost(SqliteSql(connect(":memory:"), DURABLE_OBJECT), router, nothing)
        await host.call("create_session", key, ({},))
        await host.drain()
        hosts.append((host, key))
    for counter in counters.values():
        counter.statements = counter.batches = 0
    conversation = Conversation()
    for _ in range(turns):
        for host, key in hosts:
            entries = [{"type": "message", **m} for m in conversation.turn()]
            await host.call("append", key, (entries, None))
            await host.drain()
    written = sessions * turns
    statements = sum(c.statements for c in counters.values())
    stored = 0
    for counter in counters.values():
        mirror = counter.inner
        assert isinstance(mirror, SqliteMirror)
        pages = mirror.sql.connection.execute("PRAGMA page_count").fetchone()[0]
        stored += pages * mirror.sql.connection.execute("PRAGMA page_size").fetchone()[0]
    busiest = max(c.statements for c in counters.values())
    return {
        "shards": shards,
        "tenants": tenants,
        "sessions": sessions,
        "turns": written,
        "statements_per_turn": statements / written,
        "busiest_share": busiest / (statements / shards),
        "d1_bytes_per_turn": stored / written,
    }


def capacity(figures: dict[str, Any], statements_per_append: float) -> list[dict[str, Any]]:
    """Appends a second before the busiest database reaches D1's query rate, and appends
    stored before the databases are full, by number of databases."""
    rows = []
    for n in SHARD_COUNTS:
        even = n / figures["balance"][n]
        rows.append(
            {
                "shards": n,
                "appends_per_second": even * D1_QUERIES_PER_SECOND / statements_per_append,
                "appends_stored": even * D1_BYTES / figures["d1_bytes_per_append"],
            }
        )
    return rows


def measure(smoke: bool) -> dict[str, Any]:
    tenants, sessions, turns = (20, 20, 2) if smoke else (200, 400, 10)
    measured = asyncio.run(mirrored(4, tenants, sessions, turns))
    delayed = asyncio.run(timed(5 if smoke else 50, DrainTiming(250)))
    figures = {
        "balance": {n: balance(n, BALANCE_TENANTS) for n in SHARD_COUNTS},
        "mirrored": measured,
        "delayed": delayed,
        "d1_bytes_per_append": measured["d1_bytes_per_turn"],
    }
    per_delayed_append = delayed["statements_per_turn"] / delayed["writes_per_turn"]
    figures["capacity_at_once"] = capacity(figures, measured["statements_per_turn"])
    figures["capacity_delayed"] = capacity(figures, per_delayed_append)
    return figures


def markdown(figures: dict[str, Any]) -> str:
    m, d = figures["mirrored"], figures["delayed"]
    lines = [
        f"Measured: {m['turns']:,} appends (two ~1 KB messages each) by {m['sessions']} "
        f"sessions of {m['tenants']} tenants on {m['shards']} databases, each drained at once: "
        f"{m['statements_per_turn']:.2f} D1 statements an append, the busiest database "
        f"{m['busiest_share']:.2f}x the mean, {m['d1_bytes_per_turn']:,.0f} bytes of D1 an "
        f"append (indexes and the full-text index included). Bursts of "
        f"{d['writes_per_turn']} one-item appends with MIRROR_DRAIN_DELAY_MS=250: "
        f"{d['statements_per_turn']:.2f} statements a burst.",
        "",
        f"| D1 databases | busiest / mean ({BALANCE_TENANTS:,} tenants) | appends/s, at once "
        f"| appends/s, bursts of {d['writes_per_turn']}, delay 250 ms | appends stored |",
        "|---|---|---|---|---|",
    ]
    for now, later in zip(figures["capacity_at_once"], figures["capacity_delayed"], strict=True):
        n = now["shards"]
        lines.append(
            f"| {n} | {figures['balance'][n]:.2f} | {now['appends_per_second']:,.0f} "
            f"| {later['appends_per_second']:,.0f} | {now['appends_stored']:,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves it runs")
    parser.add_argument("--out", type=Path, help="also write the figures here, as JSON")
    args = parser.parse_args(argv)
    figures = measure(args.smoke)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))
    print(markdown(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
