"""`tagshare dashboard`, `tagshare peer retry`, and the storage the dashboard added.

Through the real CLI (click's runner) on a node in tmp_path; the running
serve is stood for by the admin.json it writes.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from typing import Any

import pytest
from dashboard_helpers import add_peer
from schema_helpers import downgrade

from tagshare.node.admin import listener
from tagshare.node.admin.dashboard import login
from tagshare.node.node import open_node
from tagshare.node.storage import db, outbox, schema

LINK = re.compile(r"^http://127\.0\.0\.1:(\d+)/login/([A-Za-z0-9_-]{43})$")


def record_serve(home: Any, *, host: str = "127.0.0.1", port: int = 7441,
                 pid: int | None = None) -> None:
    (home / listener.ADMIN_FILE).write_text(
        json.dumps({"host": host, "port": port, "pid": pid or os.getpid()}))


def test_dashboard_prints_a_one_time_link_to_the_recorded_admin_port(node: Any) -> None:
    record_serve(node.home, port=7441)
    result = node.ok("dashboard")
    found = LINK.match(result.stdout.strip())
    assert found and found.group(1) == "7441", result.stdout
    assert "works once" in result.stderr
    opened = open_node(node.home)
    try:
        assert login.redeem_login(opened, found.group(2), int(time.time())) is not None
        assert login.redeem_login(opened, found.group(2), int(time.time())) is None
    finally:
        opened.close()


def test_dashboard_json_and_an_unspecified_listen_address(node: Any) -> None:
    record_serve(node.home, host="0.0.0.0", port=9000)
    data = node.json("dashboard")
    assert LINK.match(data["url"]) and data["expires_in"] == login.LOGIN_SECONDS
    record_serve(node.home, host="::1", port=9000)
    assert node.json("dashboard")["url"].startswith("http://[::1]:9000/login/")


def test_dashboard_open_hands_the_link_to_the_web_browser(
        node: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    record_serve(node.home)
    result = node.ok("dashboard", "--open")
    assert opened == [result.stdout.strip()]


def test_dashboard_without_a_running_serve_says_what_to_do(node: Any) -> None:
    stderr = node.fails("dashboard")
    assert "start `tagshare serve`" in stderr and len(stderr.strip().splitlines()) == 1
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    record_serve(node.home, pid=int(finished.stdout))  # a serve that was killed
    assert "no longer running" in node.fails("dashboard")
    with node.db() as conn:
        assert conn.execute("SELECT count(*) FROM dashboard_logins").fetchone()[0] == 0


def test_the_admin_file_is_the_one_serve_writes() -> None:
    assert login.ADMIN_FILE == listener.ADMIN_FILE


def test_peer_retry_resets_the_backoff_and_a_success_ends_the_failing_streak(
        node: Any) -> None:
    opened = open_node(node.home)
    try:
        peer = add_peer(opened, "Rivera Campaign", alias="rivera")
        with db.transaction(opened.conn) as conn:
            for at in ("2026-01-01T00:00:00.000Z", "2026-01-01T00:05:00.000Z"):
                outbox.record_failure(conn, peer, error="unreachable",
                                      next_attempt=time.time() + 600, parked=True, at=at)
        state = outbox.delivery_state(opened.conn, peer)
        assert state is not None and state["failing_since"] == "2026-01-01T00:00:00.000Z"
        assert "retrying 'rivera'" in node.ok("peer", "retry", "rivera").stdout
        state = outbox.delivery_state(opened.conn, peer)
        assert state is not None
        assert (state["next_attempt"], state["attempts"], state["parked"]) == (0, 2, 0)
        assert state["failing_since"] == "2026-01-01T00:00:00.000Z"  # until a success
        with db.transaction(opened.conn) as conn:
            outbox.record_success(conn, peer, "2026-01-01T00:06:00.000Z")
        state = outbox.delivery_state(opened.conn, peer)
        assert state is not None and state["failing_since"] is None
    finally:
        opened.close()
    assert "no peer 'nobody'" in node.fails("peer", "retry", "nobody")


def test_a_version_9_database_gains_the_dashboard_tables(node: Any) -> None:
    dashboard_tables = ("dashboard_logins", "dashboard_sessions", "delivery_failing")
    downgrade(node.home / "node.db", 9)
    node.ok("status")
    with closing(sqlite3.connect(node.home / "node.db")) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
    assert set(dashboard_tables) <= names
    assert (node.home / "node.db.pre-v9.bak").exists()
