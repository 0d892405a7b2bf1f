"""The dashboard without a browser: login links, sessions, CSRF, escaping, actions.

One node, a real SQLite file in tmp_path, the dashboard on an aiohttp test
client; every attack shows that nothing changed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from dashboard_helpers import CSRF_FIELD, MovableClock, add_offer, add_peer, dump, log_in, rows

from tagshare.node import people, shares
from tagshare.node.admin.dashboard import add_dashboard
from tagshare.node.admin.dashboard.login import (
    LOGIN_SECONDS,
    SESSION_SECONDS,
    cookie_name,
    issue_login,
)
from tagshare.node.node import Node, init_node
from tagshare.node.storage import db, outbox
from tagshare.node.storage import shares as share_store

HOSTILE_NAME = "<script>window.pwned = 1</script>"
HOSTILE_PEER = '<img src=x onerror="window.pwned = 2">'
Client = TestClient[Any, Any]


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Node]:
    node = init_node(tmp_path / "home", name="Ohio Party")
    yield node
    node.close()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(int(time.time()))


@pytest.fixture
async def browser(org: Node, clock: MovableClock, aiohttp_client: Any) -> AsyncIterator[Client]:
    """The dashboard as the admin listener serves it, seen from one browser."""
    thread = ThreadPoolExecutor(max_workers=1)
    app = web.Application()
    add_dashboard(app, org, thread, clock=clock)
    yield await aiohttp_client(app)
    thread.shutdown()


async def test_a_login_link_opens_one_session_once(
        browser: Client, org: Node, clock: MovableClock, aiohttp_client: Any) -> None:
    token = issue_login(org, clock())
    first = await browser.get(f"/login/{token}")
    assert first.status == 200
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith(cookie_name(org) + "=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert attribute in cookie, cookie
    overview = await browser.get("/")
    assert overview.status == 200
    page = await overview.text()
    assert "Ohio Party" in page and org.fingerprint in page

    other = await aiohttp_client(browser.app)  # a second browser with the same link
    again = await other.get(f"/login/{token}")
    assert again.status == 401
    assert "no longer valid" in await again.text()
    assert (await other.get("/")).status == 401
    session_id = cookie.split("=", 1)[1].split(";", 1)[0]
    stored = dump(org.home)
    assert token not in stored and session_id not in stored  # only hashes are kept


@pytest.mark.parametrize("method, path", [
    ("GET", "/"), ("GET", "/peers"), ("GET", "/shares"), ("GET", "/offers"),
    ("GET", "/invites"), ("GET", "/people?q=ann"), ("GET", "/people/ann@example.org"),
    ("GET", "/audit"), ("GET", "/static/dashboard.css"), ("POST", "/invites"),
    ("POST", "/logout"), ("POST", "/peers/x/retry"), ("POST", "/shares/x/accept"),
    ("GET", "/login/not-a-token"),
])
async def test_without_a_session_every_page_is_401_and_says_how_to_log_in(
        browser: Client, org: Node, method: str, path: str) -> None:
    before = dump(org.home)
    response = await browser.request(method, path, data={"csrf": "x", "expires": "1h"})
    assert response.status == 401
    assert "tagshare dashboard" in await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    assert dump(org.home) == before


async def test_a_forged_session_cookie_is_not_a_session(browser: Client, org: Node) -> None:
    response = await browser.get("/", cookies={cookie_name(org): "A" * 43})
    assert response.status == 401


async def test_an_expired_link_and_an_expired_session_are_refused(
        browser: Client, org: Node, clock: MovableClock) -> None:
    stale = issue_login(org, clock())
    clock.now += LOGIN_SECONDS
    assert (await browser.get(f"/login/{stale}")).status == 401
    await log_in(browser, org, clock)
    assert (await browser.get("/")).status == 200
    clock.now += SESSION_SECONDS
    assert (await browser.get("/")).status == 401


async def test_a_post_without_this_sessions_csrf_token_changes_nothing(
        browser: Client, org: Node, clock: MovableClock) -> None:
    csrf = await log_in(browser, org, clock)
    wrong = ("y" if csrf[0] == "x" else "x") + csrf[1:]  # differs, whatever csrf is
    before = dump(org.home)
    for form, headers in (
        ({"expires": "1h"}, {}),                                      # no token
        ({"expires": "1h", "csrf": wrong}, {}),                        # a wrong token
        ({"expires": "1h", "csrf": csrf}, {"Origin": "http://evil.example"}),
    ):
        response = await browser.post("/invites", data=form, headers=headers)
        assert response.status == 403
        assert "nothing was changed" in await response.text()
    assert dump(org.home) == before

    made = await browser.post("/invites", data={"expires": "1h", "csrf": csrf})
    assert made.status == 200
    page = await made.text()
    assert "tagshare peer add " in page and "shown only now" in page
    assert len(rows(org.home, "SELECT * FROM invites")) == 1


async def test_a_csrf_token_works_only_with_its_own_session(
        browser: Client, org: Node, clock: MovableClock, aiohttp_client: Any) -> None:
    mine = await log_in(browser, org, clock)
    other = await aiohttp_client(browser.app)
    await log_in(other, org, clock)
    response = await other.post("/invites", data={"expires": "1h", "csrf": mine})
    assert response.status == 403
    assert rows(org.home, "SELECT * FROM invites") == []


async def test_hostile_names_from_peers_are_rendered_inert(
        browser: Client, org: Node, clock: MovableClock) -> None:
    people.add_person(org, {"first_name": HOSTILE_NAME, "last_name": HOSTILE_PEER,
                            "email": "ann@example.org"}, ["volunteers"])
    peer = add_peer(org, HOSTILE_PEER, alias=None)
    add_offer(org, peer, "0190a0b0-0000-7000-8000-000000000001", tag=HOSTILE_NAME[:40])
    await log_in(browser, org, clock)
    for path in ("/people?q=ann", "/people/ann@example.org", "/peers", "/shares", "/offers"):
        response = await browser.get(path)
        assert response.status == 200, path
        page = await response.text()
        assert "<script>window" not in page and "<img src=x" not in page, path
        assert "&lt;" in page, path
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    live = await browser.get("/peers", headers={"X-Tagshare-Live": "old"})
    assert "<img src=x" not in (await live.json())["html"]


async def test_the_live_part_is_sent_only_when_it_changed(
        browser: Client, org: Node, clock: MovableClock) -> None:
    await log_in(browser, org, clock)
    first = await browser.get("/shares", headers={"X-Tagshare-Live": "none yet"})
    assert first.status == 200
    state = await first.json()
    unchanged = await browser.get("/shares", headers={"X-Tagshare-Live": state["version"]})
    assert unchanged.status == 204
    add_offer(org, add_peer(org, "Rivera Campaign"), "0190a0b0-0000-7000-8000-000000000002")
    changed = await browser.get("/shares", headers={"X-Tagshare-Live": state["version"]})
    assert changed.status == 200
    assert "Rivera Campaign" in (await changed.json())["html"]


async def test_accept_and_decline_use_the_share_functions_of_the_cli(
        browser: Client, org: Node, clock: MovableClock) -> None:
    peer = add_peer(org, "Rivera Campaign", alias="rivera")
    add_offer(org, peer, "0190a0b0-0000-7000-8000-00000000000a")
    add_offer(org, peer, "0190a0b0-0000-7000-8000-00000000000b", tag="donors")
    csrf = await log_in(browser, org, clock)
    accepted = await browser.post("/shares/0190a0b0-0000-7000-8000-00000000000a/accept",
                                  data={"csrf": csrf, "back": "/shares"},
                                  allow_redirects=False)
    assert accepted.status == 303
    assert accepted.headers["Location"] == "/shares?done=accepted"
    declined = await browser.post("/shares/0190a0b0-0000-7000-8000-00000000000b/decline",
                                  data={"csrf": csrf, "back": "https://evil.example/"},
                                  allow_redirects=False)
    assert declined.headers["Location"] == "/?done=declined"  # never off this listener
    statuses = {r["id"][-1]: (r["status"], r["local_tag"])
                for r in rows(org.home, "SELECT * FROM shares")}
    assert statuses == {"a": ("active", "rivera:volunteers"), "b": ("declined", None)}
    assert [r["type"] for r in rows(org.home, "SELECT type FROM outbox ORDER BY id")] == [
        "share.accept", "share.decline"]
    actions = [r["action"] for r in rows(org.home, "SELECT action FROM audit ORDER BY id")]
    assert actions[-2:] == ["share.accept", "share.decline"]

    again = await browser.post("/shares/0190a0b0-0000-7000-8000-00000000000b/accept",
                               data={"csrf": csrf})
    assert again.status == 409
    assert "is declined: cannot accept it" in await again.text()


async def test_retry_now_resets_the_peers_backoff(
        browser: Client, org: Node, clock: MovableClock) -> None:
    peer = add_peer(org, "Rivera Campaign", alias="rivera")
    with db.transaction(org.conn) as conn:
        outbox.record_failure(conn, peer, error="unreachable", next_attempt=clock() + 3600,
                              parked=False, at="2026-01-01T00:00:00.000Z")
    csrf = await log_in(browser, org, clock)
    page = await (await browser.get("/peers")).text()
    assert "failing" in page and "Retry now" in page and "2026-01-01T00:00:00.000Z" in page
    response = await browser.post(f"/peers/{peer}/retry", data={"csrf": csrf, "back": "/peers"},
                                  allow_redirects=False)
    assert response.headers["Location"] == "/peers?done=retrying"
    state = rows(org.home, "SELECT * FROM delivery")[0]
    assert (state["next_attempt"], state["attempts"], state["last_error"]) == (
        0, 1, "unreachable")
    assert rows(org.home, "SELECT action FROM audit ORDER BY id DESC")[0][0] == "peer.retry"


async def test_logging_out_ends_the_session(
        browser: Client, org: Node, clock: MovableClock) -> None:
    csrf = await log_in(browser, org, clock)
    response = await browser.post("/logout", data={"csrf": csrf})
    assert response.status == 200
    assert rows(org.home, "SELECT * FROM dashboard_sessions") == []
    assert (await browser.get("/")).status == 401


async def test_every_page_renders_for_a_node_with_data(
        browser: Client, org: Node, clock: MovableClock) -> None:
    uuid = people.add_person(org, {"first_name": "Ann", "email": "ann@example.org"},
                             ["volunteers"])
    people.add_contact(org, uuid, method="door", outcome="home", note=None, at=None, by="kim")
    peer = add_peer(org, "Rivera Campaign")
    add_offer(org, peer, "0190a0b0-0000-7000-8000-00000000000c")
    shares.grant_share(org, tag="volunteers", peer=peer, fields="name,email",
                       on_revoke="purge", note=None)
    await log_in(browser, org, clock)
    for path in ("/", "/peers", "/shares", "/offers", "/invites", "/people?q=ann",
                 f"/people/{uuid}", "/audit", "/static/dashboard.js"):
        response = await browser.get(path)
        assert response.status == 200, (path, await response.text())
    person = await (await browser.get(f"/people/{uuid}")).text()
    assert "Ohio Party (this node)" in person and "door" in person
    audit = await (await browser.get("/audit")).text()
    assert "share.grant" in audit and "name, email" in audit
    overview = await (await browser.get("/")).text()
    assert "No active shares yet." in overview and "1 offer waiting" in overview
    missing = await browser.get("/people/nobody@example.org")
    assert missing.status == 404
    assert CSRF_FIELD.search(await missing.text())


async def test_the_overview_says_which_share_is_not_in_sync_and_why(
        browser: Client, org: Node, clock: MovableClock) -> None:
    peer = add_peer(org, "Rivera Campaign", alias="rivera")
    share = shares.grant_share(org, tag="volunteers", peer=peer, fields="name",
                               on_revoke="purge", note=None)
    with db.transaction(org.conn) as conn:
        share_store.set_share_status(conn, share["id"], "active", "2026-01-01T00:00:00.000Z")
        for message in outbox.queued_messages(conn, peer):  # as if the offer was delivered
            outbox.drop_message(conn, message["id"], peer=peer)
    await log_in(browser, org, clock)
    page = await (await browser.get("/shares")).text()
    assert "in sync" in page
    assert "All 1 share in sync." in await (await browser.get("/")).text()
    with db.transaction(org.conn) as conn:
        outbox.record_failure(conn, peer, error="cannot reach rivera", parked=False,
                              next_attempt=clock() + 60, at="2026-01-01T00:00:00.000Z")
    page = await (await browser.get("/")).text()
    assert "0 of 1 shares in sync." in page
    assert "failing" in page and "cannot reach rivera" in page
