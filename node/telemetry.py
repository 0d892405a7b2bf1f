"""What a running node reports as it works: each delivery and each federation request.

The sync worker and the server call these hooks at the one place each
outcome is decided. The base class hears nothing (tests, `tagshare sync`);
the admin listener's `NodeMetrics` counts. Peers are named as the operator
knows them: by alias, else by their own name, never by node id.
"""

import sqlite3

from tagshare.node.client import PeerRefused, PeerUnreachable
from tagshare.protocol import ProtocolError


class Telemetry:
    def delivery(self, peer: str, result: str, seconds: float) -> None:
        """One delivery round to `peer` ended with `result` after `seconds`."""

    def request(self, result: str) -> None:
        """One signed federation request was answered: "ok" or the refusal's code."""


def peer_label(peer: sqlite3.Row) -> str:
    return str(peer["alias"] or peer["name"])


def delivery_result(error: Exception | None) -> str:
    """A small, fixed set of outcomes (metric labels must not grow without bound)."""
    if error is None:
        return "ok"
    if isinstance(error, PeerUnreachable):
        return "unreachable"
    if isinstance(error, PeerRefused):
        return "refused"
    if isinstance(error, ProtocolError):
        return "bad_answer"
    return "error"
