"""Every refusal is JSON (docs/protocol.md 7.2), also for a path or a method the node does
not serve and for the node's own fault: a client never has to parse aiohttp's plain text."""

from __future__ import annotations

import aiohttp
import pytest
from federation_helpers import RunningNode

from tagshare.node.server import INBOX

PROBES = [
    ("GET", "/nope", 404, "not_found"),
    ("GET", "/federation/v1/nothing-here", 404, "not_found"),
    ("POST", "/federation/v2/inbox", 404, "not_found"),
    ("GET", "/federation/v1/inbox", 405, "method_not_allowed"),
    ("PUT", "/federation/v1/outbox", 405, "method_not_allowed"),
    ("DELETE", "/federation/v1/pair", 405, "method_not_allowed"),
    ("POST", "/.well-known/tagshare", 405, "method_not_allowed"),
]


@pytest.mark.parametrize(("method", "path", "status", "code"), PROBES)
async def test_unknown_routes_and_wrong_methods_answer_json(
        http: aiohttp.ClientSession, alice: RunningNode, method: str, path: str,
        status: int, code: str) -> None:
    async with http.request(method, alice.url + path, data=b"{}") as response:
        assert response.status == status
        assert response.content_type == "application/json"
        body = await response.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == code and body["message"]
    if status == 405:
        assert "POST" in response.headers["Allow"] or "GET" in response.headers["Allow"]


async def test_the_nodes_own_fault_is_a_json_500_internal(
        http: aiohttp.ClientSession, alice: RunningNode,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(raw: bytes) -> bytes:
        raise RuntimeError("a bug in the node")

    monkeypatch.setattr(alice.runner.app[INBOX], "check", broken)
    async with http.post(alice.url + "/federation/v1/inbox", data=b"{}") as response:
        assert response.status == 500
        assert response.content_type == "application/json"
        body = await response.json()
    assert body["error"] == "internal"
    assert "a bug" not in body["message"]  # no internals leak to the peer
    async with http.get(alice.url + "/.well-known/tagshare") as response:
        assert response.status == 200  # the node goes on serving
