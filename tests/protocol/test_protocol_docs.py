"""The worked example in docs/protocol.md uses the same values as the tests."""

from __future__ import annotations

import re
from pathlib import Path

from protocol_helpers import ALICE_KEYS, BOB_KEYS
from test_protocol_document import ALICE_DOC_SIGNATURE
from test_protocol_envelope import GOLDEN_PING, GOLDEN_PLAINTEXT
from test_protocol_invite import GOLDEN_TOKEN

from tagshare.protocol import fingerprint, hash_secret

SPEC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def test_worked_example_matches_the_golden_values() -> None:
    text = SPEC.read_text(encoding="utf-8")
    example = text.split("## 8. Worked example")[1]
    for value in (
        ALICE_KEYS.node_id,
        BOB_KEYS.node_id,
        ALICE_KEYS.box_public_b64,
        BOB_KEYS.box_public_b64,
        fingerprint(ALICE_KEYS.node_id),
        fingerprint(BOB_KEYS.node_id),
        ALICE_DOC_SIGNATURE,
        GOLDEN_PLAINTEXT.decode(),
        GOLDEN_TOKEN,
        hash_secret(bytes([2]) * 16),
    ):
        assert value in example
    envelope_block = example.split("### 8.2")[1].split("```json")[1].split("```")[0]
    assert re.sub(r"\s", "", envelope_block).encode() == GOLDEN_PING


def test_spec_lists_every_error_code() -> None:
    text = SPEC.read_text(encoding="utf-8")
    for code in (
        "too_large", "malformed", "unsupported_version", "wrong_recipient", "bad_signature",
        "unknown_peer", "stale_message", "replayed", "decryption_failed", "bad_invite",
        "rate_limited", "internal", "forbidden",
    ):
        assert f"`{code}`" in text


def test_spec_describes_every_message_type() -> None:
    text = SPEC.read_text(encoding="utf-8")
    from tagshare.protocol import MESSAGE_TYPES

    for name in MESSAGE_TYPES:
        assert f"`{name}`" in text, name
