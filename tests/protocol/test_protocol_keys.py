from __future__ import annotations

import pytest
from protocol_helpers import ALICE_KEYS, BOB_KEYS

from tagshare.protocol import (
    BadSignature,
    LocalProtocolError,
    MalformedMessage,
    NodeKeys,
    b64u_encode,
    fingerprint,
    is_node_id,
    verify_key_from_node_id,
    verify_signature,
)

ALICE_ID = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"
BOB_ID = "6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw"


def test_exact_node_ids_and_box_keys() -> None:
    assert ALICE_KEYS.node_id == ALICE_ID
    assert BOB_KEYS.node_id == BOB_ID
    assert ALICE_KEYS.box_public_b64 == "E75P6uryBMf9M1j8nAByGIHRdCeBKCJ-xnTzf3_pe20"
    assert BOB_KEYS.box_public_b64 == "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8"
    assert len(ALICE_KEYS.node_id) == 43
    assert b64u_encode(ALICE_KEYS.box_public) == ALICE_KEYS.box_public_b64


def test_exact_fingerprints() -> None:
    assert fingerprint(ALICE_ID) == "5647 5AA7 5463 474C 0285 DF5D BF2B CAB7 3DA6 5135"
    assert fingerprint(BOB_ID) == "FE81 2C12 F3AB 4CE6 AC5D B69A C352 F906 CB1B 11EF"


def test_exact_signature() -> None:
    signature = ALICE_KEYS.sign(b"tagshare")
    assert b64u_encode(signature) == (
        "2lRj9gKdEHUOVWyHifbA-5jJf1kWzkFZaNynxLjJ6fHxNmExAnW9IQo218uuTlzlEfegnUOnaJfD8_gh-M2yBQ"
    )
    verify_signature(ALICE_ID, b"tagshare", signature)


def test_verify_signature_rejects() -> None:
    signature = ALICE_KEYS.sign(b"tagshare")
    with pytest.raises(BadSignature):
        verify_signature(ALICE_ID, b"tagsharE", signature)
    with pytest.raises(BadSignature):
        verify_signature(BOB_ID, b"tagshare", signature)
    with pytest.raises(BadSignature):
        verify_signature(ALICE_ID, b"tagshare", signature[:-1])
    with pytest.raises(BadSignature):
        verify_signature("not-a-node-id", b"tagshare", signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(BadSignature):
        verify_signature(ALICE_ID, b"tagshare", flipped)


def test_seeds_stay_out_of_repr() -> None:
    text = repr(ALICE_KEYS)
    assert ALICE_ID in text
    assert "signing_seed" not in text and "box_secret" not in text
    assert repr(bytes(range(32))) not in text


@pytest.mark.parametrize(
    "seeds", [(b"short", bytes(32)), (bytes(32), bytes(33)), ("x" * 32, bytes(32))]
)
def test_node_keys_validate_lengths(seeds: tuple[object, object]) -> None:
    with pytest.raises(LocalProtocolError):
        NodeKeys(*seeds)  # type: ignore[arg-type]


def test_is_node_id() -> None:
    assert is_node_id(ALICE_ID)
    assert not is_node_id(ALICE_ID + "A")
    assert not is_node_id(ALICE_ID[:-1])
    assert not is_node_id(ALICE_ID[:-1] + "+")
    assert not is_node_id(ALICE_ID[:-1] + "h")  # non-zero trailing bits
    assert not is_node_id(42)  # type: ignore[arg-type]


def test_verify_key_from_node_id() -> None:
    assert bytes(verify_key_from_node_id(ALICE_ID)) == bytes(
        ALICE_KEYS._signing_key.verify_key
    )
    with pytest.raises(MalformedMessage):
        verify_key_from_node_id("AAAA")
    with pytest.raises(MalformedMessage):
        fingerprint("AAAA")
