"""The admin listener of a real `tagshare serve`: /metrics after real deliveries and refusals.

Two serve processes pair and share a tag; each /metrics is scraped and parsed
with prometheus_client's own parser, never read with regular expressions.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from operator_helpers import Served, pair, sample, wait_for

from tagshare.node import people, shares
from tagshare.node.admin.listener import ADMIN_FILE

TAG = "volunteers"


@pytest.fixture
def granter_and_subscriber(tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    granter = Served.create(tmp_path, "Ohio Party")
    subscriber = Served.create(tmp_path, "Rivera Campaign")
    try:
        granter.start()
        subscriber.start()
        pair(granter, subscriber, alias="party")
        yield granter, subscriber
    finally:
        granter.close()
        subscriber.close()


def share_volunteers(granter: Served, subscriber: Served, count: int) -> str:
    for n in range(count):
        people.add_person(granter.op, {"first_name": f"Vol{n}", "email": f"v{n}@example.org"},
                          [TAG])
    share = shares.grant_share(granter.op, tag=TAG, peer=subscriber.op.node_id, fields="all",
                               on_revoke="purge", note=None)
    share_id = str(share["id"])
    wait_for(lambda: subscriber.query("SELECT status FROM shares WHERE id = ?", (share_id,)),
             "the offer")
    shares.accept_share(subscriber.op, share_id, None)
    wait_for(lambda: subscriber.query("SELECT 1 FROM people WHERE origin IS NOT NULL")
             and not granter.query("SELECT 1 FROM pending"), "the delivery")
    return share_id


def test_metrics_count_a_real_delivery_by_alias_and_result(
        granter_and_subscriber: tuple[Served, Served]) -> None:
    granter, subscriber = granter_and_subscriber
    share_id = share_volunteers(granter, subscriber, 3)

    sent = granter.scrape()
    assert sample(sent, "tagshare_people") == 3
    assert sample(sent, "tagshare_shares", direction="outgoing", status="active") == 1
    # Peers are named as the operator knows them (no alias here: the peer's own name).
    assert sample(sent, "tagshare_share_pending", share=share_id, peer="Rivera Campaign") == 0
    assert (sample(sent, "tagshare_deliveries_total", peer="Rivera Campaign", result="ok")
            or 0) >= 1
    assert (sample(sent, "tagshare_delivery_seconds_count") or 0) >= 1
    assert sample(sent, "tagshare_peer_failed_attempts", peer="Rivera Campaign") == 0

    received = subscriber.scrape()
    assert sample(received, "tagshare_people") == 3
    assert sample(received, "tagshare_shares", direction="incoming", status="active") == 1
    assert (sample(received, "tagshare_inbox_requests_total", result="ok") or 0) >= 2
    # The subscriber named the granter "party" when it paired: that is its label there
    # (the accept it sent was a delivery too).
    assert (sample(received, "tagshare_deliveries_total", peer="party", result="ok") or 0) >= 1
    assert sample(received, "tagshare_peer_failed_attempts", peer="party") == 0
    assert not [key for key in received if ("peer", "Ohio Party") in key[1]]


def test_an_inbox_refusal_is_counted_with_its_reason(
        granter_and_subscriber: tuple[Served, Served]) -> None:
    _, subscriber = granter_and_subscriber
    before = sample(subscriber.scrape(), "tagshare_inbox_requests_total", result="malformed")
    request = urllib.request.Request(subscriber.url + "/federation/v1/inbox", data=b"garbage",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    refused.value.close()
    assert refused.value.code == 400
    assert before is None
    after = subscriber.scrape()
    assert sample(after, "tagshare_inbox_requests_total", result="malformed") == 1
    # The operator's log says it once, with the reason, at the default level.
    assert "refused a request: malformed (HTTP 400)" in subscriber.log_text()


def test_a_stopped_peer_is_counted_and_logged_by_alias(
        granter_and_subscriber: tuple[Served, Served]) -> None:
    granter, subscriber = granter_and_subscriber
    share_id = share_volunteers(granter, subscriber, 1)
    subscriber.stop()
    people.add_person(granter.op, {"first_name": "Late", "email": "late@example.org"}, [TAG])

    def failed() -> float:
        return sample(granter.scrape(), "tagshare_deliveries_total", peer="Rivera Campaign",
                      result="unreachable") or 0

    wait_for(failed, "a failed delivery")
    scraped = granter.scrape()
    assert sample(scraped, "tagshare_share_pending", share=share_id, peer="Rivera Campaign") == 1
    assert (sample(scraped, "tagshare_peer_failed_attempts", peer="Rivera Campaign") or 0) >= 1
    lines = [line for line in granter.log_text().splitlines() if "failed" in line]
    assert lines and "delivery to Rivera Campaign failed: unreachable" in lines[0], lines


def test_other_admin_paths_need_a_login_and_say_how(
        granter_and_subscriber: tuple[Served, Served]) -> None:
    granter, _ = granter_and_subscriber
    for path in ("/", "/peers", "/metrics/../admin"):
        status, page = granter.admin_get(path)
        assert status == 401, path
        assert "tagshare dashboard" in page


def test_the_admin_listener_is_loopback_and_recorded_until_a_clean_exit(
        tmp_path: Path) -> None:
    node = Served.create(tmp_path, "Solo Org")
    node.start()
    try:
        address = json.loads((node.home / ADMIN_FILE).read_text())
        assert address["host"] == "127.0.0.1" and address["port"] not in (0, node.port)
        assert (node.home / ADMIN_FILE).stat().st_mode & 0o077 == 0
        assert node.stop() == 0
        assert not (node.home / ADMIN_FILE).exists()
    finally:
        node.close()
