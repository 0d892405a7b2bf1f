"""`tagshare init` and `id`, finding the home folder, and schema versions."""

import base64
import json
import os
import re
import sqlite3
import stat
from contextlib import closing

import pytest
from schema_helpers import downgrade

from tagshare.node.storage import schema

FINGERPRINT = re.compile(r"^[0-9A-F]{4}( [0-9A-F]{4}){9}$")


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_private_home_keys_and_database(fresh):
    result = fresh.ok("init", "--name", "Ohio Senate 12")
    assert _mode(fresh.home) == 0o700
    assert _mode(fresh.home / "keys.json") == 0o600
    assert _mode(fresh.home / "node.db") == 0o600
    assert _mode(fresh.home / "config.json") == 0o600
    identity = fresh.json("id")
    assert f"node id:     {identity['node_id']}" in result.stdout
    assert f"fingerprint: {identity['fingerprint']}" in result.stdout


def test_init_tightens_an_existing_empty_folder(fresh):
    fresh.home.mkdir(mode=0o755)
    fresh.home.chmod(0o755)
    fresh.ok("init", "--name", "Ohio Senate 12")
    assert _mode(fresh.home) == 0o700


def test_init_database_is_wal_at_latest_schema(node):
    with node.db() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST


def test_keys_are_distinct_32_byte_secrets(node):
    keys = json.loads((node.home / "keys.json").read_text())
    raw = {name: base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
           for name, value in keys.items()}
    assert set(raw) == {"signing_seed", "box_secret"}
    assert all(len(v) == 32 for v in raw.values())
    assert raw["signing_seed"] != raw["box_secret"]


def test_second_init_refuses_and_leaves_keys_alone(node):
    keys_before = (node.home / "keys.json").read_bytes()
    config_before = (node.home / "config.json").read_bytes()
    stderr = node.fails("init", "--name", "Another")
    assert "already exists" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert (node.home / "keys.json").read_bytes() == keys_before
    assert (node.home / "config.json").read_bytes() == config_before
    assert node.json("id")["name"] == "Ohio Senate 12"


def test_init_refuses_a_home_holding_only_a_database(fresh):
    fresh.home.mkdir()
    (fresh.home / "node.db").write_bytes(b"precious")
    assert "already exists" in fresh.fails("init", "--name", "X")
    assert (fresh.home / "node.db").read_bytes() == b"precious"
    assert not (fresh.home / "keys.json").exists()


@pytest.mark.parametrize(("options", "message"), [
    (["--name", "   "], "node name"),
    (["--name", "x" * 201], "node name"),
    (["--name", "X", "--url", "ftp://example.org"], "invalid URL"),
])
def test_init_rejects_bad_name_or_url_and_creates_nothing(fresh, options, message):
    assert message in fresh.fails("init", *options)
    assert not fresh.home.exists()


def test_init_without_name_is_a_usage_error(fresh):
    fresh.fails("init", code=2)


def test_id_json(node):
    identity = node.json("id")
    assert set(identity) == {"node_id", "fingerprint", "name", "url"}
    assert identity["name"] == "Ohio Senate 12"
    assert identity["url"] == "http://127.0.0.1:7440"
    assert FINGERPRINT.match(identity["fingerprint"])
    assert len(base64.urlsafe_b64decode(identity["node_id"] + "=")) == 32


def test_id_table_shows_the_same_identity(node):
    identity = node.json("id")
    text = node.ok("id").stdout
    for value in identity.values():
        assert value in text


def test_init_with_url(fresh):
    fresh.ok("init", "--name", "Ward 5", "--url", "https://ward5.example.org/")
    assert fresh.json("id")["url"] == "https://ward5.example.org"


def test_two_homes_get_different_identities(fresh, tmp_path):
    fresh.ok("init", "--name", "A")
    first = fresh.json("id")
    other = type(fresh)(tmp_path / "other")
    other.ok("init", "--name", "B")
    second = other.json("id")
    assert first["node_id"] != second["node_id"]
    assert first["fingerprint"] != second["fingerprint"]


@pytest.mark.parametrize("command", [
    ["id"], ["status"], ["audit"], ["people", "list"], ["tag", "list"],
    ["people", "add", "--first-name", "Ann"], ["people", "show", "ann@example.org"],
])
def test_commands_on_a_missing_home_point_to_init(fresh, command):
    stderr = fresh.fails(*command)
    assert "tagshare init" in stderr
    assert not fresh.home.exists()


def test_tagshare_home_environment_variable_is_honoured(fresh):
    env = {"TAGSHARE_HOME": str(fresh.home)}
    fresh.ok("init", "--name", "From env", env=env, home=False)
    assert (fresh.home / "keys.json").exists()
    assert fresh.json("id")["name"] == "From env"
    result = fresh.ok("id", "--json", env=env, home=False)
    assert json.loads(result.stdout)["name"] == "From env"


def test_home_option_wins_over_environment(node, tmp_path):
    env = {"TAGSHARE_HOME": str(tmp_path / "elsewhere")}
    assert json.loads(node.ok("id", "--json", env=env).stdout)["name"] == "Ohio Senate 12"


def test_home_option_before_the_command_name(node):
    result = node.ok("--home", str(node.home), "status", "--json", home=False)
    assert json.loads(result.stdout)["people"] == 0


def test_schema_from_a_newer_tagshare_is_refused_untouched(node):
    with closing(sqlite3.connect(node.home / "node.db")) as conn:
        conn.execute(f"PRAGMA user_version = {schema.LATEST + 1}")
    files_before = sorted(os.listdir(node.home))
    db_before = (node.home / "node.db").read_bytes()
    for command in (["status"], ["people", "list"], ["people", "add", "--first-name", "Ann"]):
        stderr = node.fails(*command)
        assert f"schema version {schema.LATEST + 1}" in stderr
        assert "upgrade tagshare" in stderr
    assert (node.home / "node.db").read_bytes() == db_before
    # Reading a WAL database may leave -wal/-shm files, but nothing may be written.
    new_files = set(os.listdir(node.home)) - set(files_before)
    assert new_files <= {"node.db-wal", "node.db-shm"}
    wal = node.home / "node.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    with closing(sqlite3.connect(node.home / "node.db")) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST + 1


def test_reopening_a_current_database_changes_nothing_in_the_schema(node):
    with node.db() as conn:
        before = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    node.ok("status")
    with node.db() as conn:
        after = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
    assert [tuple(r) for r in before] == [tuple(r) for r in after]
    assert not list(node.home.glob("*.bak"))


def test_init_is_audited(node):
    entries = node.json("audit")
    assert [e["action"] for e in entries] == ["init"]
    assert entries[0]["detail"]["name"] == "Ohio Senate 12"
    assert entries[0]["detail"]["node_id"] == node.json("id")["node_id"]


def test_an_older_database_is_upgraded_with_a_backup_and_loses_the_name_index(node):
    """A version 8 database (with the people_name index that migration 9 drops) is
    upgraded on first use, after a copy of it is kept aside."""
    downgrade(node.home / "node.db", 8)
    node.ok("people", "add", "--first-name", "Ann", "--last-name", "Lee")
    with node.db() as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
        assert "people_name" not in names and "people_email" in names
    backup = node.home / "node.db.pre-v8.bak"
    with closing(sqlite3.connect(backup)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 8
        assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'people_name'").fetchone()


def test_a_version_9_database_counts_pairing_failures_per_invite_and_source(node):
    """Migration 14 replaces the node-wide failure count (rows with only a time) with
    rows that name their source, and adds the per-invite count."""
    downgrade(node.home / "node.db", 9)
    with node.db() as conn:
        conn.execute("INSERT INTO pairing_failures (at) VALUES (1)")
        conn.commit()
    node.ok("invite", "list")
    with node.db() as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
        columns = [row[1] for row in conn.execute("PRAGMA table_info(pairing_failures)")]
        assert columns == ["at", "source", "node_id", "invite_id"]
        assert conn.execute("SELECT count(*) FROM pairing_failures").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM invite_failures").fetchone()[0] == 0
