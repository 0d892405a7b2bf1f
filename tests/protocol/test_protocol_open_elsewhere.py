"""Opening an envelope where our keys are not (node/decoder.py's worker process): with
the shared Box key of us and the sender only, with the same refusals as open_envelope,
and what crosses to and from that process (envelope, message, refusal) intact."""

from __future__ import annotations

import pickle
from dataclasses import replace

import pytest
from protocol_helpers import ALICE_KEYS, BOB_KEYS, MALLORY_KEYS, NOW
from test_protocol_snapshot import batch

from tagshare.protocol import (
    DecryptionFailed,
    Envelope,
    LocalProtocolError,
    MalformedMessage,
    RemoteProtocolError,
    open_envelope,
    open_with_keys,
    open_with_shared_key,
    parse_envelope,
    seal,
    shared_key,
)
from tagshare.protocol.encoding import b64u_encode


def sealed_to(recipient_box_key: bytes) -> Envelope:
    return seal(sender=ALICE_KEYS, recipient_id=BOB_KEYS.node_id,
                recipient_box_key=recipient_box_key, message=batch(),
                message_id=bytes(16), nonce=bytes(24), created=NOW)


def test_the_shared_key_opens_what_the_keys_open() -> None:
    envelope = sealed_to(BOB_KEYS.box_public)
    key = shared_key(BOB_KEYS, ALICE_KEYS.box_public)
    assert key == shared_key(ALICE_KEYS, BOB_KEYS.box_public)  # one key per pair
    opened = open_envelope(envelope, recipient=BOB_KEYS, sender_box_key=ALICE_KEYS.box_public)
    assert open_with_shared_key(envelope, key) == opened == batch()


def test_open_with_keys_takes_the_first_that_opens_and_says_which() -> None:
    current = shared_key(MALLORY_KEYS, ALICE_KEYS.box_public)  # a rotation's new keys
    previous = shared_key(BOB_KEYS, ALICE_KEYS.box_public)
    envelope = sealed_to(BOB_KEYS.box_public)  # sealed to the keys the rotation replaced
    assert open_with_keys(envelope, [previous, current]) == (batch(), 0)
    assert open_with_keys(envelope, [current, previous]) == (batch(), 1)
    with pytest.raises(DecryptionFailed):
        open_with_keys(envelope, [current])
    with pytest.raises(LocalProtocolError):
        open_with_keys(envelope, [])
    with pytest.raises(LocalProtocolError):
        open_with_shared_key(envelope, b"short")


def test_a_tampered_envelope_is_refused_as_open_envelope_refuses_it() -> None:
    envelope = sealed_to(BOB_KEYS.box_public)
    key = shared_key(BOB_KEYS, ALICE_KEYS.box_public)
    flipped = bytearray(envelope.ciphertext_bytes)
    flipped[40] ^= 1
    tampered = replace(envelope, ciphertext=b64u_encode(bytes(flipped)))
    with pytest.raises(DecryptionFailed):
        open_with_shared_key(tampered, key)
    other = replace(envelope, type="share.offer")  # inner header no longer matches
    with pytest.raises(MalformedMessage):
        open_with_shared_key(other, key)


def test_an_envelope_crosses_to_another_process_as_its_wire_fields() -> None:
    envelope = sealed_to(BOB_KEYS.box_public)
    copied = pickle.loads(pickle.dumps(envelope))
    assert copied == envelope and copied.ciphertext_bytes == envelope.ciphertext_bytes
    assert len(pickle.dumps(envelope)) < 1.2 * len(envelope.to_bytes())  # one copy, not two
    assert parse_envelope(envelope.to_bytes()) == copied


def test_messages_and_refusals_cross_back_intact() -> None:
    message = batch()
    assert pickle.loads(pickle.dumps(message)) == message
    for error in (DecryptionFailed("no"), MalformedMessage("bad"),
                  RemoteProtocolError("seen", code="replayed")):
        copied = pickle.loads(pickle.dumps(error))
        assert (type(copied), copied.code, copied.message) == (
            type(error), error.code, error.message)
