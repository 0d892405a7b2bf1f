"""What an ack must say before its sender counts a message as delivered.

Only a matching, successful ack settles a message (docs/protocol.md, 4.3):
status "ok", and the detail keys that name what was applied agree with the
message sent. A batch is settled only by an ack that names the same share and
`seq`, counts the items it applied, and says the share is active on the
subscriber; a `key.rotate` only by one that names the new signing key. Status
"error", an ack for another share or sequence number, or a detail without
those keys leaves the message owed: the sender tries again after a backoff.
"""

from __future__ import annotations

from tagshare.protocol.errors import RemoteProtocolError
from tagshare.protocol.messages import Ack, KeyRotate, Message
from tagshare.protocol.rotation import current_key
from tagshare.protocol.shares import OutboxAck, ShareBatch


class NotAcknowledged(RemoteProtocolError):
    """The peer answered with an ack that does not settle the message sent."""

    default_code = "not_acknowledged"


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def expected_detail(message: Message) -> dict[str, object]:
    """The detail keys (and values) an "ok" ack of `message` must carry; a value of None
    means "a count (integer >= 0)", checked by `check_ack`."""
    if isinstance(message, ShareBatch):
        return {"share": message.share, "seq": message.seq, "applied": None,
                "status": "active"}
    if isinstance(message, KeyRotate):
        document = message.document
        return {"signing_key": current_key(document.node_id, document.keys)}
    if isinstance(message, OutboxAck):
        return {"refs": len(message.refs), "batches": len(message.batches)}
    share = getattr(message, "share", None)
    if isinstance(share, str):
        return {"share": share}
    return {}


def check_ack(message: Message, ack: Ack) -> None:
    """NotAcknowledged unless `ack` is a successful, matching ack of `message`
    (its `message_id` is the caller's to compare: it names the envelope, not the body)."""
    if ack.status != "ok":
        code = ack.detail.get("error")
        raise NotAcknowledged(f"the peer answered {message.TYPE} with status "
                              f"{ack.status!r}" + (f" ({code})" if isinstance(code, str) else ""))
    for key, wanted in expected_detail(message).items():
        if key not in ack.detail:
            raise NotAcknowledged(f"the ack of {message.TYPE} has no {key!r}")
        value = ack.detail[key]
        if wanted is None and not _is_count(value):
            raise NotAcknowledged(f"the ack of {message.TYPE} has no count in {key!r}")
        if wanted is not None and (value != wanted or isinstance(value, bool)):
            raise NotAcknowledged(f"the ack of {message.TYPE} says {key}={value!r}, "
                                  f"expected {wanted!r}")
