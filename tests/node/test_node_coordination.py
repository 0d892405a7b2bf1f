"""No double knocks: --not-contacted-since counts contacts from every organization and on
every row of the same human; `contacts overlap` reports who else knocked, and when."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import pytest
from received_helpers import Peer, contact

from tagshare.node.ids import uuid7
from tagshare.node.normalize import iso


def days_ago(days: float) -> str:
    return iso(datetime.now(UTC) - timedelta(days=days))


def listed(node, *args: str) -> list[str]:
    return [p["uuid"] for p in node.json("people", "list", *args)]


@pytest.fixture
def party(node):
    return Peer(node.home, "State Party", local_tag="party-volunteers")


@pytest.fixture
def union(node):
    return Peer(node.home, "Teachers Union", local_tag="union-members")


# --- --not-contacted-since ---------------------------------------------------------


def test_contacts_from_two_other_nodes_and_our_own_leave_people_out(node, party, union):
    ann = node.add("--first-name", "Ann", "--email", "ann@example.org", "--tag", "walk")
    bo = node.add("--first-name", "Bo", "--phone", "614-555-0102", "--tag", "walk")
    cy = node.add("--first-name", "Cy", "--tag", "walk")
    di = node.add("--first-name", "Di", "--tag", "walk")
    ed = node.add("--first-name", "Ed", "--email", "ed@example.org", "--tag", "walk")
    # The party knocked on Ann three days ago; the union called Bo yesterday.
    party.send(uuid7(), first_name="Ann", email="ann@example.org",
               contacts=[contact(days_ago(3))])
    union.send(uuid7(), first_name="Bo", phone="+16145550102",
               contacts=[contact(days_ago(1), method="phone")])
    # We knocked on Cy a month ago (outside the window); the party called Ed long ago.
    node.ok("contact", "add", cy, "--method", "door", "--at", days_ago(30))
    node.ok("contact", "add", di, "--method", "door", "--at", days_ago(2))
    party.send(uuid7(), email="ed@example.org", contacts=[contact(days_ago(40))])

    assert listed(node, "--tag", "walk") == [ann, bo, cy, di, ed]
    assert listed(node, "--tag", "walk", "--not-contacted-since", "14d") == [cy, ed]
    assert listed(node, "--tag", "walk", "--not-contacted-since", "60d") == []
    assert listed(node, "--tag", "walk", "--not-contacted-since", "36h") == [ann, cy, di, ed]


def test_received_copies_count_their_local_person_and_each_other(node, party, union):
    lee = node.add("--first-name", "Lee", "--email", "lee@example.org")
    kim = node.add("--first-name", "Kim", "--email", "kim@example.org")
    # Lee's local row was knocked by us: the party's copy of Lee is left out.
    node.ok("contact", "add", lee, "--method", "door", "--at", days_ago(1))
    lee_copy = party.send(uuid7(), first_name="Lee", email="lee@example.org")
    # Kim arrives from both; only the union's copy carries a contact: the party's
    # copy, a sibling through Kim's local row, is left out too, and so is Kim.
    kim_party = party.send(uuid7(), first_name="Kim", email="kim@example.org")
    union.send(uuid7(), first_name="Kim", email="kim@example.org",
               contacts=[contact(days_ago(2))])
    # An unmatched copy carrying its own contact, and one nobody contacted.
    lone = party.send(uuid7(), first_name="Lone", email="lone@example.org",
                      contacts=[contact(days_ago(5))])
    fresh = party.send(uuid7(), first_name="Fresh", email="fresh@example.org")
    with node.db() as conn:
        links = dict(conn.execute("SELECT uuid, link FROM people WHERE origin IS NOT NULL"))
    assert links[lee_copy] == lee and links[kim_party] == kim and links[lone] is None

    assert listed(node, "--tag", "party-volunteers") == [lee_copy, kim_party, lone, fresh]
    assert listed(node, "--tag", "party-volunteers", "--not-contacted-since", "14d") == [fresh]
    # And from the local side: Kim's contact came in on the union's copy only.
    assert kim not in listed(node, "--not-contacted-since", "14d")
    assert lee not in listed(node, "--not-contacted-since", "14d")


def test_contacts_we_logged_on_a_received_copy_count_for_the_local_person(node, party):
    max_ = node.add("--first-name", "Max", "--email", "max@example.org", "--tag", "walk")
    copy = party.send(uuid7(), first_name="Max", email="max@example.org")
    node.ok("contact", "add", copy, "--method", "text", "--at", days_ago(1))
    assert listed(node, "--tag", "walk", "--not-contacted-since", "14d") == []
    assert listed(node, "--tag", "walk", "--not-contacted-since", "12h") == [max_]


def test_table_output_and_export_walk_list(node, party, tmp_path):
    ann = node.add("--first-name", "Ann", "--email", "ann@example.org", "--tag", "walk")
    bo = node.add("--first-name", "Bo", "--last-name", "Ray", "--tag", "walk")
    party.send(uuid7(), email="ann@example.org", contacts=[contact(days_ago(3))])
    text = node.ok("people", "list", "--tag", "walk", "--not-contacted-since", "14d").stdout
    assert bo in text and "Bo Ray" in text and ann not in text

    walk = tmp_path / "walk.csv"
    result = node.ok("people", "export", str(walk), "--tag", "walk",
                     "--not-contacted-since", "14d")
    assert "exported 1 people" in result.stderr
    with walk.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["uuid"] for r in rows] == [bo]
    exports = [e for e in node.json("audit") if e["action"] == "export"]
    assert exports[0]["detail"]["filter"] == {"tag": "walk", "not_contacted_since": "14d"}
    stdout = node.ok("people", "export", "-", "--not-contacted-since", "14d").stdout
    assert bo in stdout and ann not in stdout


@pytest.mark.parametrize("window", ["14", "two weeks", "0d", "-3d", "99999999999w"])
def test_a_bad_window_is_one_line_and_writes_no_file(node, tmp_path, window):
    node.add("--first-name", "Ann", "--tag", "walk")
    stderr = node.fails("people", "list", "--not-contacted-since", window)
    assert len(stderr.strip().splitlines()) == 1
    walk = tmp_path / "walk.csv"
    node.fails("people", "export", str(walk), "--not-contacted-since", window)
    assert not walk.exists()
    node.fails("contacts", "overlap", "--since", window)


# --- contacts overlap -------------------------------------------------------------------


def test_overlap_reports_people_reached_by_more_than_one_organization(node, party, union):
    ann = node.add("--first-name", "Ann", "--last-name", "Lee", "--email", "ann@example.org")
    bo = node.add("--first-name", "Bo", "--email", "bo@example.org")
    cy = node.add("--first-name", "Cy", "--email", "cy@example.org")
    # Ann: we knocked, the party knocked on its copy, the union called its copy.
    node.ok("contact", "add", ann, "--method", "door", "--outcome", "supporter",
            "--by", "Pat", "--at", days_ago(4))
    party.send(uuid7(), email="ann@example.org",
               contacts=[contact(days_ago(2), by="Sam"), contact(days_ago(30))])
    union.send(uuid7(), email="ann@example.org",
               contacts=[contact(days_ago(1), method="phone", outcome="busy", by="Jo")])
    # Bo: knocked twice, but both times by us. Cy: the party long ago, us recently.
    node.ok("contact", "add", bo, "--method", "door", "--at", days_ago(1))
    node.ok("contact", "add", bo, "--method", "door", "--at", days_ago(2))
    party.send(uuid7(), email="cy@example.org", contacts=[contact(days_ago(20))])
    node.ok("contact", "add", cy, "--method", "door", "--at", days_ago(1))

    overlaps = node.json("contacts", "overlap")
    assert len(overlaps) == 1
    entry = overlaps[0]
    assert entry["person"]["uuid"] == ann and entry["person"]["name"] == "Ann Lee"
    assert entry["organizations"] == ["Ohio Senate 12", "State Party", "Teachers Union"]
    assert [(c["organization"], c["method"], c["outcome"], c["by"])
            for c in entry["contacts"]] == [
        ("Ohio Senate 12", "door", "supporter", "Pat"),
        ("State Party", "door", "not home", "Sam"),
        ("Teachers Union", "phone", "busy", "Jo")]
    assert entry["contacts"][1]["origin"] == party.node_id

    wider = node.json("contacts", "overlap", "--since", "21d")
    assert {e["person"]["uuid"] for e in wider} == {ann, cy}
    text = node.ok("contacts", "overlap").stdout
    assert "Ann Lee" in text and "Teachers Union" in text and "Pat" in text
    assert bo not in text


def test_overlap_of_an_unmatched_received_person_and_nothing_to_report(node, party, union):
    assert node.json("contacts", "overlap") == []
    assert "PERSON" in node.ok("contacts", "overlap").stdout
    copy = party.send(uuid7(), first_name="Zed", email="zed@example.org",
                      contacts=[contact(days_ago(1.5))])
    node.ok("contact", "add", copy, "--method", "phone", "--at", days_ago(1))
    [entry] = node.json("contacts", "overlap", "--since", "3d")
    assert entry["person"] == {"uuid": copy, "name": "Zed", "origin": party.node_id}
    assert entry["organizations"] == ["State Party", "Ohio Senate 12"]
