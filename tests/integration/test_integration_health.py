"""GET /health on a real server: ok while the database takes writes, 503 when it cannot."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import aiohttp
from federation_helpers import RunningNode

from tagshare.node.home import DB_FILE


async def get_health(http: aiohttp.ClientSession, node: RunningNode) -> tuple[int, dict[str, str]]:
    async with http.get(node.url + "/health") as response:
        return response.status, await response.json()


async def test_health_is_ok_and_really_writes(alice: RunningNode,
                                              http: aiohttp.ClientSession) -> None:
    status, body = await get_health(http, alice)
    assert (status, body) == (200, {"status": "ok", "database": "ok"})
    [row] = [r for r in alice.rows("meta") if r["key"] == "health_checked_at"]
    assert row["value"]


async def test_health_says_503_with_the_reason_while_another_writer_holds_the_lock(
        alice: RunningNode, http: aiohttp.ClientSession) -> None:
    with closing(sqlite3.connect(alice.home / DB_FILE, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        status, body = await get_health(http, alice)
        other.execute("ROLLBACK")
    assert status == 503, body
    assert body["status"] == "unavailable"
    assert "database is locked" in body["reason"]
    assert set(body) == {"status", "reason"}  # nothing about the node's people or peers
    assert (await get_health(http, alice))[0] == 200  # and well again once the lock is gone


async def test_health_needs_no_login_and_refuses_other_methods(
        alice: RunningNode, http: aiohttp.ClientSession) -> None:
    async with http.post(alice.url + "/health", data=b"{}") as response:
        assert response.status == 405
