"""Matching review: a received person that matches several local people is never merged
silently; `match list` shows it, `match link` and `match keep-apart` settle it for good.
Two different emails are two different people: an email links only to that email."""

from __future__ import annotations

import pytest
from received_helpers import Peer

from tagshare.node.ids import uuid7
from tagshare.node.node import open_node
from tagshare.node.normalize import now_iso
from tagshare.node.storage import db
from tagshare.node.storage import people as people_store


@pytest.fixture
def party(node):
    return Peer(node.home, "State Party", local_tag="party-volunteers")


def link_of(node, person: str) -> str | None:
    with node.db() as conn:
        return conn.execute("SELECT link FROM people WHERE uuid = ?", (person,)).fetchone()[0]


def twins_sharing_an_email(node) -> tuple[str, str]:
    """Two local people with one email (add and import refuse this; older data has it)."""
    uuids = (uuid7(), uuid7())
    local = open_node(node.home)
    try:
        with db.transaction(local.conn) as conn:
            now = now_iso()
            people_store.insert_people(conn, [
                {"uuid": uuid, "first_name": name, "email": "family@example.org",
                 "created_at": now, "updated_at": now}
                for uuid, name in zip(uuids, ("Al", "Alice"), strict=True)])
    finally:
        local.close()
    return uuids


def test_an_unambiguous_match_still_links_and_lists_nothing(node, party):
    ann = node.add("--first-name", "Ann", "--email", "ann@example.org",
                   "--phone", "614-555-0101")
    copy = party.send(uuid7(), first_name="Ann", email="ANN@example.org", phone="+16145550101")
    assert link_of(node, copy) == ann
    by_phone = node.add("--first-name", "Bo", "--phone", "614-555-0102")
    assert link_of(node, party.send(uuid7(), phone="+16145550102")) == by_phone
    assert link_of(node, party.send(uuid7(), email="nobody@example.org")) is None
    assert node.json("match", "list") == []


def test_two_local_people_share_the_email(node, party):
    al, alice = twins_sharing_an_email(node)
    copy = party.send(uuid7(), first_name="Alice", email="family@example.org")
    assert link_of(node, copy) is None
    [case] = node.json("match", "list")
    assert case["uuid"] == copy and case["peer"] == "State Party"
    assert case["origin"] == party.node_id
    assert (case["name"], case["email"], case["phone"]) == ("Alice", "family@example.org", None)
    assert [(c["uuid"], c["name"], c["matched_on"]) for c in case["candidates"]] == sorted(
        [(al, "Al", ["email"]), (alice, "Alice", ["email"])])
    text = node.ok("match", "list").stdout
    assert copy in text and "State Party" in text and al in text and alice in text


def test_two_local_people_share_the_phone(node, party):
    jo = node.add("--first-name", "Jo", "--phone", "614-555-0103")
    kay = node.add("--first-name", "Kay", "--phone", "614 555 0103")
    copy = party.send(uuid7(), phone="+16145550103")
    assert link_of(node, copy) is None
    [case] = node.json("match", "list")
    assert {c["uuid"]: c["matched_on"] for c in case["candidates"]} == {
        jo: ["phone"], kay: ["phone"]}
    assert case["reason"] == "no email; phone held by 2 local people"
    # Sent with exactly Kay's name, it is Kay.
    assert link_of(node, party.send(uuid7(), first_name="kay", phone="+16145550103")) == kay


def test_an_email_names_only_the_person_with_that_email(node, party):
    ann = node.add("--first-name", "Ann", "--email", "ann@example.org")
    node.add("--first-name", "Bo", "--phone", "614-555-0102")
    copy = party.send(uuid7(), first_name="Ann", email="ann@example.org", phone="+16145550102")
    assert link_of(node, copy) == ann
    node.add("--first-name", "Sue", "--phone", "614-555-0101")
    node.add("--first-name", "Sam", "--phone", "614-555-0101")
    assert link_of(node, party.send(uuid7(), email="ann@example.org",
                                    phone="+16145550101")) == ann  # the shared phone: no say
    assert node.json("match", "list") == []


def test_another_email_on_the_same_phone_is_another_person(node, party):
    """Maria is on this node; the party sends Juan, her household's landline and his own
    email: he is not linked to her (before: linked by the phone, one human)."""
    maria = node.add("--first-name", "Maria", "--last-name", "Lopez",
                     "--email", "maria@example.org", "--phone", "(614) 555-0142")
    juan = party.send(uuid7(), first_name="Juan", last_name="Lopez",
                      email="juan@example.org", phone="+16145550142")
    assert link_of(node, juan) is None
    assert node.json("match", "list") == []
    assert [s["uuid"] for s in node.json("people", "show", maria)["sources"]] == [maria]
    # A phone-only local person is not taken for him either.
    node.ok("people", "edit", maria, "--email", "")
    again = party.send(uuid7(), first_name="Juan", email="juan2@example.org",
                       phone="+16145550142")
    assert link_of(node, again) is None


def test_without_an_email_the_one_holder_of_the_phone_links_unless_named_otherwise(
        node, party):
    bo = node.add("--first-name", "Bo", "--last-name", "Diaz", "--phone", "614-555-0102")
    assert link_of(node, party.send(uuid7(), first_name="BO", phone="+16145550102")) == bo
    other = party.send(uuid7(), first_name="Cy", last_name="Diaz", phone="+16145550102")
    assert link_of(node, other) is None
    [case] = node.json("match", "list")
    assert case["uuid"] == other and case["source"] == "peer"
    assert case["reason"] == "no email; phone held by local Bo Diaz, another name"
    assert [(c["uuid"], c["matched_on"]) for c in case["candidates"]] == [(bo, ["phone"])]


def test_link_settles_a_case_and_survives_later_updates(node, party):
    ann = node.add("--first-name", "Ann", "--email", "ann@example.org")
    bo = node.add("--first-name", "Bo", "--phone", "614-555-0102")
    origin_uuid = uuid7()
    copy = party.send(origin_uuid, first_name="Ann", email="ann@example.org",
                      phone="+16145550102")
    assert node.ok("match", "link", copy, "ann@example.org").stdout.strip() == (
        f"linked {copy} to {ann}")
    assert link_of(node, copy) == ann
    assert node.json("match", "list") == []
    sources = node.json("people", "show", ann)["sources"]
    assert [s["uuid"] for s in sources] == [ann, copy]
    # The party later changes the person: now only Bo's phone would match, but the
    # operator's decision stands.
    assert party.send(origin_uuid, first_name="Annie", email=None,
                      phone="+16145550102") == copy
    assert link_of(node, copy) == ann
    assert node.json("match", "list") == []
    [entry] = [e for e in node.json("audit") if e["action"] == "match.link"]
    assert entry["detail"] == {"person": copy, "local": ann}
    # Changing one's mind works too (and takes a phone for LOCAL).
    node.ok("match", "link", copy, "(614) 555-0102")
    assert link_of(node, copy) == bo


def test_keep_apart_stays_unlinked_through_later_updates(node, party):
    al, alice = twins_sharing_an_email(node)
    origin_uuid = uuid7()
    copy = party.send(origin_uuid, first_name="Alice", email="family@example.org")
    node.ok("match", "keep-apart", copy)
    assert node.json("match", "list") == []
    # Even an email that names exactly one local person is not matched now.
    solo = node.add("--first-name", "Solo", "--email", "solo@example.org")
    party.send(origin_uuid, first_name="Alice", email="solo@example.org")
    assert link_of(node, copy) is None
    assert node.json("match", "list") == []
    assert [e["detail"] for e in node.json("audit") if e["action"] == "match.keep_apart"] == [
        {"person": copy}]
    # keep-apart also undoes an automatic link.
    other = party.send(uuid7(), email="solo@example.org")
    assert link_of(node, other) == solo
    node.ok("match", "keep-apart", other)
    assert link_of(node, other) is None
    assert link_of(node, al) is None and link_of(node, alice) is None


def test_an_update_that_resolves_the_ambiguity_links_and_clears_the_case(node, party):
    jo = node.add("--first-name", "Jo", "--phone", "614-555-0103", "--email", "jo@example.org")
    node.add("--first-name", "Kay", "--phone", "614-555-0103")
    origin_uuid = uuid7()
    copy = party.send(origin_uuid, first_name="J.", phone="+16145550103")
    assert len(node.json("match", "list")) == 1
    party.send(origin_uuid, first_name="Jo", phone=None, email="jo@example.org")
    assert link_of(node, copy) == jo
    assert node.json("match", "list") == []


def test_cases_and_candidates_go_with_erased_people(node, party):
    jo = node.add("--first-name", "Jo", "--phone", "614-555-0103")
    kay = node.add("--first-name", "Kay", "--phone", "614-555-0103")
    copy = party.send(uuid7(), phone="+16145550103")
    node.ok("people", "erase", kay, "--yes")
    [case] = node.json("match", "list")
    assert [c["uuid"] for c in case["candidates"]] == [jo]
    node.ok("people", "erase", copy, "--yes")
    assert node.json("match", "list") == []
    with node.db() as conn:
        assert conn.execute("SELECT count(*) FROM match_reviews").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM match_candidates").fetchone()[0] == 0


def test_a_link_to_an_erased_local_person_falls_back_to_matching(node, party):
    ann = node.add("--first-name", "Ann", "--email", "ann@example.org")
    origin_uuid = uuid7()
    copy = party.send(origin_uuid, email="other@example.org")
    node.ok("match", "link", copy, ann)
    node.ok("people", "erase", ann, "--yes")
    bo = node.add("--first-name", "Bo", "--email", "bo@example.org")
    party.send(origin_uuid, email="bo@example.org")
    assert link_of(node, copy) == bo


# --- bad input ----------------------------------------------------------------------------


@pytest.fixture
def case(node, party):
    ann = node.add("--first-name", "Ann", "--email", "ann@example.org",
                   "--phone", "614-555-0102")
    bo = node.add("--first-name", "Bo", "--phone", "614-555-0102")
    copy = party.send(uuid7(), phone="+16145550102")
    return {"ann": ann, "bo": bo, "copy": copy}


@pytest.mark.parametrize(("args", "says"), [
    (("link", "{unknown}", "{ann}"), "no person with uuid"),
    (("link", "{copy}", "{unknown}"), "no person with uuid"),
    (("link", "{ann}", "{bo}"), "one of this node's own people"),
    (("link", "{copy}", "{copy}"), "received from a peer"),
    (("link", "nobody@example.org", "{ann}"), "no received person has"),
    (("link", "{copy}", "nobody@example.org"), "no local person has"),
    (("link", "{copy}", "not-a-phone"), "no local person has"),
    (("link", "{copy}", "bad@email"), "invalid email"),
    (("keep-apart", "{ann}"), "one of this node's own people"),
    (("keep-apart", "{unknown}"), "no person with uuid"),
])
def test_bad_input_is_one_line_and_changes_nothing(node, case, args, says):
    refs = {**case, "unknown": uuid7()}
    argv = [arg.format(**refs) for arg in args]
    stderr = node.fails("match", *argv)
    assert len(stderr.strip().splitlines()) == 1 and says in stderr
    assert link_of(node, case["copy"]) is None
    assert len(node.json("match", "list")) == 1
    assert not [e for e in node.json("audit") if e["action"].startswith("match.")]


def test_a_received_email_held_by_two_copies_asks_for_a_uuid(node, party):
    ann = node.add("--first-name", "Ann", "--email", "ann@example.org")
    other = Peer(node.home, "Teachers Union", local_tag="union")
    party.send(uuid7(), email="twin@example.org")
    other.send(uuid7(), email="twin@example.org")
    assert "give a uuid" in node.fails("match", "link", "twin@example.org", ann)
