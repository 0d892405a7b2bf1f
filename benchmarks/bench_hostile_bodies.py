"""Benchmark: what each pathological body at the size limit costs a node before any
signature is checked (issue 11 item 6).

    python benchmarks/bench_hostile_bodies.py             # protocol only: parse + verify
    python benchmarks/bench_hostile_bodies.py --server    # also POST each to a real node

For each body: the refusal (error code) and the time `Inbox.check` / the pair check /
plain `parse_json` (depth 32, as for documents) take; with `--server`, a real
`create_app` node on 127.0.0.1 port 0 gets the POST while a
client fetches `/.well-known/tagshare` in a loop, and the slowest of those fetches is
printed next to the POST's own time. No assertion: the figures go to docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from tagshare.node.node import init_node
from tagshare.node.pairing import PAIR_PATH
from tagshare.node.server import DOCUMENT_PATH, INBOX_PATH, create_app
from tagshare.protocol import (
    MAX_MESSAGE_BYTES,
    ProtocolError,
    b64u_encode,
    parse_envelope,
    parse_json,
    verify_envelope,
)
from tagshare.protocol.invite import parse_pair_request

LIMIT = MAX_MESSAGE_BYTES


def envelope_with(ciphertext: str, recipient: str) -> bytes:
    """An envelope of the right shape, to `recipient`, whose signature cannot verify."""
    fields = {"v": 1, "type": "ping", "sender": b64u_encode(bytes(range(32))),
              "recipient": recipient, "id": b64u_encode(bytes(16)),
              "created": 0, "nonce": b64u_encode(bytes(24)), "signature": b64u_encode(bytes(64))}
    head = json.dumps(fields)[:-1] + ', "ciphertext": "'
    return (head + ciphertext + '"}').encode()


def bodies(recipient: str = b64u_encode(bytes(32))) -> dict[str, bytes]:
    room = LIMIT - 400
    many_keys = b",".join(b'"k%d":1' % i for i in range(room // 12))
    return {
        "issue body ([]*40, quote, \\\" to 8 MiB)":
            ("[]" * 40 + '"' + '\\"' * (room // 2)).encode(),
        "deep nesting ([ * 8 MiB)": b"[" * LIMIT,
        "dense shallow ([[],[],...])": b"[" + b"[]," * (room // 3) + b"[]]",
        "many keys ({k1:1,...})": b"{" + many_keys + b"}",
        "long number ({v: 8M digits})": b'{"v":' + b"1" * room + b"}",
        "huge string (8 MiB value)": b'{"v":"' + b"A" * room + b'"}',
        "escaped string (\\u0041 * 1.4M)": b'{"v":"' + b"\\u0041" * (room // 6) + b'"}',
        "whitespace then {}": b" " * room + b"{}",
        "envelope, 8 MiB ciphertext, bad signature":
            envelope_with("A" * (room - 400), recipient),
        "envelope, escaped ciphertext, bad signature":
            envelope_with("\\u0041" * (room // 6 - 100), recipient),
    }


def check_envelope(body: bytes) -> None:
    """What `Inbox.check` does, without a node: parse, then verify the signature."""
    verify_envelope(parse_envelope(body))


def refusal_of(check: Callable[[bytes], object], body: bytes) -> tuple[str, float]:
    start = time.perf_counter()
    try:
        check(body)
        code = "parsed"
    except ProtocolError as error:
        code = getattr(error, "code", type(error).__name__)
    return code, time.perf_counter() - start


async def against_server(node_home: Path) -> None:
    node = init_node(node_home, name="Bench Org", url="http://127.0.0.1:1")
    runner = web.AppRunner(create_app(node, sync=False), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}"
    async with aiohttp.ClientSession() as http:
        for name, body in bodies(node.node_id).items():
            for path in (INBOX_PATH, PAIR_PATH):
                post_s, get_max, gets, status = await _post_while_getting(http, url, path, body)
                print(f"  server {path:22} {name:45} {status} post {post_s * 1000:7.1f} ms, "
                      f"{gets} GETs meanwhile, slowest {get_max * 1000:6.1f} ms")
    await runner.cleanup()
    node.close()


async def _post_while_getting(http: aiohttp.ClientSession, url: str, path: str,
                              body: bytes) -> tuple[float, float, int, int]:
    start = time.perf_counter()
    post = asyncio.create_task(http.post(url + path, data=io.BytesIO(body)))
    slowest, gets = 0.0, 0
    while not post.done():
        began = time.perf_counter()
        async with http.get(url + DOCUMENT_PATH) as answer:
            await answer.read()
        slowest, gets = max(slowest, time.perf_counter() - began), gets + 1
    response = await post
    status = response.status
    response.release()
    return time.perf_counter() - start, slowest, gets, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", action="store_true", help="Also POST to a real node.")
    args = parser.parse_args()
    named = bodies()
    for name, body in named.items():
        envelope_code, envelope_s = refusal_of(check_envelope, body)
        pair_code, pair_s = refusal_of(parse_pair_request, body)
        json_code, json_s = refusal_of(parse_json, body)
        print(f"{name:45} {len(body):8d} B  envelope: {envelope_code:13} "
              f"{envelope_s * 1000:6.1f} ms  pair: {pair_code:9} {pair_s * 1000:5.1f} ms  "
              f"parse_json: {json_code:10} {json_s * 1000:6.1f} ms")
    if args.server:
        with tempfile.TemporaryDirectory(prefix="tagshare-hostile-") as work:
            asyncio.run(against_server(Path(work) / "node"))


if __name__ == "__main__":
    main()
