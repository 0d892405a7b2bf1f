"""`peer.remove` (docs/protocol.md 5 and 9.8): an empty body, nothing more, never pulled."""

from __future__ import annotations

import pytest

from tagshare.protocol import (
    Ack,
    LocalProtocolError,
    MalformedMessage,
    OutboxEntry,
    PeerRemove,
    check_ack,
    message_from_dict,
    message_to_dict,
)


def test_peer_remove_has_an_empty_body_both_ways() -> None:
    assert message_to_dict(PeerRemove()) == {}
    assert message_from_dict("peer.remove", {}) == PeerRemove()


@pytest.mark.parametrize("body", [{"peer": "x"}, [], None, "", {"status": "removed"}])
def test_peer_remove_with_anything_in_its_body_is_malformed(body: object) -> None:
    with pytest.raises(MalformedMessage):
        message_from_dict("peer.remove", body)


def test_peer_remove_is_never_handed_out_to_a_pull() -> None:
    with pytest.raises(LocalProtocolError):
        OutboxEntry(ref=1, message=PeerRemove())


def test_any_ok_ack_settles_a_peer_remove() -> None:
    check_ack(PeerRemove(), Ack(message_id="A" * 22, status="ok", detail={"status": "removed"}))
