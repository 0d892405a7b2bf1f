"""Two real `tagshare serve` processes over HTTPS with pinned self-signed certificates.

No certificate authority: each node signs the SHA-256 of its certificate into
its node document, and its peer connects only to that certificate. An
impostor on the same port with another certificate gets nothing, not even the
first byte of a request.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import ssl
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from operator_helpers import HOST, Served, pair, sample, wait_for
from test_operator_metrics import share_volunteers

from tagshare.node import people
from tagshare.node.errors import NodeError
from tagshare.node.tls import TlsFiles, certificate_sha256, make_self_signed, renew_self_signed

NOW = datetime.datetime.now(datetime.UTC)


def https_node(root: Path, name: str) -> Served:
    node = Served.create(root, name, scheme="https")
    renew_self_signed(node.op, NOW)
    return node


@pytest.fixture
def https_pair(tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    granter, subscriber = https_node(tmp_path, "Ohio Party"), https_node(tmp_path, "Rivera")
    try:
        granter.start()
        subscriber.start()
        pair(granter, subscriber)
        yield granter, subscriber
    finally:
        granter.close()
        subscriber.close()


def pinned_get(node: Served, path: str) -> bytes:
    """GET over https with no CA check, after checking the server shows the home's cert."""
    der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((HOST, node.port)))
    assert hashlib.sha256(der).hexdigest() == certificate_sha256(node.home / "tls.crt")
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with urllib.request.urlopen(node.url + path, timeout=30, context=context) as answer:
        return bytes(answer.read())


def test_two_nodes_pair_and_deliver_over_pinned_https(
        https_pair: tuple[Served, Served]) -> None:
    granter, subscriber = https_pair
    assert "listening on https://" in granter.log_text()
    share_volunteers(granter, subscriber, 2)
    [peer] = subscriber.query("SELECT document FROM peers")
    assert certificate_sha256(granter.home / "tls.crt") in peer["document"]
    assert (sample(granter.scrape(), "tagshare_deliveries_total", peer="Rivera",
                   result="ok") or 0) >= 1
    assert b'"status": "ok"' in pinned_get(granter, "/health")


@asynccontextmanager
async def impostor(port: int, files: TlsFiles, seen: list[str],
                   document: bytes) -> AsyncIterator[None]:
    """Another server on the same port, with a certificate of its own, relaying the real
    node's signed document and answering anything else with 500."""
    async def anything(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        if request.path == "/.well-known/tagshare":
            return web.Response(body=document, content_type="application/json")
        return web.Response(status=500)

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", anything)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, HOST, port, ssl_context=files.server_context()).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def test_another_certificate_on_the_peers_port_gets_nothing(
        https_pair: tuple[Served, Served], tmp_path: Path) -> None:
    granter, subscriber = https_pair
    await asyncio.to_thread(share_volunteers, granter, subscriber, 1)
    document = await asyncio.to_thread(pinned_get, subscriber, "/.well-known/tagshare")
    [held] = granter.query("SELECT document FROM peers")
    subscriber.stop()
    (tmp_path / "impostor").mkdir()
    fake = make_self_signed(tmp_path / "impostor", name="Rivera", url=subscriber.url, now=NOW)
    seen: list[str] = []
    async with impostor(subscriber.port, fake, seen, document):
        people.add_person(granter.op, {"first_name": "Late", "email": "late@example.org"},
                          ["volunteers"])

        def refused() -> bool:
            rows = granter.query("SELECT last_error FROM delivery")
            return any("TLS certificate other than" in (r[0] or "") for r in rows)

        await asyncio.to_thread(wait_for, refused, "the impostor to be refused")
        # The granter then asks for a newer document, as after a rotation; the real one,
        # relayed, pins the real certificate, so the impostor's is not pinned.
        await asyncio.to_thread(wait_for, lambda: seen, "the document to be asked for")
        await asyncio.to_thread(wait_for, lambda: "could not learn a new TLS certificate"
                                in granter.log_text(), "the refusal of the relayed document")
    assert set(seen) == {"GET /.well-known/tagshare"}  # no delivery ever reached it
    assert granter.query("SELECT count(*) FROM pending")[0][0] == 1
    assert granter.query("SELECT document FROM peers") == [held]


async def test_first_contact_refuses_a_certificate_the_document_does_not_sign(
        tmp_path: Path) -> None:
    """A man in the middle relays the real, signed document but cannot present the
    certificate it pins: the joiner stops before sending anything."""
    inviter, joiner = https_node(tmp_path, "Ohio Party"), https_node(tmp_path, "Rivera")
    document = pinned_get_document(inviter)
    (tmp_path / "mitm").mkdir()
    fake = make_self_signed(tmp_path / "mitm", name="Ohio Party", url=inviter.url, now=NOW)
    seen: list[str] = []

    async def relay(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(body=document, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", relay)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, HOST, inviter.port, ssl_context=fake.server_context()).start()
    try:
        with pytest.raises(NodeError, match="TLS certificate other than"):
            await asyncio.to_thread(pair, inviter, joiner)
    finally:
        await runner.cleanup()
        inviter.close()
        joiner.close()
    assert seen == ["/.well-known/tagshare"]  # the pair request was never sent
    assert joiner.query("SELECT count(*) FROM peers")[0][0] == 0


def pinned_get_document(node: Served) -> bytes:
    node.start()
    try:
        return pinned_get(node, "/.well-known/tagshare")
    finally:
        node.stop()


def test_a_rotated_certificate_reaches_the_peer_through_the_signed_document(
        https_pair: tuple[Served, Served]) -> None:
    granter, subscriber = https_pair
    share_volunteers(granter, subscriber, 1)
    subscriber.stop()
    old_pin = certificate_sha256(subscriber.home / "tls.crt")
    new_pin = renew_self_signed(subscriber.op, NOW)["sha256"]
    assert new_pin != old_pin
    subscriber.start()
    people.add_person(granter.op, {"first_name": "Late", "email": "late@example.org"},
                      ["volunteers"])
    wait_for(lambda: subscriber.query("SELECT 1 FROM people WHERE first_name = 'Late'"),
             "the delivery with the new certificate")
    [peer] = granter.query("SELECT document FROM peers")
    assert new_pin in peer["document"] and old_pin not in peer["document"]
    assert granter.query("SELECT 1 FROM audit WHERE action = 'peer.tls_pinned'")


def test_serve_publishes_the_pin_of_a_certificate_kept_elsewhere(tmp_path: Path) -> None:
    node = Served.create(tmp_path, "Kept Elsewhere", scheme="https")
    (tmp_path / "etc").mkdir()
    files = make_self_signed(tmp_path / "etc", name="Kept Elsewhere", url=node.url, now=NOW)
    node.start("--tls-cert", str(files.cert), "--tls-key", str(files.key))
    try:
        der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((HOST, node.port)))
        assert hashlib.sha256(der).hexdigest() == files.sha256
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with urllib.request.urlopen(node.url + "/.well-known/tagshare", timeout=30,
                                    context=context) as answer:
            assert json.loads(answer.read())["tls_sha256"] == files.sha256
    finally:
        node.close()
    assert not (node.home / "tls.crt").exists()
