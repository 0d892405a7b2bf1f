"""No request can stall a node: the worst bodies at the size limit are refused while
other requests are answered (issue 11 item 6; the timings are in
benchmarks/bench_hostile_bodies.py and docs/reliability.md)."""

from __future__ import annotations

import asyncio
import io
import json

import aiohttp
from federation_helpers import RunningNode, assert_refusal, post

from tagshare.node.pairing import PAIR_PATH
from tagshare.node.server import DOCUMENT_PATH, INBOX_PATH
from tagshare.protocol import MAX_MESSAGE_BYTES, b64u_encode

ROOM = MAX_MESSAGE_BYTES - 400


def quadratic_body() -> bytes:
    """The issue's body, `'[]'*40 + '"' + '\\"'*32000` (64 KB took 21 s), at 8 MiB."""
    return ("[]" * 40 + '"' + '\\"' * (ROOM // 2)).encode()


def signed_looking_envelope(recipient: str) -> bytes:
    """The right shape, to this node, with an 8 MiB escaped ciphertext (the most parsing
    a body can still buy) and a signature that cannot verify."""
    fields = {"v": 1, "type": "ping", "sender": b64u_encode(bytes(range(32))),
              "recipient": recipient, "id": b64u_encode(bytes(16)), "created": 0,
              "nonce": b64u_encode(bytes(24)), "signature": b64u_encode(bytes(64))}
    head = json.dumps(fields)[:-1] + ', "ciphertext": "'
    return (head + "\\u0041" * (ROOM // 6 - 100) + '"}').encode()


async def test_worst_bodies_are_refused_while_the_node_answers_others(
        http: aiohttp.ClientSession, alice: RunningNode) -> None:
    hostile = [
        (INBOX_PATH, quadratic_body(), 400, "malformed"),
        (INBOX_PATH, b"[" * MAX_MESSAGE_BYTES, 400, "malformed"),  # nesting at the limit
        (INBOX_PATH, b'{"v":' + b"1" * ROOM + b"}", 400, "malformed"),  # one long number
        (INBOX_PATH, signed_looking_envelope(alice.node_id), 401, "bad_signature"),
        (PAIR_PATH, quadratic_body(), 413, "too_large"),
    ] * 2
    for body in (entry[1] for entry in hostile):
        assert len(body) <= MAX_MESSAGE_BYTES
    posts = [asyncio.create_task(post(http, alice, path, io.BytesIO(body)))
             for path, body, _status, _code in hostile]
    answered_meanwhile = 0
    while not all(task.done() for task in posts):
        async with http.get(alice.url + DOCUMENT_PATH) as answer:
            assert answer.status == 200
            assert (await answer.json())["node"] == alice.node_id
        answered_meanwhile += not all(task.done() for task in posts)
    # The node document was served while hostile bodies were still being refused.
    assert answered_meanwhile >= 1
    for task, (_path, _body, status, code) in zip(posts, hostile, strict=True):
        assert_refusal(*task.result(), status, code)
    assert alice.rows("inbox_seen") == [] and alice.rows("pairing_failures") == []
