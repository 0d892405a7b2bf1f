"""`tagshare osdi add|list` and `serve --osdi-pull-every`: registering OSDI sources."""

from __future__ import annotations

import json
from pathlib import Path


def test_add_registers_a_source_and_list_shows_it(node, tmp_path: Path) -> None:
    secret = tmp_path / "an.token"
    secret.write_text("an-secret\n")
    node.ok("osdi", "add", "an", "https://actionnetwork.org/api/v2/", "--token-file",
            str(secret))
    listed = node.json("osdi", "list")
    assert listed == [{"name": "an", "url": "https://actionnetwork.org/api/v2",
                       "token_file": str(secret.resolve()), "cursor": None,
                       "last_pull_at": None}]
    assert "an-secret" not in json.dumps(listed)
    with node.db() as conn:
        assert "an-secret" not in json.dumps([tuple(r) for r in conn.execute(
            "SELECT * FROM osdi_sources")])
    assert node.json("audit")[0]["action"] == "osdi.source_add"


def test_bad_sources_fail_in_one_line(node, tmp_path: Path) -> None:
    empty = tmp_path / "empty.token"
    empty.write_text("\n")
    assert "cannot read the token file" in node.fails(
        "osdi", "add", "an", "https://x.org/api", "--token-file", str(tmp_path / "none"))
    assert "does not hold one API token" in node.fails(
        "osdi", "add", "an", "https://x.org/api", "--token-file", str(empty))
    empty.write_text("tok")
    for url in ("file:///etc/passwd", "actionnetwork.org", "ftp://x.org/api"):
        assert "not an http(s) URL" in node.fails("osdi", "add", "an", url, "--token-file",
                                                  str(empty))
    assert node.json("osdi", "list") == []


def test_serve_refuses_a_pull_interval_below_a_minute(node) -> None:
    assert "at least 1m" in node.fails("serve", "--port", "0", "--osdi-pull-every", "30s")
    assert "invalid duration" in node.fails("serve", "--port", "0", "--osdi-pull-every", "x")
