"""`tagshare api-token create|list|revoke`, and migration 10 from a version 9 database."""

from __future__ import annotations

import json

from schema_helpers import downgrade

from tagshare.node.osdi.tokens import token_hash
from tagshare.node.storage import schema


def test_create_prints_the_token_once_and_keeps_only_its_hash(node) -> None:
    created = json.loads(node.ok("api-token", "create", "parsons", "--json").stdout)
    assert set(created) == {"name", "token", "scope"}
    assert created["name"] == "parsons" and created["scope"] == "read"
    assert created["token"].startswith("tsk_") and len(created["token"]) > 40
    with node.db() as conn:
        rows = [dict(r) for r in conn.execute("SELECT * FROM api_tokens")]
    assert rows[0]["token_hash"] == token_hash(created["token"])
    assert created["token"] not in json.dumps(rows)
    listed = node.json("api-token", "list")
    assert listed[0]["name"] == "parsons" and listed[0]["status"] == "active"
    assert "token" not in listed[0] and "token_hash" not in listed[0]
    plain = node.ok("api-token", "create", "form", "--scope", "write", "--expires", "90d")
    assert plain.stdout.strip().startswith("tsk_")
    assert "shown once" in plain.stderr


def test_revoke_and_the_audit_trail(node) -> None:
    node.ok("api-token", "create", "parsons", "--scope", "write")
    assert "exists" in node.fails("api-token", "create", "parsons")
    node.ok("api-token", "revoke", "parsons")
    assert node.json("api-token", "list")[0]["status"] == "revoked"
    assert "no active API token" in node.fails("api-token", "revoke", "parsons")
    node.ok("api-token", "create", "parsons")  # the name is free again
    actions = [e["action"] for e in node.json("audit")]
    assert actions[:3] == ["api_token.create", "api_token.revoke", "api_token.create"]


def test_bad_options_fail_in_one_line(node) -> None:
    assert "invalid duration" in node.fails("api-token", "create", "x", "--expires", "soon")
    node.fails("api-token", "create", "x", "--scope", "admin", code=2)
    assert "invalid token name" in node.fails("api-token", "create", " ")


def test_a_version_9_database_gains_the_osdi_tables(node) -> None:
    downgrade(node.home / "node.db", 9)
    node.ok("api-token", "create", "parsons")
    with node.db() as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
        assert conn.execute("SELECT count(*) FROM api_tokens").fetchone()[0] == 1
