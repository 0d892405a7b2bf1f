"""Benchmark: the protocol's per-person cost for one batch, in process (no network, no SQLite).

    python benchmarks/bench_codec.py --items 1000 --repeat 20

Builds a `share.batch` of `--items` people shaped like the sync benchmarks' (all
person fields; a door contact and a donation on every fifth), then times each stage
of sending and receiving it with `protocol/` alone: building the `Item`s, sealing
(canonical JSON, encryption, base64, signature), and on the receiving side parsing
the envelope, verifying its signature and opening it (decrypt, parse, check every
item). Prints the best of `--repeat` runs per stage, in microseconds per person,
checks that the opened batch equals the one sent (exit 1 if not), and writes JSON
to benchmarks/out/.
"""

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import synclib
from synclib import log

from tagshare.protocol import (
    Item,
    ShareBatch,
    open_envelope,
    parse_envelope,
    seal,
    verify_envelope,
)
from tagshare.protocol.keys import NodeKeys

SENDER = NodeKeys(signing_seed=bytes([1]) * 32, box_secret=bytes([2]) * 32)
RECIPIENT = NodeKeys(signing_seed=bytes([3]) * 32, box_secret=bytes([4]) * 32)
AT = "2026-11-01T10:00:00Z"


def uuid_of(n: int, kind: int = 0) -> str:
    text = f"{kind:08x}{n:024x}"
    return f"{text[:8]}-{text[8:12]}-7{text[13:16]}-8{text[17:20]}-{text[20:]}"


def person(n: int) -> Item:
    fields: dict[str, str | None] = {
        "first_name": "Laura", "last_name": "Carpenter", "email": f"laura{n}@example.net",
        "phone": "+19376246090", "address1": "9218 Riverside Dr", "address2": None,
        "city": "Athens", "state": "OH", "zip": "45771"}
    contacts: tuple[dict[str, object], ...] = ()
    donations: tuple[dict[str, object], ...] = ()
    if n % 5 == 0:
        contacts = ({"uuid": uuid_of(n, 1), "method": "door", "outcome": "talked",
                     "note": None, "at": AT, "by": "bench"},)
        donations = ({"uuid": uuid_of(n, 2), "amount_cents": 2500, "currency": "USD",
                      "at": AT},)
    return Item(op="upsert", uuid=uuid_of(n), version=n + 1, fields=fields,
                contacts=contacts, donations=donations)


def best_us(func: Callable[[], Any], repeat: int, items: int) -> tuple[float, Any]:
    """Best wall time of `repeat` calls, in microseconds per item, and the last result."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - started)
    return best / items * 1e6, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    synclib.add_common_options(parser)
    args = parser.parse_args()
    n, repeat = args.items, args.repeat
    stages: dict[str, float] = {}
    stages["build items"], items = best_us(lambda: tuple(person(i) for i in range(n)), repeat, n)
    batch = ShareBatch(share=uuid_of(0, 9), epoch="A" * 22, seq=1, terms=1, items=items)

    def sealed() -> bytes:
        return seal(sender=SENDER, recipient_id=RECIPIENT.node_id,
                    recipient_box_key=RECIPIENT.box_public, message=batch,
                    message_id=os.urandom(16), nonce=os.urandom(24), created=1).to_bytes()

    stages["seal"], wire = best_us(sealed, repeat, n)
    stages["parse envelope"], envelope = best_us(lambda: parse_envelope(wire), repeat, n)
    stages["verify signature"], _ = best_us(lambda: verify_envelope(envelope), repeat, n)
    stages["open (decrypt, parse, check)"], opened = best_us(
        lambda: open_envelope(envelope, recipient=RECIPIENT, sender_box_key=SENDER.box_public),
        repeat, n)
    if opened != batch:
        log("bench_codec: the opened batch differs from the one sealed")
        return 1
    print(f"\nprotocol cost per person, batch of {n:,} ({len(wire) / n:.0f} bytes a person "
          f"on the wire), best of {repeat}:")
    for stage, micros in stages.items():
        print(f"  {stage:30s} {micros:7.2f} us")
    receive = sum(stages[s] for s in ("parse envelope", "verify signature",
                                      "open (decrypt, parse, check)"))
    print(f"  {'receive in all':30s} {receive:7.2f} us")
    synclib.write_json(f"codec-{n}", {"benchmark": "codec", "items": n, "repeat": repeat,
                                      "wire_bytes_per_item": len(wire) / n,
                                      "us_per_item": stages}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
