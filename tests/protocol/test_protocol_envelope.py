from __future__ import annotations

import json
from dataclasses import replace

import nacl.public
import pytest
from protocol_helpers import ALICE_KEYS, BOB_KEYS, MALLORY_KEYS, NOW, ConnectionPair, receive

from tagshare.protocol import (
    Ack,
    BadSignature,
    DecryptionFailed,
    Envelope,
    LocalProtocolError,
    MalformedMessage,
    Ping,
    StaleMessage,
    TooLarge,
    UnsupportedVersion,
    WrongRecipient,
    b64u_decode,
    b64u_encode,
    canonical_json,
    check_clock,
    check_recipient,
    message_id_of,
    open_envelope,
    parse_envelope,
    seal,
    verify_envelope,
)
from tagshare.protocol.encoding import MAX_MESSAGE_BYTES

# Golden values: seal(Ping) from ALICE_KEYS to BOB_KEYS, message id 16 zero
# bytes, nonce 24 zero bytes, created 1700000000.
GOLDEN_PING = (
    b'{"ciphertext":"PaQC3dhUIB-SNKv6lE2H5qUtczBl7FLYC0wCQVWEy5Wvo8kP_MIxyYKRDVnB9rVFIk_a1XquNLbPCv'
    b"C7uemQ3nGaunJ7kWyj8toFVhbx_GdK_yJYmIRC3BohxKv9JorKLHHIcJGvaJH0dqB49J-sUvOA-BawXnsWQ4dnPJIsuo"
    b'EddhLcXGOk2cMX3Svlb8XYgZ5phJ-tXJ-8A0a5KKwpksZbYnaIjQt5P77BdIJF8216v3nCmDa3jg","created":170'
    b'0000000,"id":"AAAAAAAAAAAAAAAAAAAAAA","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","recipient'
    b'":"6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw","sender":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHd'
    b'yGZBJVMbg","signature":"wl0hTNyb0Utr5EYsxpW0P_vuTJUGi9tmOncIZ_CW-Xhfm3JrbROOTwGDoVje0-R9iR8L'
    b'YVdlpPzFOaAl4gkRAQ","type":"ping","v":1}'
)
GOLDEN_PLAINTEXT = (
    b'{"body":{},"id":"AAAAAAAAAAAAAAAAAAAAAA","recipient":"6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qa'
    b'RRG0iw","sender":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg","type":"ping"}'
)


def golden_ping() -> Envelope:
    return seal(
        sender=ALICE_KEYS,
        recipient_id=BOB_KEYS.node_id,
        recipient_box_key=BOB_KEYS.box_public,
        message=Ping(),
        message_id=bytes(16),
        nonce=bytes(24),
        created=NOW,
    )


def test_exact_envelope_bytes() -> None:
    env = golden_ping()
    assert env.to_bytes() == GOLDEN_PING
    unsigned = json.loads(GOLDEN_PING)
    del unsigned["signature"]
    assert env.signed_bytes() == canonical_json(unsigned)
    assert env.v == env.version == 1
    assert message_id_of(env) == "AAAAAAAAAAAAAAAAAAAAAA"


def test_ciphertext_is_box_of_the_inner_header_without_nonce_prefix() -> None:
    env = golden_ping()
    box = nacl.public.Box(
        nacl.public.PrivateKey(BOB_KEYS.box_secret), nacl.public.PublicKey(ALICE_KEYS.box_public)
    )
    assert box.decrypt(b64u_decode(env.ciphertext), bytes(24)) == GOLDEN_PLAINTEXT
    assert len(b64u_decode(env.ciphertext)) == len(GOLDEN_PLAINTEXT) + 16


def test_full_receive_path() -> None:
    assert receive(BOB_KEYS, ALICE_KEYS.box_public, GOLDEN_PING) == Ping()


def test_round_trip_through_connection_pair() -> None:
    pair = ConnectionPair()
    raw = pair.send(pair.alice, Ping())
    assert pair.receive(pair.bob, raw) == Ping()
    env = parse_envelope(raw)
    ack = Ack(message_id=message_id_of(env), status="ok")
    assert pair.receive(pair.alice, pair.send(pair.bob, ack)) == ack
    assert Envelope.from_dict(env.to_dict()) == env


def test_wrong_recipient() -> None:
    env = parse_envelope(GOLDEN_PING)
    with pytest.raises(WrongRecipient):
        check_recipient(env, ALICE_KEYS.node_id)
    with pytest.raises(WrongRecipient):
        open_envelope(env, recipient=MALLORY_KEYS, sender_box_key=ALICE_KEYS.box_public)


def tampered(**changes: object) -> Envelope:
    return replace(parse_envelope(GOLDEN_PING), **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "ack"},
        {"sender": MALLORY_KEYS.node_id},
        {"recipient": MALLORY_KEYS.node_id},
        {"id": b64u_encode(bytes([1]) * 16)},
        {"created": NOW + 1},
        {"nonce": b64u_encode(bytes([1]) * 24)},
        {"ciphertext": b64u_encode(b"\x00" * 40)},
    ],
)
def test_tampering_any_signed_field_breaks_the_signature(changes: dict[str, object]) -> None:
    with pytest.raises(BadSignature):
        verify_envelope(tampered(**changes))


def test_signature_by_another_key() -> None:
    env = parse_envelope(GOLDEN_PING)
    forged = replace(env, signature=b64u_encode(MALLORY_KEYS.sign(env.signed_bytes())))
    with pytest.raises(BadSignature):
        verify_envelope(forged)


def test_tampered_ciphertext_fails_decryption() -> None:
    env = parse_envelope(GOLDEN_PING)
    ciphertext = bytearray(b64u_decode(env.ciphertext))
    ciphertext[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        open_envelope(
            replace(env, ciphertext=b64u_encode(bytes(ciphertext))),
            recipient=BOB_KEYS,
            sender_box_key=ALICE_KEYS.box_public,
        )


def test_wrong_sender_box_key_fails_decryption() -> None:
    with pytest.raises(DecryptionFailed):
        open_envelope(
            parse_envelope(GOLDEN_PING), recipient=BOB_KEYS, sender_box_key=MALLORY_KEYS.box_public
        )


def hand_sealed(inner: object, *, outer_type: str = "ping") -> Envelope:
    """An envelope whose encrypted inner header is whatever the test wants."""
    box = nacl.public.Box(
        nacl.public.PrivateKey(ALICE_KEYS.box_secret), nacl.public.PublicKey(BOB_KEYS.box_public)
    )
    plaintext = inner if isinstance(inner, bytes) else canonical_json(inner)
    unsigned = {
        "v": 1,
        "type": outer_type,
        "sender": ALICE_KEYS.node_id,
        "recipient": BOB_KEYS.node_id,
        "id": b64u_encode(bytes(16)),
        "created": NOW,
        "nonce": b64u_encode(bytes(24)),
        "ciphertext": b64u_encode(box.encrypt(plaintext, bytes(24)).ciphertext),
    }
    signature = b64u_encode(ALICE_KEYS.sign(canonical_json(unsigned)))
    env = Envelope.from_dict({**unsigned, "signature": signature})
    verify_envelope(env)
    return env


INNER = {
    "type": "ping",
    "sender": ALICE_KEYS.node_id,
    "recipient": BOB_KEYS.node_id,
    "id": b64u_encode(bytes(16)),
    "body": {},
}


def test_hand_sealed_control_case_opens() -> None:
    assert open_envelope(
        hand_sealed(INNER), recipient=BOB_KEYS, sender_box_key=ALICE_KEYS.box_public
    ) == Ping()


@pytest.mark.parametrize(
    "inner",
    [
        {**INNER, "recipient": MALLORY_KEYS.node_id},  # re-addressed
        {**INNER, "sender": MALLORY_KEYS.node_id},  # forwarded
        {**INNER, "id": b64u_encode(bytes([1]) * 16)},
        {**INNER, "type": "ack"},
    ],
)
def test_inner_header_mismatch(inner: dict[str, object]) -> None:
    with pytest.raises(MalformedMessage, match="inner header mismatch"):
        open_envelope(hand_sealed(inner), recipient=BOB_KEYS, sender_box_key=ALICE_KEYS.box_public)


@pytest.mark.parametrize(
    ("inner", "outer_type"),
    [
        ({k: v for k, v in INNER.items() if k != "body"}, "ping"),
        ({**INNER, "extra": 1}, "ping"),
        ({**INNER, "body": {"x": 1}}, "ping"),
        ({**INNER, "type": "unknown.type"}, "unknown.type"),
        (b"not json", "ping"),
        (b"[]", "ping"),
    ],
)
def test_bad_inner_plaintext(inner: object, outer_type: str) -> None:
    env = hand_sealed(inner, outer_type=outer_type)
    with pytest.raises(MalformedMessage):
        open_envelope(env, recipient=BOB_KEYS, sender_box_key=ALICE_KEYS.box_public)


@pytest.mark.parametrize("offset", [-601, -301, 301, 600, 601])
def test_stale(offset: int) -> None:
    with pytest.raises(StaleMessage):
        check_clock(parse_envelope(GOLDEN_PING), now=NOW + offset)


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_clock_window_edges_accepted(offset: int) -> None:
    check_clock(parse_envelope(GOLDEN_PING), now=NOW + offset)


def test_stale_through_full_path_plus_minus_ten_minutes() -> None:
    pair = ConnectionPair()
    for created in (NOW - 600, NOW + 600):
        with pytest.raises(StaleMessage):
            pair.receive(pair.bob, pair.send(pair.alice, Ping(), created=created))


def wire() -> dict[str, object]:
    data = json.loads(GOLDEN_PING)
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("version", [0, 2, 99])
def test_unsupported_version(version: int) -> None:
    with pytest.raises(UnsupportedVersion):
        parse_envelope(json.dumps({**wire(), "v": version}).encode())
    # A future version may change the shape, and is still reported as a version problem.
    with pytest.raises(UnsupportedVersion):
        parse_envelope(json.dumps({"v": version, "whatever": True}).encode())


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("v", "1"),
        ("v", True),
        ("type", "PING"),
        ("type", ""),
        ("type", 5),
        ("sender", "abc"),
        ("recipient", None),
        ("id", "AAAA"),
        ("id", "AAAAAAAAAAAAAAAAAAAAAA=="),
        ("created", 1.5),
        ("created", -1),
        ("created", "1700000000"),
        ("nonce", "AAAA"),
        ("ciphertext", ""),
        ("ciphertext", "!!!"),
        ("signature", "AAAA"),
        ("signature", "+" * 86),
    ],
)
def test_parse_rejects_bad_fields(key: str, value: object) -> None:
    with pytest.raises(MalformedMessage):
        parse_envelope(json.dumps({**wire(), key: value}).encode())


@pytest.mark.parametrize("key", sorted(json.loads(GOLDEN_PING)))
def test_parse_rejects_missing_keys(key: str) -> None:
    data = wire()
    del data[key]
    with pytest.raises(MalformedMessage):
        parse_envelope(json.dumps(data).encode())


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({**json.loads(GOLDEN_PING), "extra": 1}).encode(),
        GOLDEN_PING.replace(b'"v":1}', b'"v":1,"v":1}'),
        GOLDEN_PING.replace(b"1700000000", b"1700000000.0"),
        b"\xff" + GOLDEN_PING,
        b"[" * 100_000,
        b"[]",
        b"null",
    ],
)
def test_parse_rejects_bad_json(raw: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_envelope(raw)


def test_parse_rejects_too_large() -> None:
    with pytest.raises(TooLarge):
        parse_envelope(GOLDEN_PING + b" " * MAX_MESSAGE_BYTES)


def test_seal_rejects_bad_arguments() -> None:
    kwargs: dict[str, object] = {
        "sender": ALICE_KEYS,
        "recipient_id": BOB_KEYS.node_id,
        "recipient_box_key": BOB_KEYS.box_public,
        "message": Ping(),
        "message_id": bytes(16),
        "nonce": bytes(24),
        "created": NOW,
    }
    for key, value in [
        ("recipient_id", "bob"),
        ("recipient_box_key", bytes(31)),
        ("message_id", bytes(15)),
        ("nonce", bytes(23)),
        ("created", -1),
        ("message", {"type": "ping"}),
    ]:
        with pytest.raises(LocalProtocolError):
            seal(**{**kwargs, key: value})  # type: ignore[arg-type]
