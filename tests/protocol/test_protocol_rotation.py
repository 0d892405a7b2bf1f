"""Key chains: a rotation is signed by the old key and the new; verifiers walk the chain."""

from __future__ import annotations

from dataclasses import replace

import pytest
from protocol_helpers import ALICE_KEYS

from tagshare.protocol import (
    BadSignature,
    KeyRotate,
    NodeKeys,
    check_rotation,
    current_key,
    make_link,
    parse_document,
    sign_document,
    verify_document,
)
from tagshare.protocol.encoding import canonical_json

NOW = 1_700_000_000
NEW = NodeKeys(signing_seed=bytes([9]) * 32, box_secret=bytes([10]) * 32,
               identity=ALICE_KEYS.node_id)
NEWER = NodeKeys(signing_seed=bytes([11]) * 32, box_secret=bytes([12]) * 32,
                 identity=ALICE_KEYS.node_id)
STRANGER = NodeKeys(signing_seed=bytes([13]) * 32, box_secret=bytes([14]) * 32)


def _chain() -> tuple:  # type: ignore[type-arg]
    first = make_link(node_id=ALICE_KEYS.node_id, previous=ALICE_KEYS, new=NEW, created=NOW)
    second = make_link(node_id=ALICE_KEYS.node_id, previous=NEW, new=NEWER, created=NOW + 1)
    return first, second


def _document(keys: NodeKeys, links: tuple) -> object:  # type: ignore[type-arg]
    return sign_document(keys, name="Alice", url="https://alice.example", created=NOW,
                         valid_until=NOW + 3600, links=links)


def test_identity_stays_while_the_signing_key_moves() -> None:
    assert NEW.node_id == ALICE_KEYS.node_id
    assert NEW.signing_key_id != ALICE_KEYS.signing_key_id


def test_the_chain_leads_to_the_current_key_and_survives_the_wire() -> None:
    links = _chain()
    assert current_key(ALICE_KEYS.node_id, links) == NEWER.signing_key_id
    document = _document(NEWER, links)
    again = parse_document(canonical_json(document.to_dict()))  # type: ignore[attr-defined]
    assert again == document
    verify_document(again, now=NOW)


def test_an_unrotated_document_has_no_keys_field() -> None:
    document = _document(ALICE_KEYS, ())
    assert "keys" not in document.to_dict()  # type: ignore[attr-defined]


@pytest.mark.parametrize("damage", ["signature", "proof", "order", "stranger"])
def test_a_broken_chain_is_refused(damage: str) -> None:
    first, second = _chain()
    if damage == "signature":
        second = replace(second, signature=first.signature)
    elif damage == "proof":
        second = replace(second, proof=first.proof)
    elif damage == "order":
        second = replace(second, created=NOW - 1)
    else:  # a stranger hands the identity to its own key
        second = make_link(node_id=ALICE_KEYS.node_id, previous=STRANGER, new=NEWER,
                           created=NOW + 1)
    with pytest.raises(BadSignature):
        current_key(ALICE_KEYS.node_id, (first, second))


def test_a_document_signed_by_a_rotated_out_key_is_refused() -> None:
    document = _document(NEW, _chain())  # signed by NEW, but the chain ends in NEWER
    with pytest.raises(BadSignature):
        verify_document(document, now=NOW)  # type: ignore[arg-type]


def test_a_rotation_must_continue_from_the_key_the_peer_knows() -> None:
    message = KeyRotate(document=_document(NEWER, _chain()))  # type: ignore[arg-type]
    assert check_rotation(message, sender=ALICE_KEYS.node_id,
                          known_key=ALICE_KEYS.node_id) == NEWER.signing_key_id
    assert check_rotation(message, sender=ALICE_KEYS.node_id,
                          known_key=NEW.signing_key_id) == NEWER.signing_key_id
    with pytest.raises(BadSignature):
        check_rotation(message, sender=ALICE_KEYS.node_id, known_key=NEWER.signing_key_id)
    with pytest.raises(BadSignature):
        check_rotation(message, sender=STRANGER.node_id, known_key=ALICE_KEYS.node_id)
