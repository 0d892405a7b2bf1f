"""Snapshot chunks opened by the subscriber's decoder process (node/decoder.py), between
real nodes: a first sync arrives complete through it; hostile large envelopes are refused
with the same status and code as in process, and change nothing; a worker killed while
it opens a chunk costs a retry, and the sync still ends with nothing lost; right after a
key rotation it opens chunks sealed to either keys, and the rotation's bookkeeping is
the in-process path's."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from typing import Any

import pytest
from shares_helpers import (
    Org,
    Trio,
    assert_unchanged,
    make_batch,
    post_inbox,
    sealed,
    settled,
    wait_until,
)
from test_shares_snapshot import PEOPLE, chunk, copies, load, shared

from tagshare.node import keys as key_ops
from tagshare.node import outgoing, shares
from tagshare.node.decoder import Decoder
from tagshare.node.ids import uuid7
from tagshare.node.server import DECODER
from tagshare.protocol import Envelope, KeyRotate, ShareBatch, canonical_json, seal
from tagshare.protocol.encoding import b64u_decode, b64u_encode
from tagshare.protocol.keys import NodeKeys, box_between

LARGE = 20_000  # ciphertext characters from which these tests' decoders take an envelope


async def decoder_up(org: Org) -> Decoder:
    """`org`'s decoder, taking envelopes from LARGE, its worker started and up."""
    assert org.app is not None
    decoder = org.app[DECODER]
    decoder.min_bytes = LARGE
    decoder.start()
    await wait_until(decoder.worker_pid, message="the decoder's worker starts")
    return decoder


async def first_sync(trio: Trio, monkeypatch: pytest.MonkeyPatch) -> str:
    """The party's PEOPLE people granted to A, going out in chunks of 1,200."""
    monkeypatch.setattr(outgoing, "CHUNK_PEOPLE", 1200)
    load(trio.party, PEOPLE)
    share_id = await trio.offer(trio.a)
    shares.accept_share(trio.a.op, share_id, None)
    return share_id


async def test_a_first_sync_arrives_complete_through_the_worker(
        trio: Trio, monkeypatch: pytest.MonkeyPatch) -> None:
    decoder = await decoder_up(trio.a)
    share_id = await first_sync(trio, monkeypatch)
    await settled(trio.party, share_id, timeout=60)
    await wait_until(lambda: copies(trio.a, trio.party) == shared(trio.party), timeout=30,
                     message="campaign A holds the party's people")
    assert decoder.handed >= 2 and decoder.lost == 0
    held = copies(trio.a, trio.party)
    assert (len(held["people"]), len(held["contacts"]), len(held["donations"])) == (
        PEOPLE, PEOPLE // 2, PEOPLE // 3)


async def test_a_worker_killed_while_it_opens_a_chunk_loses_nothing(
        trio: Trio, monkeypatch: pytest.MonkeyPatch) -> None:
    decoder = await decoder_up(trio.a)
    pid = decoder.worker_pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # the first chunk handed to it stays there...
    share_id = await first_sync(trio, monkeypatch)
    await wait_until(lambda: decoder.busy, timeout=30, message="a chunk reaches the worker")
    os.kill(pid, signal.SIGKILL)  # ... until it dies with it: refused, to be sent again
    await wait_until(lambda: decoder.lost, message="the chunk is refused")
    await settled(trio.party, share_id, timeout=60)
    await wait_until(lambda: copies(trio.a, trio.party) == shared(trio.party), timeout=30,
                     message="campaign A holds the party's people")
    assert decoder.lost == 1  # the chunk it held when it died; the next went beside
    await wait_until(decoder.worker_pid, message="a new worker (started by a retried chunk)")
    assert decoder.worker_pid() != pid
    members = trio.a.count("received", "share = ? AND state = 'member'", (share_id,))
    assert members == PEOPLE


def resealed(sender: Org, recipient: Org, envelope: Envelope, body: dict[str, Any]) -> Envelope:
    """`envelope` carrying `body` instead, encrypted and signed with the sender's real
    keys: it passes every check before the decrypt."""
    keys = sender.op.keys
    inner = {"type": envelope.type, "sender": envelope.sender,
             "recipient": envelope.recipient, "id": envelope.id, "body": body}
    box = box_between(keys, recipient.op.keys.box_public)
    ciphertext = box.encrypt(canonical_json(inner), b64u_decode(envelope.nonce)).ciphertext
    unsigned = dataclasses.replace(envelope, ciphertext=b64u_encode(ciphertext))
    return dataclasses.replace(unsigned, signature=b64u_encode(keys.sign(unsigned.signed_bytes())))


def signed_again(envelope: Envelope, keys: NodeKeys) -> Envelope:
    return dataclasses.replace(envelope, signature=b64u_encode(keys.sign(envelope.signed_bytes())))


async def test_hostile_large_envelopes_are_refused_as_in_process_and_change_nothing(
        trio: Trio) -> None:
    party, a = trio.party, trio.a
    share_id = await trio.active(a, fields="name,contacts")
    decoder = await decoder_up(a)
    people = [(uuid7(), 5, f"Name{i}") for i in range(1000)]

    def large(seq: int) -> tuple[ShareBatch, Envelope]:
        batch = dataclasses.replace(make_batch(party, share_id, seq, []), snapshot=chunk(people))
        envelope = sealed(party, a, batch)
        assert len(envelope.ciphertext) >= LARGE
        return batch, envelope

    batch, envelope = large(301)
    flipped = bytearray(envelope.ciphertext_bytes)
    flipped[len(flipped) // 2] ^= 1
    body = batch.to_dict()
    body["snapshot"]["rows"][7][1] = 0  # type: ignore[index]  # version 0
    stranger = NodeKeys(signing_seed=os.urandom(32), box_secret=os.urandom(32))
    hostile = [  # (envelope, status, code, reaches the worker)
        (signed_again(envelope, stranger), 401, "bad_signature", False),
        (dataclasses.replace(envelope, ciphertext=b64u_encode(bytes(flipped))),
         401, "bad_signature", False),
        (signed_again(dataclasses.replace(envelope, ciphertext=b64u_encode(bytes(flipped))),
                      party.op.keys), 400, "decryption_failed", True),
        (resealed(party, a, envelope, body), 400, "malformed", True),
    ]
    before = a.snapshot()
    for forged, status, code, reaches in hostile:
        handed = decoder.handed
        answer = await post_inbox(a, forged)
        assert answer == (status, {"error": code, "message": answer[1]["message"]}), code
        assert decoder.handed == handed + reaches, code
    assert_unchanged(before, a.snapshot())

    # A genuine large chunk goes through the worker; the same bytes again are a replay,
    # refused before anything is decrypted.
    handed = decoder.handed
    assert (await post_inbox(a, envelope))[0] == 200
    assert decoder.handed == handed + 1
    applied = a.snapshot()
    assert len(a.received_people(party)) == len(people)
    status, error = await post_inbox(a, envelope)
    assert (status, error["error"]) == (409, "replayed")
    assert decoder.handed == handed + 1
    assert_unchanged(applied, a.snapshot())


async def test_right_after_a_rotation_the_worker_opens_with_either_keys(trio: Trio) -> None:
    """A has rotated its keys and the party has not heard: a chunk sealed to A's old box
    key opens with the replaced keys (A's key.rotate stays queued for the party); one
    sealed to the new key tells A the party heard (the queued key.rotate is dropped)."""
    party, a = trio.party, trio.a
    share_id = await trio.active(a, fields="name,contacts")
    old_box_key = a.op.keys.box_public
    await party.stop()  # the party cannot hear A's rotation
    key_ops.rotate_keys(a.op)
    decoder = await decoder_up(a)
    people = [(uuid7(), 5, f"Name{i}") for i in range(1000)]

    def rotate_queued() -> int:
        return a.count("outbox", "peer = ? AND type = ?", (party.node_id, KeyRotate.TYPE))

    for seq, box_key, queued in ((401, old_box_key, 1), (402, a.op.keys.box_public, 0)):
        batch = dataclasses.replace(make_batch(party, share_id, seq, []),
                                    snapshot=chunk(people[(seq - 401) * 500:][:500]))
        envelope = seal(sender=party.op.keys, recipient_id=a.node_id, recipient_box_key=box_key,
                        message=batch, message_id=os.urandom(16), nonce=os.urandom(24),
                        created=int(time.time()))
        handed = decoder.handed
        status, _ = await post_inbox(a, envelope)
        assert status == 200 and decoder.handed == handed + 1
        assert rotate_queued() == queued
    assert len(a.received_people(party)) == len(people)
