"""The node's own reasons to refuse a peer's request, and the one map to HTTP statuses.

Protocol errors (the peer's bad input) carry a code; the node adds the codes
that need its database (unknown peer, replay, rate limit). Every refusal is
answered as JSON {"error": CODE, "message": TEXT} with the status below.
"""

from tagshare.protocol.errors import RemoteProtocolError

HTTP_STATUS = {
    "too_large": 413,
    "malformed": 400,
    "unsupported_version": 400,
    "decryption_failed": 400,
    "wrong_recipient": 421,
    "bad_signature": 401,
    "stale_message": 401,
    "unknown_peer": 403,
    "bad_invite": 403,
    "forbidden": 403,
    "replayed": 409,
    "rate_limited": 429,
}


def http_status(error: RemoteProtocolError) -> int:
    return HTTP_STATUS.get(error.code, 400)


class UnknownPeer(RemoteProtocolError):
    default_code = "unknown_peer"


class Replayed(RemoteProtocolError):
    default_code = "replayed"


class RateLimited(RemoteProtocolError):
    default_code = "rate_limited"


class Forbidden(RemoteProtocolError):
    """A known peer asked for something its relationship with us does not allow."""

    default_code = "forbidden"
