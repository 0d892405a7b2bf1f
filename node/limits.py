"""Bounded work per peer: what one peer can make this node store, and how often it can
make it work hard.

A peer is trusted with what it shares, not with this node's disk or time:
- at most MAX_PENDING_OFFERS of its share offers wait for the operator here;
  another is refused (`rate_limited`) and stored nowhere, and the granter keeps
  it and retries; its note is bounded by the protocol (2000 characters);
- a withdraw or erase of a person it never sent on that share undoes nothing and
  leaves no tombstone; only a `received` row keeps a reordered older upsert of that
  person out, for UNSEEN_RETENTION (longer than any envelope is accepted), and a
  share holds at most MAX_UNSEEN_PER_SHARE of them: a batch that would pass that is
  refused (`rate_limited`) and the granter sends it again later;
- a full resend is started at most once per RESYNC_INTERVAL per share; a resync
  while the resend it started is still running is answered without queueing
  anything again, a later one within the interval is refused (`rate_limited`).
docs/protocol.md section 11.3 states the same for other implementations.
"""

import sqlite3
from datetime import UTC, datetime, timedelta

from tagshare.node import normalize
from tagshare.node.refusals import RateLimited
from tagshare.node.storage import received as inbound
from tagshare.node.storage import shares as store
from tagshare.protocol import CLOCK_WINDOW_SECONDS

MAX_PENDING_OFFERS = 20
RESYNC_INTERVAL = timedelta(minutes=10)
UNSEEN_RETENTION = 2 * CLOCK_WINDOW_SECONDS + 60  # seconds, as the inbox's replay guard
MAX_UNSEEN_PER_SHARE = 10_000  # two of the largest batches


def check_unseen_room(conn: sqlite3.Connection, share_id: str, adding: int, now: int) -> None:
    """Forget what can no longer matter, then refuse a batch that would remember more
    than MAX_UNSEEN_PER_SHARE people the share never brought here."""
    inbound.forget_unseen(conn, share_id, now - UNSEEN_RETENTION)
    if adding and inbound.unseen_count(conn, share_id) + adding > MAX_UNSEEN_PER_SHARE:
        raise RateLimited(f"this batch withdraws or erases {adding} people share {share_id} "
                          "never brought here, past this node's limit: send it again in "
                          f"{UNSEEN_RETENTION // 60} minutes")


def check_offer_room(conn: sqlite3.Connection, peer: str) -> None:
    """Refuse a new offer from `peer` while MAX_PENDING_OFFERS of its offers wait here."""
    waiting = store.offers_waiting(conn, peer)
    if waiting >= MAX_PENDING_OFFERS:
        raise RateLimited(f"{waiting} offers of yours already wait for this node's operator "
                          f"(at most {MAX_PENDING_OFFERS}): offer again once some are "
                          "accepted or declined")


def resync_due(share: sqlite3.Row, now: datetime | None = None) -> bool:
    """Should this share's full resend start now? False when the resend the last
    resync started is still running (it will carry everyone); RateLimited when the
    last one started less than RESYNC_INTERVAL ago and has finished."""
    last = share["resync_at"]
    moment = now or datetime.now(UTC)
    if last is None or last <= normalize.iso(moment - RESYNC_INTERVAL):
        return True
    if share["resync_epoch"] is not None:
        return False
    allowed = normalize.iso(datetime.fromisoformat(last) + RESYNC_INTERVAL)
    raise RateLimited(f"a full resend of share {share['id']} started at {last}: "
                      f"ask again after {allowed}")
