from __future__ import annotations

import json
from dataclasses import replace

import pytest
from protocol_helpers import ALICE_KEYS, BOB_KEYS, MALLORY_KEYS, NOW, ConnectionPair

from tagshare.protocol import (
    BadInvite,
    BadSignature,
    InviteToken,
    LocalProtocolError,
    MalformedMessage,
    PairAccept,
    PairRequest,
    Ping,
    StaleMessage,
    WrongRecipient,
    b64u_decode,
    b64u_encode,
    canonical_json,
    check_clock,
    check_invite_expiry,
    check_pair_accept,
    check_pair_request,
    check_recipient,
    hash_secret,
    make_invite,
    make_pair_request,
    open_envelope,
    parse_envelope,
    parse_pair_request,
    seal,
    secret_matches,
    sign_document,
    verify_envelope,
    verify_inviter_document,
)

INVITE_ID = bytes([1]) * 16
SECRET = bytes([2]) * 16
GOLDEN_TOKEN = (
    "tagshare1:eyJib3hfa2V5IjoiRTc1UDZ1cnlCTWY5TTFqOG5BQnlHSUhSZENlQktDSi14blR6ZjNfcGUyMCIsImV4"
    "cGlyZXMiOjE3MDAwMDM2MDAsImludml0ZSI6IkFRRUJBUUVCQVFFQkFRRUJBUUVCQVEiLCJub2RlIjoiQTZFSHZfUE9F"
    "TDRkY04wWTUwdkFtV2ZrMWpDYnBRMWZIZHlHWkJKVk1iZyIsInNlY3JldCI6IkFnSUNBZ0lDQWdJQ0FnSUNBZ0lDQWci"
    "LCJ1cmwiOiJodHRwczovL2EuZXhhbXBsZSJ9"
)


def alice_token() -> InviteToken:
    return make_invite(
        keys=ALICE_KEYS,
        url="https://a.example",
        invite_id=INVITE_ID,
        secret=SECRET,
        expires=NOW + 3600,
    )


def test_exact_token() -> None:
    token = alice_token()
    assert token.encode() == GOLDEN_TOKEN
    assert token.node_id == ALICE_KEYS.node_id
    assert token.box_public == ALICE_KEYS.box_public
    assert token.secret_bytes == SECRET


def test_token_round_trip_and_whitespace() -> None:
    token = alice_token()
    assert InviteToken.decode(token.encode()) == token
    assert InviteToken.decode(f"  \n{token.encode()}\r\n ") == token


def tokens_with(**changes: object) -> str:
    data = alice_token().to_dict()
    data.update(changes)
    return "tagshare1:" + b64u_encode(json.dumps(data).encode())


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tagshare1:",
        "tagshare2:" + GOLDEN_TOKEN[10:],
        GOLDEN_TOKEN[:-5],
        GOLDEN_TOKEN + "=",
        GOLDEN_TOKEN[:40] + "!" + GOLDEN_TOKEN[41:],
        "tagshare1:" + b64u_encode(b"not json"),
        "tagshare1:" + b64u_encode(b"[]"),
        tokens_with(url="gopher://a.example"),
        tokens_with(node="x"),
        tokens_with(box_key="AAAA"),
        tokens_with(invite="AAAA"),
        tokens_with(secret=b64u_encode(bytes(15))),
        tokens_with(expires="soon"),
        tokens_with(expires=1.5),
        tokens_with(extra=True),
        "tagshare1:" + "A" * 10_000,
    ],
)
def test_garbled_tokens(text: str) -> None:
    with pytest.raises(BadInvite):
        InviteToken.decode(text)


def test_decode_non_text() -> None:
    with pytest.raises(BadInvite):
        InviteToken.decode(None)  # type: ignore[arg-type]


def test_expired_token() -> None:
    token = alice_token()
    check_invite_expiry(token, now=token.expires)
    with pytest.raises(BadInvite, match="expired"):
        check_invite_expiry(token, now=token.expires + 1)


def test_make_invite_rejects_bad_lengths() -> None:
    with pytest.raises(LocalProtocolError):
        make_invite(keys=ALICE_KEYS, url="https://a", invite_id=bytes(8), secret=SECRET, expires=1)


def test_secret_hash() -> None:
    stored = hash_secret(SECRET)
    assert stored == "5570a0a1d6189c491390e7d0406aac87e6a7bbf9e0aa81f6758021342c668b90"
    assert secret_matches(SECRET, stored)
    assert not secret_matches(bytes(16), stored)
    assert not secret_matches(SECRET, stored.upper())
    assert not secret_matches(SECRET, "é" * 64)


# --- the pairing flow, both sides in memory --------------------------------


def test_pairing_flow_end_to_end() -> None:
    pair = ConnectionPair()
    alice, bob = pair.alice, pair.bob
    # Inviter (Alice) makes a token and stores the secret hash.
    token = make_invite(
        keys=alice.keys, url=alice.url, invite_id=INVITE_ID, secret=SECRET, expires=NOW + 3600
    )
    stored_hash = hash_secret(SECRET)
    # Joiner (Bob) decodes it, fetches and checks Alice's document.
    token = InviteToken.decode(token.encode())
    check_invite_expiry(token, now=NOW)
    verify_inviter_document(alice.document, token, now=NOW)
    body = make_pair_request(
        joiner=bob.keys,
        joiner_document=bob.document,
        token=token,
        message_id=bytes([3]) * 16,
        nonce=bytes([4]) * 24,
        created=NOW,
    )
    # Inviter side.
    document, envelope = parse_pair_request(body, now=NOW)
    check_recipient(envelope, alice.keys.node_id)
    verify_envelope(envelope)
    check_clock(envelope, now=NOW)
    message = open_envelope(envelope, recipient=alice.keys, sender_box_key=document.box_public)
    request = check_pair_request(message, document=document)
    assert request.invite_id == b64u_encode(INVITE_ID)
    assert secret_matches(b64u_decode(request.secret), stored_hash)
    reply = seal(
        sender=alice.keys,
        recipient_id=document.node_id,
        recipient_box_key=document.box_public,
        message=PairAccept(document=alice.document),
        message_id=bytes([5]) * 16,
        nonce=bytes([6]) * 24,
        created=NOW,
    ).to_bytes()
    # Joiner opens the reply with the token's key.
    env = parse_envelope(reply)
    check_recipient(env, bob.keys.node_id)
    verify_envelope(env)
    check_clock(env, now=NOW)
    accept = open_envelope(env, recipient=bob.keys, sender_box_key=token.box_public)
    assert check_pair_accept(accept, token=token, now=NOW) == alice.document


def pair_body() -> bytes:
    """Bob's pair request to Alice (document valid for 60 s)."""
    document = sign_document(
        BOB_KEYS, name="Joiner", url="https://j.example", created=NOW, valid_until=NOW + 60
    )
    return make_pair_request(
        joiner=BOB_KEYS,
        joiner_document=document,
        token=alice_token(),
        message_id=bytes(16),
        nonce=bytes(24),
        created=NOW,
    )


def test_parse_pair_request_rejects_a_document_of_another_node() -> None:
    data = json.loads(pair_body())
    data["document"] = ConnectionPair().alice.document.to_dict()
    with pytest.raises(BadSignature):
        parse_pair_request(canonical_json(data))


def test_parse_pair_request_rejects_a_forged_document() -> None:
    data = json.loads(pair_body())
    data["document"]["name"] = "Someone Else"
    with pytest.raises(BadSignature):
        parse_pair_request(canonical_json(data))


def test_parse_pair_request_rejects_an_expired_document_when_given_now() -> None:
    body = pair_body()
    parse_pair_request(body)
    with pytest.raises(StaleMessage):
        parse_pair_request(body, now=NOW + 61)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: {**d, "extra": 1},
        lambda d: {"document": d["document"]},
        lambda d: {**d, "envelope": None},
        lambda d: {**d, "document": "x"},
        lambda d: [d],
    ],
)
def test_parse_pair_request_rejects_bad_shapes(change) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MalformedMessage):
        parse_pair_request(canonical_json(change(json.loads(pair_body()))))


def test_pair_request_to_the_wrong_node() -> None:
    _, envelope = parse_pair_request(pair_body())
    with pytest.raises(WrongRecipient):
        check_recipient(envelope, MALLORY_KEYS.node_id)


def test_verify_inviter_document_rejects_mismatches() -> None:
    token = alice_token()
    alice_doc = ConnectionPair().alice.document
    with pytest.raises(BadSignature):
        verify_inviter_document(ConnectionPair().bob.document, token, now=NOW)
    with pytest.raises(BadInvite):
        verify_inviter_document(alice_doc, replace(token, box_key=BOB_KEYS.box_public_b64), now=NOW)
    with pytest.raises(StaleMessage):
        verify_inviter_document(alice_doc, token, now=alice_doc.valid_until + 1)


def test_check_pair_helpers_reject_wrong_messages() -> None:
    pair = ConnectionPair()
    with pytest.raises(BadInvite):
        check_pair_accept(Ping(), token=alice_token(), now=NOW)
    with pytest.raises(BadInvite):
        check_pair_request(PairAccept(document=pair.bob.document), document=pair.bob.document)
    request = PairRequest(
        invite_id=b64u_encode(INVITE_ID), secret=b64u_encode(SECRET), document=pair.bob.document
    )
    with pytest.raises(BadInvite):
        check_pair_request(request, document=pair.alice.document)
    with pytest.raises(BadSignature):  # Bob's document, not the inviter's
        check_pair_accept(PairAccept(document=pair.bob.document), token=alice_token(), now=NOW)


def test_make_pair_request_needs_the_joiners_signed_document() -> None:
    with pytest.raises(LocalProtocolError):
        make_pair_request(
            joiner=BOB_KEYS,
            joiner_document=ConnectionPair().alice.document,
            token=alice_token(),
            message_id=bytes(16),
            nonce=bytes(24),
            created=NOW,
        )
