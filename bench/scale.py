"""How far the mirror scales with D1 shards: `python -m bench scale [--smoke] [--in-process]
[--out DIR]`, writing scale.json and scale.md (bench/results/; smoke: bench/results/tmp/).

In process, with the mirror's own code on local SQLite standing in for D1: how evenly the
shard map spreads tenants (rendezvous hashing, mirror/shards.py), and what a mirrored append
costs each database (D1 statements, and bytes of D1 storage, indexes and the full-text index
included) when many sessions of many tenants write at once. Then, unless `--in-process`,
the run in real workerd (bench/runtime/scale.py): the Worker with one and two local D1
shards under concurrent clients. The model multiplies the measured cost of a turn by D1's
published per-database limits (D1_QUERIES_PER_SECOND, D1_BYTES) and the platform's next
ones: ceilings to plan with, not a load test of D1 itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from agent_sessions.adapters.runtime_values import DURABLE_OBJECT
from agent_sessions.adapters.sqlite import SqliteSql, connect
from agent_sessions.adapters.sqlite_mirror import SqliteMirror
from agent_sessions.engine import SessionKey
from agent_sessions.host import SessionHost
from agent_sessions.mirror.limits import STATEMENTS_PER_DRAIN
from agent_sessions.mirror.shards import ShardMap, Shards
from agent_sessions.mirror.timing import DrainTiming

from .mirror import CountingMirror, timed
from .report import machine
from .run import scratch_root
from .workload import Conversation

D1_QUERIES_PER_SECOND = 1_000
"""What one D1 database serves, single-threaded (Cloudflare's D1 documentation, 2026)."""
D1_BYTES = 10 * 10**9
"""The most one D1 database holds."""
SHARD_COUNTS = (1, 2, 4, 8, 16)
RESULTS = Path(__file__).resolve().parent / "results"
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


ACTIVE_SESSIONS = (10**3, 10**5, 10**6)
TURN_EVERY_S = 10
"""The model's active session: one turn every 10 s."""
DAY_S = 86_400
BINDINGS_PER_WORKER = 5_000
"""Bindings one Worker may have (Cloudflare's Workers limits, 2026): its most D1 shards."""
ACCOUNT_DATABASES = 50_000
"""D1 databases an account may have (the default ceiling, 2026)."""
QUERIES_PER_INVOCATION = 1_000
"""D1 queries one Worker invocation may make; a drain stops at STATEMENTS_PER_DRAIN."""
DO_REQUESTS_PER_SECOND = 1_000
"""About what one Durable Object serves (a session is one object)."""


def ceil_div(a: float, b: float) -> int:
    return max(1, -int(-a // b))


def model(statements_per_turn: float, bytes_per_turn: float) -> dict[str, Any]:
    """What one D1 shard carries at the measured cost of a turn, and the shards that 10³ to
    10⁶ active sessions need: by D1's query rate, and by its storage."""
    per_shard_turns = D1_QUERIES_PER_SECOND / statements_per_turn
    per_shard_entries = D1_BYTES / bytes_per_turn * 2  # two entries a turn
    rows = []
    for sessions in ACTIVE_SESSIONS:
        turns_per_second = sessions / TURN_EVERY_S
        by_rate = ceil_div(turns_per_second, per_shard_turns)
        bytes_per_day = turns_per_second * bytes_per_turn * DAY_S
        rows.append(
            {
                "sessions": sessions,
                "turns_per_second": turns_per_second,
                "shards_by_rate": by_rate,
                "d1_bytes_per_day": bytes_per_day,
                "history_days_in_rate_shards": by_rate * D1_BYTES / bytes_per_day,
                "shards_per_retained_day": ceil_div(bytes_per_day, D1_BYTES),
            }
        )
    most = BINDINGS_PER_WORKER
    busiest = rows[-1]
    return {
        "statements_per_turn": statements_per_turn,
        "bytes_per_turn": bytes_per_turn,
        "shard_turns_per_second": per_shard_turns,
        "shard_entries": per_shard_entries,
        "sessions": rows,
        "one_worker": {
            "shards": most,
            "active_sessions_by_rate": most * per_shard_turns * TURN_EVERY_S,
            "bytes": most * D1_BYTES,
            "history_days_at_most_sessions": most * D1_BYTES / busiest["d1_bytes_per_day"],
        },
    }


def measure(smoke: bool, scratch: Path | None) -> dict[str, Any]:
    """The in-process figures; and with a `scratch` directory, the run in real workerd,
    whose cost per turn the model then uses (else the in-process one's)."""
    tenants, sessions, turns = (20, 20, 2) if smoke else (200, 400, 10)
    measured = asyncio.run(mirrored(4, tenants, sessions, turns))
    delayed = asyncio.run(timed(5 if smoke else 50, DrainTiming(250)))
    figures: dict[str, Any] = {
        "balance": {n: balance(n, BALANCE_TENANTS) for n in SHARD_COUNTS},
        "mirrored": measured,
        "delayed": delayed,
        "d1_bytes_per_append": measured["d1_bytes_per_turn"],
    }
    per_delayed_append = delayed["statements_per_turn"] / delayed["writes_per_turn"]
    figures["capacity_at_once"] = capacity(figures, measured["statements_per_turn"])
    figures["capacity_delayed"] = capacity(figures, per_delayed_append)
    if scratch is not None:
        from .runtime import scale  # noqa: PLC0415 - needs the workerd toolchain

        figures["workerd"] = scale.measure(scratch, smoke)
        figures["model"] = {
            str(run["delay_ms"]): model(run["statements_per_turn"], run["d1_bytes_per_turn"])
            for run in figures["workerd"]["runs"]
            if run["shards"] == max(r["shards"] for r in figures["workerd"]["runs"])
        }
    return figures


def local_markdown(figures: dict[str, Any]) -> list[str]:
    m, d = figures["mirrored"], figures["delayed"]
    lines = [
        f"In process: {m['turns']:,} appends (two ~1 KB messages each) by {m['sessions']} "
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
    return lines


def _ms(stat: dict[str, Any]) -> str:
    if not stat["count"]:
        return "none"
    return f"{stat['p50_ms']:,.0f} / {stat['p95_ms']:,.0f}"


def workerd_markdown(workerd: dict[str, Any]) -> list[str]:
    plan = workerd["plan"]
    lines = [
        "",
        f"In real workerd (`wrangler dev`, local D1): {plan['sessions']} sessions of "
        f"{plan['tenants']} tenants, {plan['clients']} client threads over HTTP for "
        f"{plan['seconds']:.0f} s; a turn is two appends of one ~1 KB message. Times are "
        "p50 / p95 in ms; drain lag is from a turn's acknowledgement until search finds it "
        "in D1.",
        "",
        "| D1 shards | drain delay ms | turns/s | append | drain lag | search, writing "
        "| search, idle | D1 statements/turn | D1 batches/turn | statements/batch "
        "| D1 bytes/turn | load average (start, end) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in workerd["runs"]:
        load = r["load_average"]
        per_batch = r["statements_per_batch"]
        lines.append(
            f"| {r['shards']} | {r['delay_ms']} | {r['turns_per_second']:.1f} "
            f"| {_ms(r['append'])} | {_ms(r['drain_lag'])} | {_ms(r['search_while_writing'])} "
            f"| {_ms(r['search_idle'])} | {r['statements_per_turn']:.2f} "
            f"| {r['batches_per_turn']:.2f} | {'-' if per_batch is None else f'{per_batch:.2f}'} "
            f"| {r['d1_bytes_per_turn']:,.0f} | {load['start'][0]:.1f}, {load['end'][0]:.1f} |"
        )
    return lines


def _duration(days: float) -> str:
    return f"{days:,.1f} days" if days >= 1 else f"{days * 24:,.1f} hours"


def model_markdown(delay: str, m: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"The model at drain delay {delay} ms ({m['statements_per_turn']:.2f} D1 statements "
        f"and {m['bytes_per_turn']:,.0f} bytes a turn, measured above; D1's "
        f"{D1_QUERIES_PER_SECOND:,} queries/s and {D1_BYTES / 10**9:.0f} GB a database): one "
        f"shard carries {m['shard_turns_per_second']:,.0f} turns/s and stores "
        f"{m['shard_entries']:,.0f} entries. Active sessions write a turn every "
        f"{TURN_EVERY_S} s; the shards are evenly loaded (the hash's spread is above).",
        "",
        "| active sessions | turns/s | shards by D1's rate | D1 storage a day "
        "| history those shards hold | shards per retained day |",
        "|---|---|---|---|---|---|",
    ]
    for r in m["sessions"]:
        lines.append(
            f"| {r['sessions']:,} | {r['turns_per_second']:,.0f} | {r['shards_by_rate']:,} "
            f"| {r['d1_bytes_per_day'] / 10**9:,.0f} GB "
            f"| {_duration(r['history_days_in_rate_shards'])} "
            f"| {r['shards_per_retained_day']:,} |"
        )
    return lines


def limits_markdown(models: dict[str, dict[str, Any]]) -> list[str]:
    """The next limits, with what one Worker's most shards carry at each measured delay."""
    carried = " or ".join(
        f"{m['one_worker']['active_sessions_by_rate']:,.0f} (delay {delay} ms)"
        for delay, m in models.items()
    )
    first = next(iter(models.values()))
    held = _duration(first["one_worker"]["history_days_at_most_sessions"])
    return [
        "",
        f"Next limits: one Worker binds at most {BINDINGS_PER_WORKER:,} D1 databases: by "
        f"rate those carry {carried} active sessions, but they hold "
        f"{first['one_worker']['bytes'] / 10**12:,.0f} TB, {held} of history at "
        f"{ACTIVE_SESSIONS[-1]:,} active sessions, so storage, not rate, is the limit: D1 "
        "can keep a window (retention) while each session's Durable Object keeps all of it. "
        f"An account has {ACCOUNT_DATABASES:,} databases by default. A Durable "
        f"Object serves about {DO_REQUESTS_PER_SECOND:,} requests/s and a session is one "
        f"object, far above a turn every {TURN_EVERY_S} s. A Worker invocation makes at most "
        f"{QUERIES_PER_INVOCATION:,} D1 queries; a drain stops at {STATEMENTS_PER_DRAIN:,} "
        "statements.",
    ]


def markdown(figures: dict[str, Any]) -> str:
    lines = local_markdown(figures)
    if "workerd" in figures:
        lines += workerd_markdown(figures["workerd"])
        for delay, m in figures["model"].items():
            lines += model_markdown(delay, m)
        lines += limits_markdown(figures["model"])
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves it runs")
    parser.add_argument("--out", type=Path, help="bench/results (smoke: bench/results/tmp)")
    parser.add_argument("--in-process", action="store_true", help="skip the run in real workerd")
    args = parser.parse_args(argv)
    out = args.out or (RESULTS / "tmp" if args.smoke else RESULTS)
    if args.in_process:
        figures = measure(args.smoke, None)
    else:
        scratch = Path(tempfile.mkdtemp(prefix="agent-sessions-scale-", dir=scratch_root()))
        try:
            figures = measure(args.smoke, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    figures["machine"] = machine()
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(figures)
    (out / "scale.json").write_text(json.dumps(figures, indent=2))
    (out / "scale.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
