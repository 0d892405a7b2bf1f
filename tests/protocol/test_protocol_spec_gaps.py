"""Rules a second implementer found only in the code, now in docs/protocol.md: the
`pull_only` flag of a node document, where the 64 KiB document limit is measured,
what an ack must say to settle a message, and that a pull hands out `key.rotate`."""

from __future__ import annotations

from pathlib import Path

import pytest
from protocol_helpers import ALICE_KEYS, BOB_KEYS, NOW, signed_offer

from tagshare.protocol import (
    Ack,
    BadSignature,
    KeyRotate,
    MalformedMessage,
    NodeDocument,
    NodeKeys,
    NotAcknowledged,
    OutboxAck,
    OutboxEntry,
    OutboxItems,
    ShareBatch,
    b64u_encode,
    canonical_json,
    check_ack,
    make_link,
    message_from_dict,
    parse_document,
    sign_document,
    verify_document,
)
from tagshare.protocol.document import MAX_DOCUMENT_BYTES

SHARE = "0190abcd-0000-7000-8000-000000000001"
EPOCH = b64u_encode(bytes(16))
MESSAGE_ID = b64u_encode(bytes(16))


def document(**changes: object) -> NodeDocument:
    options: dict[str, object] = {"name": "Campaign", "url": "https://b.example",
                                  "created": NOW, "valid_until": NOW + 1000, **changes}
    return sign_document(BOB_KEYS, **options)  # type: ignore[arg-type]


# -- pull_only ----------------------------------------------------------------------


def test_a_pull_only_document_says_so_and_signs_it() -> None:
    doc = document(pull_only=True)
    wire = doc.to_dict()
    assert wire["pull_only"] is True
    assert b'"pull_only":true' in doc.signed_bytes()
    parsed = parse_document(canonical_json(wire))
    assert parsed.pull_only and parsed == doc
    verify_document(parsed, now=NOW, expected_node_id=BOB_KEYS.node_id)


def test_a_reachable_document_has_no_pull_only_key() -> None:
    assert "pull_only" not in document().to_dict()


def test_pull_only_is_written_only_as_true() -> None:
    wire = document().to_dict()
    for value in (False, 1, "true", None):
        with pytest.raises(MalformedMessage):
            NodeDocument.from_dict({**wire, "pull_only": value})


def test_pull_only_cannot_be_added_or_dropped_without_the_key() -> None:
    reachable, hidden = document().to_dict(), document(pull_only=True).to_dict()
    forged = NodeDocument.from_dict({**reachable, "pull_only": True})
    with pytest.raises(BadSignature):
        verify_document(forged, now=NOW)
    dropped = NodeDocument.from_dict({k: v for k, v in hidden.items() if k != "pull_only"})
    with pytest.raises(BadSignature):
        verify_document(dropped, now=NOW)


# -- the 64 KiB document limit, wherever a document travels -------------------------


def _oversized_document(keys: NodeKeys = BOB_KEYS) -> dict[str, object]:
    """A validly signed document whose canonical JSON is just over 64 KiB."""
    count = MAX_DOCUMENT_BYTES // 6
    doc = sign_document(keys, name="Campaign", url="https://b.example", created=NOW,
                        valid_until=NOW + 1000, versions=tuple(range(10_000, 10_000 + count)))
    assert len(canonical_json(doc.to_dict())) > MAX_DOCUMENT_BYTES
    return doc.to_dict()


def test_the_document_limit_is_measured_on_the_canonical_json_inside_messages() -> None:
    wire = _oversized_document()
    with pytest.raises(MalformedMessage, match="over 65536 bytes"):
        NodeDocument.from_dict(wire)
    with pytest.raises(MalformedMessage):
        message_from_dict("pair.accept", {"document": wire})
    with pytest.raises(MalformedMessage):
        message_from_dict("pair.request", {"invite_id": MESSAGE_ID, "secret": MESSAGE_ID,
                                           "document": wire})


def test_a_key_rotate_with_an_oversized_document_is_malformed() -> None:
    new = NodeKeys(signing_seed=bytes([9]) * 32, box_secret=bytes([8]) * 32,
                   identity=ALICE_KEYS.node_id)
    link = make_link(node_id=ALICE_KEYS.node_id, previous=ALICE_KEYS, new=new, created=NOW)
    count = MAX_DOCUMENT_BYTES // 6
    doc = sign_document(new, name="County", url="https://a.example", created=NOW,
                        valid_until=NOW + 1000, links=(link,),
                        versions=tuple(range(10_000, 10_000 + count)))
    with pytest.raises(MalformedMessage):
        message_from_dict("key.rotate", {"document": doc.to_dict()})
    fits = sign_document(new, name="County", url="https://a.example", created=NOW,
                         valid_until=NOW + 1000, links=(link,))
    assert message_from_dict("key.rotate", {"document": fits.to_dict()}) == KeyRotate(fits)


# -- key.rotate travels by pull too -------------------------------------------------


def test_a_pull_answer_can_carry_the_granters_key_rotation() -> None:
    new = NodeKeys(signing_seed=bytes([9]) * 32, box_secret=bytes([8]) * 32,
                   identity=ALICE_KEYS.node_id)
    link = make_link(node_id=ALICE_KEYS.node_id, previous=ALICE_KEYS, new=new, created=NOW)
    doc = sign_document(new, name="County", url="https://a.example", created=NOW,
                        valid_until=NOW + 1000, links=(link,))
    items = OutboxItems(entries=(OutboxEntry(ref=7, message=KeyRotate(doc)),))
    assert OutboxItems.from_dict(items.to_dict()) == items


# -- acks -----------------------------------------------------------------------------


def _batch(seq: int = 3) -> ShareBatch:
    return ShareBatch(share=SHARE, epoch=EPOCH, seq=seq, terms=1, items=())


def _ack(detail: dict[str, object] | None = None, ack_status: str = "ok") -> Ack:
    return Ack(message_id=MESSAGE_ID, status=ack_status, detail=detail or {})


GOOD_BATCH_DETAIL = {"share": SHARE, "seq": 3, "applied": 0, "status": "active"}


def test_a_matching_successful_ack_settles_a_batch() -> None:
    check_ack(_batch(), _ack(GOOD_BATCH_DETAIL))
    check_ack(_batch(), _ack({**GOOD_BATCH_DETAIL, "extra": "ignored"}))


@pytest.mark.parametrize("detail", [
    {},
    {**GOOD_BATCH_DETAIL, "seq": 4},
    {**GOOD_BATCH_DETAIL, "seq": "3"},
    {**GOOD_BATCH_DETAIL, "share": SHARE.replace("1", "2")},
    {**GOOD_BATCH_DETAIL, "applied": -1},
    {**GOOD_BATCH_DETAIL, "applied": True},
    {**GOOD_BATCH_DETAIL, "applied": None},
    {**GOOD_BATCH_DETAIL, "status": "revoked"},
    {k: v for k, v in GOOD_BATCH_DETAIL.items() if k != "status"},
])
def test_a_batch_ack_that_does_not_match_settles_nothing(detail: dict[str, object]) -> None:
    with pytest.raises(NotAcknowledged):
        check_ack(_batch(), _ack(detail))


def test_an_error_ack_settles_nothing_whatever_its_detail() -> None:
    with pytest.raises(NotAcknowledged, match="status 'error'"):
        check_ack(_batch(), _ack(GOOD_BATCH_DETAIL, "error"))
    offer = signed_offer(share=SHARE, epoch=EPOCH)
    with pytest.raises(NotAcknowledged):
        check_ack(offer, _ack({"share": SHARE, "status": "offered"}, "error"))


def test_control_messages_need_their_share_named() -> None:
    offer = signed_offer(share=SHARE, epoch=EPOCH)
    check_ack(offer, _ack({"share": SHARE, "status": "offered"}))
    with pytest.raises(NotAcknowledged):
        check_ack(offer, _ack())
    with pytest.raises(NotAcknowledged):
        check_ack(offer, _ack({"share": SHARE.replace("1", "2"), "status": "offered"}))


def test_a_key_rotate_ack_must_name_the_new_key() -> None:
    new = NodeKeys(signing_seed=bytes([9]) * 32, box_secret=bytes([8]) * 32,
                   identity=ALICE_KEYS.node_id)
    link = make_link(node_id=ALICE_KEYS.node_id, previous=ALICE_KEYS, new=new, created=NOW)
    doc = sign_document(new, name="County", url="https://a.example", created=NOW,
                        valid_until=NOW + 1000, links=(link,))
    check_ack(KeyRotate(doc), _ack({"signing_key": new.signing_key_id}))
    for wrong in ({}, {"signing_key": ALICE_KEYS.node_id}):
        with pytest.raises(NotAcknowledged):
            check_ack(KeyRotate(doc), _ack(wrong))


def test_an_outbox_ack_is_acknowledged_with_its_counts() -> None:
    pulled = OutboxAck(refs=(1, 2), batches=((SHARE, 4),))
    check_ack(pulled, _ack({"refs": 2, "batches": 1}))
    with pytest.raises(NotAcknowledged):
        check_ack(pulled, _ack({"refs": 0, "batches": 0}))


# -- formats of body values -----------------------------------------------------------


def _batch_body(**changes: object) -> dict[str, object]:
    return {"share": SHARE, "epoch": EPOCH, "seq": 1, "terms": 1, "items": [], **changes}


def test_the_first_batch_is_seq_1_and_seq_0_is_malformed() -> None:
    assert message_from_dict("share.batch", _batch_body()) == _batch(seq=1)
    with pytest.raises(MalformedMessage):
        message_from_dict("share.batch", _batch_body(seq=0))


@pytest.mark.parametrize("share", [SHARE.upper(), SHARE + "\n", "{" + SHARE + "}",
                                   SHARE.replace("-", "")])
def test_a_share_id_is_lowercase_hyphenated_uuid_text_only(share: str) -> None:
    with pytest.raises(MalformedMessage):
        message_from_dict("share.batch", _batch_body(share=share))


def _with_contact_at(at: str) -> dict[str, object]:
    contact = {"uuid": SHARE, "method": "door", "outcome": None, "note": None, "at": at,
               "by": None}
    item = {"op": "upsert", "uuid": SHARE, "version": 1, "fields": {},
            "contacts": [contact], "donations": None, "ref": None, "chain": None,
            "relayed": []}
    return _batch_body(items=[item])


@pytest.mark.parametrize("at", ["2026-10-03T14:30:00.000Z", "2024-05-01T10:00:00Z"])
def test_record_times_are_utc_rfc3339(at: str) -> None:
    message_from_dict("share.batch", _with_contact_at(at))


@pytest.mark.parametrize("at", ["yesterday", "2026-10-03 14:30:00", "2026-10-03T14:30:00+02:00",
                                "2026-10-03T14:30:00Z\n", "1696343400"])
def test_other_record_times_are_malformed(at: str) -> None:
    with pytest.raises(MalformedMessage):
        message_from_dict("share.batch", _with_contact_at(at))


def test_a_url_with_a_trailing_newline_is_malformed() -> None:
    wire = document().to_dict()
    with pytest.raises(MalformedMessage):
        NodeDocument.from_dict({**wire, "url": "https://b.example\n"})


# -- the spec text itself -------------------------------------------------------------

SPEC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _section(number: str) -> str:
    text = SPEC.read_text(encoding="utf-8")
    return text.split(f"\n## {number}. ")[1].split("\n## ")[0]


def test_the_message_type_table_lists_every_type() -> None:
    from tagshare.protocol import MESSAGE_TYPES

    table = _section("5")
    for name in MESSAGE_TYPES:
        assert f"`{name}`" in table, f"{name} is missing from section 5"


def test_every_acknowledged_type_has_its_ack_detail_in_4_3() -> None:
    from tagshare.protocol import MESSAGE_TYPES

    acks = _section("4").split("### 4.3")[1]
    answers = {"ack", "pair.request", "pair.accept", "outbox.pull", "outbox.items"}
    for name in set(MESSAGE_TYPES) - answers:
        assert f"`{name}`" in acks, f"the ack detail of {name} is not in 4.3"


def test_one_retry_rule_stated_once() -> None:
    text = SPEC.read_text(encoding="utf-8")
    assert text.count("Retrying: the one rule") == 1
    assert "A refusal other than" not in text  # the old, contradicting rule of 9.6
    assert "`pull_only`" in _section("3") and "key.rotate" in _section("9").split("### 9.7")[1]
