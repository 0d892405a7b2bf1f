"""The dashboard in a real browser, against real `tagshare serve` processes.

Headless chromium logs in through the link `tagshare dashboard` prints,
watches an offer arrive and turn "in sync" after it clicks Accept, watches a
stopped peer turn "failing", and saves the screenshots the operator guide
shows. Nothing is reloaded by the test: the pages refresh themselves.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import (
    PHONE,
    chromium,
    login_link,
    screenshot,
    shows,
    text_of,
    wait_until,
)
from operator_helpers import Served, pair, wait_for
from selenium import webdriver
from selenium.webdriver.common.by import By

from tagshare.node import people, shares

TAG = "volunteers"
HOSTILE = "<script>window.pwned = 1</script>"
FETCH_STATUS = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {method: "POST", body: new URLSearchParams(arguments[1])})
  .then(response => done(response.status), error => done(String(error)));
"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    with chromium(tmp_path / "chromium-profile") as driver:
        yield driver


@pytest.fixture
def party(tmp_path: Path) -> Iterator[Served]:
    served = Served.create(tmp_path, "Ohio Party")
    try:
        served.start()
        yield served
    finally:
        served.close()


@pytest.fixture
def campaign(tmp_path: Path) -> Iterator[Served]:
    served = Served.create(tmp_path, "Rivera Campaign")
    try:
        served.start()
        yield served
    finally:
        served.close()


def status_without_session(served: Served, path: str, data: bytes | None = None) -> int:
    request = urllib.request.Request(served.admin_url() + path, data=data)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        with refused:
            return int(refused.code)


def log_in(driver: webdriver.Chrome, served: Served) -> str:
    link = login_link(served)
    driver.get(link)
    wait_until(driver, "the overview", shows("h1", "Overview"))
    return link


def test_the_login_link_works_once_and_nothing_opens_without_it(
        browser: webdriver.Chrome, party: Served, tmp_path: Path) -> None:
    link = log_in(browser, party)
    assert text_of(browser, ".node-name") == "Ohio Party"
    assert party.op.fingerprint in text_of(browser, ".identity")
    cookies = {cookie["name"]: cookie for cookie in browser.get_cookies()}
    (session,) = cookies.values()
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert browser.execute_script("return document.cookie") == ""  # out of scripts' reach

    with chromium(tmp_path / "second-profile") as other:
        other.get(link)
        wait_until(other, "the used-link page",
                   shows("h1", "This login link is no longer valid"))
        other.get(party.admin_url() + "/peers")
        wait_until(other, "the login page", shows("h1", "Log in to this node's dashboard"))
    for path in ("/", "/peers", "/shares", "/audit", "/static/dashboard.js"):
        assert status_without_session(party, path) == 401, path
    assert status_without_session(party, link.split(party.admin_url())[1]) == 401


def test_a_post_without_the_csrf_token_is_refused_even_with_the_session(
        browser: webdriver.Chrome, party: Served) -> None:
    log_in(browser, party)
    browser.get(party.admin_url() + "/invites")
    status = browser.execute_async_script(FETCH_STATUS, "/invites", {"expires": "1h"})
    assert status == 403
    assert party.query("SELECT * FROM invites") == []
    browser.find_element(By.CSS_SELECTOR, "form.form button").click()
    token = wait_until(browser, "the invite token",
                       lambda d: d.find_element(By.CSS_SELECTOR, "#invite-token textarea"))
    assert len(token.get_attribute("value")) > 100
    assert len(party.query("SELECT * FROM invites")) == 1
    screenshot(browser, "dashboard-invite")


def test_an_offer_turns_in_sync_after_accept_and_a_stopped_peer_turns_failing(
        browser: webdriver.Chrome, party: Served, campaign: Served) -> None:
    pair(party, campaign, alias="Ohio Party")
    for first, last, email in (("Ann", "Lee", "ann@example.org"),
                               (HOSTILE, "Hacker", "mallory@example.org"),
                               ("Ben", "Ortiz", "ben@example.org")):
        people.add_person(party.op, {"first_name": first, "last_name": last, "email": email},
                          [TAG])
    log_in(browser, campaign)
    browser.get(campaign.admin_url() + "/shares")
    share_id = str(shares.grant_share(party.op, tag=TAG, peer=campaign.op.node_id,
                                      fields="name,email", on_revoke="purge",
                                      note="Volunteers for the fall canvass")["id"])
    row = f'tr[data-share="{share_id}"]'
    wait_until(browser, "the offer", shows(f"{row} .pill", "offered"))
    browser.get(campaign.admin_url() + "/offers")
    screenshot(browser, "dashboard-offers")
    browser.get(campaign.admin_url() + "/shares")
    wait_until(browser, "the accept button",
               lambda d: d.find_element(By.CSS_SELECTOR, f"{row} button.primary")).click()
    wait_until(browser, "the share in sync", shows(f"{row} .pill", "in sync"))
    wait_for(lambda: campaign.query("SELECT 1 FROM people WHERE last_name = 'Hacker'"),
             "the delivery")
    screenshot(browser, "dashboard-shares")
    screenshot(browser, "dashboard-phone", PHONE)

    browser.get(campaign.admin_url() + "/people?q=Hacker")
    link = wait_until(browser, "the hostile name",
                      lambda d: d.find_element(By.CSS_SELECTOR, "#people a"))
    assert link.text == f"{HOSTILE} Hacker"  # shown as text, never run
    link.click()
    wait_until(browser, "the provenance", lambda d: "Ohio Party" in d.find_element(
        By.CSS_SELECTOR, "#provenance thead").get_attribute("textContent"))
    assert browser.execute_script("return window.pwned") is None
    screenshot(browser, "dashboard-person")

    log_in(browser, party)  # the same browser: each node's session cookie is its own
    wait_until(browser, "all in sync", shows("#sync-line .headline", "All 1 share in sync."))
    screenshot(browser, "dashboard-overview")
    browser.get(party.admin_url() + "/peers")
    peer_row = f'tr[data-peer="{campaign.op.node_id}"]'
    wait_until(browser, "the peer ok", shows(f"{peer_row} .pill", "ok"))
    campaign.stop()
    people.edit_person(party.op, "ann@example.org", {"last_name": "Lee-Park"})
    wait_until(browser, "the stopped peer failing", shows(f"{peer_row} .pill", "failing"))
    assert "Retry now" in text_of(browser, peer_row)
    screenshot(browser, "dashboard-peers")

    campaign.start()
    browser.find_element(By.CSS_SELECTOR, f"{peer_row} button.primary").click()
    wait_until(browser, "the retried peer ok", shows(f"{peer_row} .pill", "ok"))
    assert "Backoff reset" in text_of(browser, ".notice")
