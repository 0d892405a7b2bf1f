"""A peer's error text is stored and logged cut short, on one line, escaped (issue 11
item 8): a hostile peer answered 2 MB of text with newlines, which became `last_error`
whole and forged lines in the log."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from shares_helpers import three_orgs, wait_until

from tagshare.node import shares
from tagshare.node.client import MAX_ERROR_BYTES, FederationClient, HttpTransport, PeerRefused
from tagshare.node.courier import INBOX_PATH
from tagshare.node.peer_text import MAX_PEER_TEXT

FORGED = "\n2026-12-03 09:00:00 INFO tagshare.sync: delivery to everyone succeeded\n"
HOSTILE_TEXT = ("\x1b[2J\x1b[31mboom" + FORGED) * (2_000_000 // (len(FORGED) + 12))
PLAIN_2MB = HOSTILE_TEXT.encode()
HostileUrl = Callable[[bytes, str], Awaitable[str]]
JSON_2MB = json.dumps({"error": "internal\n" + "x" * 100, "message": HOSTILE_TEXT}).encode()
# Short enough to be read whole and parsed: the peer's own message is what gets escaped.
JSON_12KB = json.dumps({"error": "internal\n" + "x" * 100,
                        "message": HOSTILE_TEXT[:12_000]}).encode()


def hostile_app(body: bytes, content_type: str) -> web.Application:
    async def answer(_request: web.Request) -> web.Response:
        return web.Response(status=500, body=body, content_type=content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


async def serve(app: web.Application, port: int = 0) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    host, bound = runner.addresses[0][:2]
    return runner, f"http://{host}:{bound}"


@pytest.fixture
async def hostile_url() -> AsyncIterator[HostileUrl]:
    runners: list[web.AppRunner] = []

    async def start(body: bytes, content_type: str) -> str:
        runner, url = await serve(hostile_app(body, content_type))
        runners.append(runner)
        return url

    yield start
    for runner in runners:
        await runner.cleanup()


def assert_safe(text: str, *, escaped: bool = True) -> None:
    assert len(text) <= MAX_PEER_TEXT + 200, len(text)
    assert not any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in text), text
    if escaped:  # escaped, not dropped: the operator sees them
        assert "\\n" in text and "\\x1b" in text


@pytest.mark.parametrize("body, content_type", [(PLAIN_2MB, "text/plain"),
                                                (JSON_2MB, "application/json"),
                                                (JSON_12KB, "application/json")],
                         ids=["text-2MB", "json-2MB", "json-12KB"])
async def test_the_client_reads_and_keeps_only_the_start_of_an_error(
        hostile_url: HostileUrl, body: bytes, content_type: str) -> None:
    url = await hostile_url(body, content_type)
    transport = HttpTransport()
    try:
        status, read = await transport.post(url + INBOX_PATH, b"{}")
    finally:
        await transport.close()
    assert status == 500 and len(read) == min(len(body), MAX_ERROR_BYTES)

    client = FederationClient()
    try:
        with pytest.raises(PeerRefused) as refused:
            await client.post(url, INBOX_PATH, b"{}")
    finally:
        await client.close()
    # Cut short, a JSON error no longer parses: its start is shown, JSON escapes and all.
    assert_safe(str(refused.value), escaped=body is not JSON_2MB)
    assert "\n" not in refused.value.code and len(refused.value.code) <= 100


async def test_a_hostile_peers_reply_is_stored_and_logged_short_and_on_one_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tagshare")
    async with three_orgs(tmp_path, start_b=False) as trio:
        party, b = trio.party, trio.b
        # B's address (B never started) answers 500 and 2 MB of forged log lines.
        runner, _url = await serve(hostile_app(PLAIN_2MB, "text/plain"), b.port)
        try:
            share_id = party.grant(b, fields="name")
            failed = await wait_until(
                lambda: (rows := party.query("SELECT last_error FROM delivery WHERE peer = ?",
                                             (b.node_id,))) and rows[0]["last_error"],
                message="the party tries and fails")
        finally:
            await runner.cleanup()
        assert_safe(failed)
        assert "boom" in failed  # the start of what the peer said is kept
        assert_safe(shares.show_share(party.op, share_id)["sync"]["last_error"])
    logged = [record.getMessage() for record in caplog.records
              if record.name.startswith("tagshare") and "boom" in record.getMessage()]
    assert logged
    for line in logged:
        assert_safe(line)
