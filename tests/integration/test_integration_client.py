"""FederationClient and HttpTransport against real servers: answers, refusals, silence."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from federation_helpers import FakeClock, RunningNode, pair, sealed

from tagshare.node.client import FederationClient, HttpTransport, PeerRefused, PeerUnreachable
from tagshare.node.server import INBOX_PATH
from tagshare.protocol import Ack, open_envelope, parse_envelope, verify_document

Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def client() -> AsyncIterator[FederationClient]:
    federation = FederationClient()
    yield federation
    await federation.close()


@pytest.fixture
async def serve_app() -> AsyncIterator[Serve]:
    """Serve a hand-written aiohttp app on 127.0.0.1 port 0; returns its base URL."""
    runners: list[web.AppRunner] = []

    async def serve(app: web.Application) -> str:
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield serve
    for runner in runners:
        await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_fetch_document_of_a_real_node(client: FederationClient, alice: RunningNode,
                                             clock: FakeClock) -> None:
    document = await client.fetch_document(alice.url + "/")
    verify_document(document, now=clock(), expected_node_id=alice.node_id)
    assert (document.name, document.url, document.box_key) == (
        alice.name, alice.url, alice.keys.box_public_b64)


async def test_post_returns_the_ack(client: FederationClient, alice: RunningNode,
                                    bob: RunningNode, clock: FakeClock) -> None:
    await pair(alice, bob)
    ping = sealed(bob.keys, alice, created=clock())
    reply = await client.post(alice.url, INBOX_PATH, ping.to_bytes())
    ack = open_envelope(parse_envelope(reply), recipient=bob.keys,
                        sender_box_key=alice.keys.box_public)
    assert isinstance(ack, Ack) and ack.message_id == ping.id


@pytest.mark.parametrize(("body", "status", "code"), [
    (b"garbage", 400, "malformed"),
    (b"{}", 400, "malformed"),
])
async def test_refusal_raises_peer_refused_with_the_code(
        client: FederationClient, alice: RunningNode, body: bytes, status: int,
        code: str) -> None:
    with pytest.raises(PeerRefused) as refused:
        await client.post(alice.url, INBOX_PATH, body)
    assert (refused.value.status, refused.value.code) == (status, code)
    assert refused.value.peer_message
    assert code in str(refused.value) and str(status) in str(refused.value)


async def test_stranger_is_refused_as_unknown_peer(client: FederationClient,
                                                   alice: RunningNode, bob: RunningNode,
                                                   clock: FakeClock) -> None:
    with pytest.raises(PeerRefused) as refused:
        await client.post(alice.url, INBOX_PATH, sealed(bob.keys, alice, created=clock())
                          .to_bytes())
    assert (refused.value.status, refused.value.code) == (403, "unknown_peer")


async def test_non_json_error_page_is_reported_as_http_error(client: FederationClient,
                                                            serve_app: Serve) -> None:
    app = web.Application()  # a proxy's or another server's plain-text page
    url = await serve_app(app)
    with pytest.raises(PeerRefused) as refused:
        await client.post(url, "/no/such/path", b"{}")
    assert (refused.value.status, refused.value.code) == (404, "http_error")


async def test_a_nodes_unknown_path_is_a_json_not_found(client: FederationClient,
                                                        alice: RunningNode) -> None:
    with pytest.raises(PeerRefused) as refused:
        await client.post(alice.url, "/no/such/path", b"{}")
    assert (refused.value.status, refused.value.code) == (404, "not_found")


async def test_closed_port_raises_peer_unreachable(client: FederationClient) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(PeerUnreachable, match="cannot reach"):
        await client.post(url, INBOX_PATH, b"{}")
    with pytest.raises(PeerUnreachable, match="cannot reach"):
        await client.fetch_document(url)


async def test_silent_peer_times_out_as_unreachable() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(_reader: asyncio.StreamReader,
                                     writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    silent = FederationClient(HttpTransport(timeout=0.3))
    try:
        with pytest.raises(PeerUnreachable):
            await silent.post(f"http://127.0.0.1:{port}", INBOX_PATH, b"{}")
    finally:
        await silent.close()
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_reply_arriving_in_pieces_is_read_whole(client: FederationClient,
                                                      serve_app: Serve) -> None:
    body = b'{"piece": "' + b"x" * 20_000 + b'"}'

    async def slow_reply(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[:100])
        await asyncio.sleep(0.05)
        with contextlib.suppress(ConnectionResetError):  # the buggy client hung up early
            await response.write(body[100:])
            await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post(INBOX_PATH, slow_reply)
    url = await serve_app(app)
    assert await client.post(url, INBOX_PATH, b"{}") == body
