"""`tagshare tls self-signed` and the pin it puts into the node document."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from tagshare.node.identity import node_document
from tagshare.node.node import open_node
from tagshare.node.tls import certificate_sha256

if TYPE_CHECKING:  # the fixture's class, from tests/node/conftest.py
    from conftest import Tagshare


def test_self_signed_writes_private_files_and_pins_them_in_the_document(
        fresh: Tagshare) -> None:
    fresh.ok("init", "--name", "Ohio Party", "--url", "https://node.example.org:7440")
    made = fresh.json("tls", "self-signed")
    for name in ("tls.crt", "tls.key"):
        assert (fresh.home / name).stat().st_mode & 0o777 == 0o600, name
    assert made["sha256"] == certificate_sha256(fresh.home / "tls.crt")
    node = open_node(fresh.home)
    try:
        assert node_document(node, int(time.time())).tls_sha256 == made["sha256"]
    finally:
        node.close()
    again = fresh.json("tls", "self-signed")  # rotation: a new key, a new pin
    assert again["sha256"] != made["sha256"]
    assert [e["detail"]["sha256"] for e in fresh.json("audit")
            if e["action"] == "tls.self_signed"] == [again["sha256"], made["sha256"]]


def test_a_plain_http_node_publishes_no_pin_and_is_warned(fresh: Tagshare) -> None:
    fresh.ok("init", "--name", "Loopback Org", "--url", "http://127.0.0.1:7440")
    result = fresh.ok("tls", "self-signed")
    assert "is not https://" in result.stderr
    node = open_node(fresh.home)
    try:
        assert node_document(node, int(time.time())).tls_sha256 is None
        assert "tls_sha256" not in json.dumps(node_document(node, 1).to_dict())
    finally:
        node.close()


def test_serve_needs_both_tls_files(node: Tagshare) -> None:
    (node.home / "cert.pem").write_text("x")
    stderr = node.fails("serve", "--tls-cert", str(node.home / "cert.pem"), code=2)
    assert "--tls-cert and --tls-key together" in stderr
