from __future__ import annotations

import json
from dataclasses import replace

import pytest
from protocol_helpers import ALICE_KEYS, BOB_KEYS, NOW

from tagshare.protocol import (
    BadSignature,
    LocalProtocolError,
    MalformedMessage,
    NodeDocument,
    StaleMessage,
    TooLarge,
    canonical_json,
    parse_document,
    sign_document,
    verify_document,
)

ALICE_DOC_SIGNATURE = (
    "-wDfFNUZ1uXQ0R4lzZvjucRkvBJkGLKC3bqEjRLmcQJ7SYQNJk7R5fPLJRgOc3b87Lu0KghcJCBuv-LyaZoMBQ"
)


def alice_document() -> NodeDocument:
    return sign_document(
        ALICE_KEYS,
        name="County Party",
        url="https://a.example",
        created=NOW,
        valid_until=1_800_000_000,
    )


def test_exact_signed_bytes_and_signature() -> None:
    doc = alice_document()
    assert doc.signed_bytes() == (
        b'{"box_key":"E75P6uryBMf9M1j8nAByGIHRdCeBKCJ-xnTzf3_pe20","created":1700000000,'
        b'"name":"County Party","node":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg",'
        b'"url":"https://a.example","valid_until":1800000000,"versions":[1]}'
    )
    assert doc.signature == ALICE_DOC_SIGNATURE
    verify_document(doc, now=NOW, expected_node_id=ALICE_KEYS.node_id)


def test_round_trip() -> None:
    doc = alice_document()
    assert NodeDocument.from_dict(doc.to_dict()) == doc
    assert parse_document(canonical_json(doc.to_dict())) == doc
    assert set(doc.to_dict()) == {
        "node", "name", "url", "box_key", "versions", "created", "valid_until", "signature"
    }
    assert doc.box_public == ALICE_KEYS.box_public


def test_verify_rejects_other_node_and_expiry() -> None:
    doc = alice_document()
    with pytest.raises(BadSignature):
        verify_document(doc, now=NOW, expected_node_id=BOB_KEYS.node_id)
    with pytest.raises(StaleMessage):
        verify_document(doc, now=doc.valid_until + 1)
    verify_document(doc, now=doc.valid_until)


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Mallory Party"},
        {"url": "https://evil.example"},
        {"box_key": BOB_KEYS.box_public_b64},
        {"versions": (1, 2)},
        {"created": NOW - 1},
        {"valid_until": 1_900_000_000},
        {"node_id": BOB_KEYS.node_id},
    ],
)
def test_any_tampered_field_breaks_the_signature(change: dict[str, object]) -> None:
    tampered = replace(alice_document(), **change)  # type: ignore[arg-type]
    with pytest.raises(BadSignature):
        verify_document(tampered, now=NOW)


def test_document_signed_by_another_key() -> None:
    bob_signed = sign_document(
        BOB_KEYS, name="County Party", url="https://a.example", created=NOW, valid_until=NOW + 1
    )
    forged = replace(alice_document(), signature=bob_signed.signature)
    with pytest.raises(BadSignature):
        verify_document(forged, now=NOW)


def test_unsigned_document_is_rejected() -> None:
    unsigned = replace(alice_document(), signature="")
    with pytest.raises(BadSignature):
        verify_document(unsigned, now=NOW)
    with pytest.raises(MalformedMessage):
        NodeDocument.from_dict(unsigned.to_dict())


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("node", "nope"),
        ("node", 5),
        ("name", ""),
        ("name", "x" * 201),
        ("name", "line\nbreak"),
        ("url", "ftp://a.example"),
        ("url", "a.example"),
        ("url", "https://a example"),
        ("box_key", "AAAA"),
        ("versions", []),
        ("versions", [1, 1]),
        ("versions", [True]),
        ("versions", "1"),
        ("created", "1700000000"),
        ("created", True),
        ("valid_until", 1_700_000_000),  # not after created
        ("signature", "AAAA"),
    ],
)
def test_from_dict_rejects_bad_fields(key: str, value: object) -> None:
    data = alice_document().to_dict()
    data[key] = value
    with pytest.raises(MalformedMessage):
        NodeDocument.from_dict(data)


def test_from_dict_rejects_missing_and_extra_keys() -> None:
    data = alice_document().to_dict()
    with pytest.raises(MalformedMessage, match="missing"):
        NodeDocument.from_dict({k: v for k, v in data.items() if k != "url"})
    with pytest.raises(MalformedMessage, match="unexpected"):
        NodeDocument.from_dict({**data, "extra": 1})
    with pytest.raises(MalformedMessage):
        NodeDocument.from_dict([data])


def test_parse_document_rejects_bad_bytes() -> None:
    with pytest.raises(MalformedMessage):
        parse_document(b"\xff")
    with pytest.raises(TooLarge):
        parse_document(json.dumps({"name": "x" * 70_000}).encode())


def test_building_an_invalid_document_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        sign_document(ALICE_KEYS, name="", url="https://a.example", created=NOW, valid_until=NOW)
    with pytest.raises(LocalProtocolError):
        replace(alice_document(), versions=[1])  # type: ignore[arg-type]


PIN = "ab" * 32


def test_tls_fingerprint_is_signed_and_round_trips() -> None:
    doc = sign_document(ALICE_KEYS, name="County Party", url="https://a.example",
                        created=NOW, valid_until=1_800_000_000, tls_sha256=PIN)
    assert b'"tls_sha256":"' + PIN.encode() + b'"' in doc.signed_bytes()
    again = parse_document(json.dumps(doc.to_dict()).encode())
    assert again == doc
    verify_document(again, now=NOW)
    # Without it, the document is exactly the one a node without TLS signs (no null key).
    assert "tls_sha256" not in alice_document().to_dict()


def test_a_swapped_tls_fingerprint_breaks_the_signature() -> None:
    doc = sign_document(ALICE_KEYS, name="County Party", url="https://a.example",
                        created=NOW, valid_until=1_800_000_000, tls_sha256=PIN)
    forged = {**doc.to_dict(), "tls_sha256": "cd" * 32}
    with pytest.raises(BadSignature):
        verify_document(parse_document(json.dumps(forged).encode()), now=NOW)
    stripped = {k: v for k, v in doc.to_dict().items() if k != "tls_sha256"}
    with pytest.raises(BadSignature):  # nor can a man in the middle drop the pin
        verify_document(parse_document(json.dumps(stripped).encode()), now=NOW)


@pytest.mark.parametrize("value", ["AB" * 32, "ab" * 31, "ab" * 33, "zz" * 32, 7, None, ""])
def test_a_malformed_tls_fingerprint_is_refused(value: object) -> None:
    data = {**alice_document().to_dict(), "tls_sha256": value}
    with pytest.raises(MalformedMessage):
        parse_document(json.dumps(data).encode())
