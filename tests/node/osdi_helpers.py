"""One node served with its OSDI API on the aiohttp test client, and tokens for it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from tagshare.node.node import Node
from tagshare.node.osdi import tokens

API = "/api/osdi/v1"


@dataclass
class Api:
    client: TestClient[Any, Any]
    node: Node
    home: Path
    read_token: str = ""
    write_token: str = ""

    def headers(self, token: str | None) -> dict[str, str]:
        return {} if token is None else {"OSDI-API-Token": token}

    async def get(self, path: str, token: str | None = None, **params: Any) -> tuple[int, Any]:
        response = await self.client.get(f"{API}{path}", params=params,
                                         headers=self.headers(token or self.read_token))
        return response.status, await response.json(content_type=None)

    async def send(self, method: str, path: str, body: Any = None, token: str | None = None,
                   raw: bytes | None = None) -> tuple[int, Any]:
        import json

        data = raw if raw is not None else json.dumps(body).encode()
        response = await self.client.request(
            method, f"{API}{path}", data=data,
            headers={**self.headers(token or self.write_token),
                     "Content-Type": "application/json"})
        return response.status, await response.json(content_type=None)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every table a write could touch, for 'nothing changed' checks."""
        with closing(sqlite3.connect(self.home / "node.db")) as conn:
            return {table: sorted(tuple(r) for r in conn.execute(f"SELECT * FROM {table}"))
                    for table in ("people", "tags", "taggings", "contacts", "donations",
                                  "outbox")}

    def audit_actions(self) -> list[str]:
        with closing(sqlite3.connect(self.home / "node.db")) as conn:
            return [row[0] for row in conn.execute("SELECT action FROM audit ORDER BY id")]


def make_tokens(api: Api) -> None:
    api.read_token = tokens.create_token(api.node, "reader", scope="read")["token"]
    api.write_token = tokens.create_token(api.node, "writer", scope="write")["token"]

