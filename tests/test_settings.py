"""Configuration values as the Worker's vars and the local server's flags give them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agent_sessions.adapters.d1_shards import d1_shards
from agent_sessions.cli import main
from agent_sessions.engine.errors import Misconfigured
from agent_sessions.engine.lifecycle import Lifecycle
from agent_sessions.mirror.shards import Placement, ShardMap

from .conftest import ROOT, run_tool
from .shards import SPREAD, shard_map


@pytest.mark.parametrize(
    ("ttl", "idle", "wanted"),
    [
        (None, "", Lifecycle()),
        ("3600", 60, Lifecycle(3_600_000, 60_000)),
        (1.0, None, Lifecycle(1_000)),
    ],
)
def test_settings_parse(ttl: Any, idle: Any, wanted: Lifecycle) -> None:
    assert Lifecycle.from_settings(ttl, idle) == wanted


@pytest.mark.parametrize("bad", ["soon", "0", "-5", "1.5", "1e12", True])
def test_bad_settings_name_the_setting(bad: Any) -> None:
    with pytest.raises(ValueError, match="IDLE_TIMEOUT_SECONDS"):
        Lifecycle.from_settings(None, bad)


def test_the_archive_setting_parses_and_names_itself() -> None:
    assert Lifecycle.from_settings(None, None, "86400").archive_after_ms == 86_400_000
    with pytest.raises(ValueError, match="ARCHIVE_AFTER_SECONDS"):
        Lifecycle.from_settings(None, None, "a day")


# -- the shard map (mirror/shards.py) -----------------------------------------------------


def test_no_shard_settings_is_the_one_database_db() -> None:
    shards = ShardMap.from_settings(None, "")
    assert shards == ShardMap()
    assert shards.bindings == ("DB",)
    assert {shards.place(t) for t in ("a", "b", "default")} == {Placement("DB", ("DB",))}


def test_shard_settings_parse_from_json_or_toml_values() -> None:
    text = ShardMap.from_settings('["DB", "DB_1", "BIG"]', '{"big": "BIG"}')
    assert text == ShardMap.from_settings(["DB", "DB_1", "BIG"], {"big": "BIG"})
    assert text.pool == ("DB", "DB_1"), "a binding given to a tenant is its own"
    assert text.place("big") == Placement("BIG", ("BIG",))
    assert all(text.place(f"t{i}").read in ("DB", "DB_1") for i in range(50))
    moving = ShardMap.from_settings('["DB", "DB_1"]', '{"big": {"from": "DB", "to": "DB_1"}}')
    assert moving.place("big") == Placement("DB", ("DB_1", "DB"))
    assert moving.place("big").moving_from == "DB"
    assert moving.pool == ("DB",), "the database it leaves stays in the pool"


@pytest.mark.parametrize(
    ("shards", "tenants", "named"),
    [
        ("DB,DB_1", None, "D1_SHARDS must be JSON"),
        ('{"DB": 1}', None, "D1_SHARDS must be a JSON list"),
        ('["DB", "my-db"]', None, "D1_SHARDS must be a list of D1 binding names"),
        ('["DB", 7]', None, "D1_SHARDS must be a list of D1 binding names"),
        ('["DB", "DB"]', None, "D1_SHARDS names a binding twice"),
        (None, '["big"]', "TENANT_SHARDS must be a JSON object"),
        (None, '{"big": "DB_9"}', "places tenant 'big' on 'DB_9', which is not one of D1_SHARDS"),
        ('["DB", "X"]', '{"big": {"to": "X"}}', r"TENANT_SHARDS\['big'\] must be"),
        ('["DB", "X"]', '{"big": {"from": "X", "to": "X"}}', r"TENANT_SHARDS\['big'\] must be"),
        ('["DB", "X"]', '{"a": "DB", "b": "X"}', "leave at least one for the others"),
    ],
)
def test_bad_shard_settings_name_the_setting(shards: Any, tenants: Any, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        ShardMap.from_settings(shards, tenants)


def test_the_tests_tenants_spread_over_two_shards() -> None:
    """What makes the "two-shards" runs of the suite put rows in both databases."""
    shards = shard_map("two-shards")
    for tenants in SPREAD:
        assert {shards.place(t).read for t in tenants} == {"DB", "DB_1"}, tenants


def test_the_hash_is_the_same_in_every_process() -> None:
    """Python's hash() is salted per process; the shard map's must not be."""
    tenants = [f"tenant-{i}" for i in range(40)]
    code = (
        "import json; from agent_sessions.mirror.shards import ShardMap;"
        "m = ShardMap(('DB', 'DB_1', 'DB_2'));"
        f"print(json.dumps([m.place(t).read for t in {tenants!r}]))"
    )
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(seen) == 1
    assert len(set(json.loads(seen.pop()))) == 3, "and it spreads 40 tenants over all three"


def test_adding_a_shard_moves_only_the_tenants_it_takes() -> None:
    before, after = ShardMap(("DB", "DB_1")), ShardMap(("DB", "DB_1", "DB_2"))
    tenants = [f"tenant-{i}" for i in range(3_000)]
    moved = [t for t in tenants if before.place(t) != after.place(t)]
    assert all(after.place(t).read == "DB_2" for t in moved)
    assert 800 < len(moved) < 1_200, "about a third: the new database's share"


def test_a_shard_map_naming_an_unbound_database_is_refused_by_name() -> None:
    """In the Worker (adapters/d1_shards.py): each binding is checked when first used, the
    one a tenant is placed on, and refused by name; bad settings at once."""

    class Database:
        def prepare(self, sql: str) -> None: ...
        def batch(self, statements: list[Any]) -> None: ...

    env = SimpleNamespace(DB=Database(), DB_1="not a database", D1_SHARDS='["DB", "DB_1", "DB_2"]')
    shards = d1_shards(env, lambda db: db)
    placed = {b: next(f"t{i}" for i in range(99) if shards.map.place(f"t{i}").read == b)
              for b in ("DB", "DB_1", "DB_2")}  # fmt: skip
    assert isinstance(shards.reader(placed["DB"]), Database)
    for binding in ("DB_1", "DB_2"):
        message = f"D1_SHARDS names '{binding}', which is not bound as a D1 database"
        with pytest.raises(Misconfigured, match=message):
            shards.writers(placed[binding])
    env.TENANT_SHARDS = '{"big": "DB_9"}'
    with pytest.raises(Misconfigured, match="places tenant 'big' on 'DB_9'"):
        d1_shards(env, lambda db: db)
    assert d1_shards(SimpleNamespace(DB=Database()), lambda db: db).map == ShardMap()


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--d1-shards", '["DB", "DB 1"]'], "D1_SHARDS must be a list of D1 binding names"),
        (["--tenant-shards", '{"big": "DB_9"}'], "which is not one of D1_SHARDS"),
    ],
)
def test_the_local_server_refuses_bad_shard_settings_at_start(
    flags: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--no-auth", "--data-dir", str(tmp_path / "data"), *flags])
    assert said in str(stopped.value.code)
    assert not (tmp_path / "data").exists(), "nothing was made"


SHARD_SETTINGS = [
    {},
    {"D1_SHARDS": '["DB", "DB_1"]'},
    {"D1_SHARDS": ["DB", "DB_1", "DB_2"], "TENANT_SHARDS": {"tenant-7": "DB_2"}},
    {"D1_SHARDS": '["DB", "DB_1", "DB_2"]',
     "TENANT_SHARDS": '{"tenant-3": {"from": "DB", "to": "DB_2"}}'},
]  # fmt: skip


@pytest.mark.parametrize("settings", SHARD_SETTINGS)
def test_the_consumer_example_reads_the_database_the_mirror_writes(
    settings: dict[str, Any], tmp_path: Path
) -> None:
    """examples/consumer-worker/src/shards.js is the shard map again, in JavaScript (a Worker
    of someone else's): it must place every tenant where the mirror's does, in node."""
    tenants = [f"tenant-{i}" for i in range(200)]
    script = tmp_path / "place.mjs"
    module = ROOT / "examples" / "consumer-worker" / "src" / "shards.js"
    script.write_text(
        f"import {{ shardOf }} from {json.dumps(module.as_uri())};\n"
        f"const env = {json.dumps(settings)};\n"
        f"const tenants = {json.dumps(tenants)};\n"
        "console.log(JSON.stringify(await Promise.all(tenants.map((t) => shardOf(env, t)))));\n"
    )
    placed = json.loads(run_tool(["node", str(script)]))
    shards = ShardMap.from_settings(settings.get("D1_SHARDS"), settings.get("TENANT_SHARDS"))
    assert placed == [shards.place(t).read for t in tenants]
    readable = {*shards.pool, *(p.read for p in shards.explicit.values())}
    assert set(placed) == readable, "200 tenants reach every database they can be on"


def test_a_deploy_is_refused_when_the_shard_settings_name_an_unbound_database(
    tmp_path: Path,
) -> None:
    """scripts/shards.py check, which `npm run deploy` and `npm run check` run first."""

    def check(config: Path) -> subprocess.CompletedProcess[str]:
        script = [sys.executable, str(ROOT / "scripts" / "shards.py"), "check"]
        return subprocess.run(
            [*script, "--config", str(config)], capture_output=True, text=True, check=False
        )

    ours = check(ROOT / "wrangler.toml")
    assert (ours.returncode, ours.stdout.strip()) == (0, "wrangler.toml: D1 shards DB")
    config = (ROOT / "wrangler.toml").read_text()
    sharded = config.replace("[vars]\n", '[vars]\nD1_SHARDS = ["DB", "DB_1"]\n', 1)
    (tmp_path / "wrangler.toml").write_text(sharded)
    refused = check(tmp_path / "wrangler.toml")
    assert refused.returncode == 1
    assert "D1_SHARDS names ['DB_1'], which is not bound as D1 databases" in refused.stderr
    more = '\n[[d1_databases]]\nbinding = "DB_1"\ndatabase_name = "more"\ndatabase_id = "1"\n'
    (tmp_path / "wrangler.toml").write_text(sharded + more)
    again = check(tmp_path / "wrangler.toml")
    assert (again.returncode, again.stdout.strip()) == (0, "wrangler.toml: D1 shards DB, DB_1")
