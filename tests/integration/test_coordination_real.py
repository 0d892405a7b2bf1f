"""No double knocks, contact overlap and matching review, on real nodes.

The unit tests (tests/node/test_node_coordination.py, test_node_matching.py)
feed batches to apply_items by hand. Here everything arrives by real shares:
party, campaign A and campaign B run their real aiohttp servers and sync
workers; the operators act on second connections or through the CLI, as in
another terminal, and the workers notice by themselves.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from shares_helpers import (
    CAMPAIGN_A,
    CAMPAIGN_B,
    PARTY,
    TAG,
    Org,
    Trio,
    cli_json,
    run_cli,
    settled,
    wait_until,
)

from tagshare.node import people
from tagshare.node.ids import uuid7
from tagshare.node.normalize import iso

WINDOW = "14d"



def ago(**delta: float) -> str:
    """A stored timestamp that long ago (what `--at` turns an ISO time into)."""
    return iso(datetime.now(UTC) - timedelta(**delta))


def received_tag(trio: Trio) -> str:
    """The tag the campaigns file the party's volunteers under."""
    return f"{trio.party.slug}:{TAG}"


def copy_uuid(org: Org, origin: Org, uuid: str) -> str:
    copy = org.copy_of(origin, uuid)
    assert copy is not None, f"{org.label} has no copy of {uuid}"
    return str(copy["uuid"])


async def share_both_ways(trio: Trio) -> list[tuple[Org, str]]:
    """The party shares its volunteers (all fields, contacts included) with A and B; each
    campaign shares the received tag back with fields `contacts`, the party accepting.
    Returns each share with its granter."""
    party = trio.party
    granted = [(party, await trio.active(trio.a, fields="all")),
               (party, await trio.active(trio.b, fields="all"))]
    for campaign in (trio.a, trio.b):
        back = campaign.grant(party, tag=received_tag(trio), fields="contacts")
        await wait_until(lambda back=back: party.status(back) == "offered",
                         message=f"{campaign.label}'s share back arrives")
        ok = await run_cli(party, "share", "accept", back)
        assert ok.exit_code == 0, ok.output
        await settled(campaign, back)
        granted.append((campaign, back))
    return granted


def link_of(org: Org, person: str) -> str | None:
    return org.value("SELECT link FROM people WHERE uuid = ?", (person,))


def knock(org: Org, person: str, *, at: str | None = None, by: str | None = None,
          method: str = "door") -> str:
    """A contact logged on `org` by its operator (a second connection)."""
    return people.add_contact(org.op, person, method=method, outcome="supporter", note=None,
                              at=at, by=by)


async def arrives(org: Org, contact: str, what: str) -> None:
    await wait_until(lambda: org.count("contacts", "uuid = ?", (contact,)) == 1,
                     message=f"{what} reaches {org.label}")


def listed(result: Result) -> list[str]:
    return [row["uuid"] for row in cli_json(result)]


def exported(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row["uuid"] for row in csv.DictReader(handle)]


# --- --not-contacted-since -------------------------------------------------------------


async def test_not_contacted_since_counts_contacts_from_two_other_nodes(
        trio: Trio, tmp_path: Path) -> None:
    party, a, b = trio.orgs
    ann = party.add_person(first_name="Ann", email="ann@example.org")  # A knocks
    bo = party.add_person(first_name="Bo", email="bo@example.org")  # B knocks
    cy = party.add_person(first_name="Cy", email="cy@example.org")  # party, 15 days ago
    di = party.add_person(first_name="Di", email="di@example.org")  # party, 2 days ago
    ed = party.add_person(first_name="Ed", email="ed@example.org")  # nobody
    # A's own people: Di is the party's Di (same email, linked on arrival), Fay is not.
    di_here = a.add_person(("canvass",), first_name="Di", email="di@example.org")
    fay = a.add_person(("canvass",), first_name="Fay", email="fay@example.org")
    granted = await share_both_ways(trio)
    assert link_of(a, copy_uuid(a, party, di)) == di_here
    on_a = {p: copy_uuid(a, party, p) for p in (ann, bo, cy, di, ed)}
    on_b = {p: copy_uuid(b, party, p) for p in (ann, bo, cy, di, ed)}

    by_a = knock(a, on_a[ann], by="Sam")
    by_b = knock(b, on_b[bo], at=ago(days=3), by="Lou")
    long_ago = await run_cli(party, "contact", "add", cy, "--method", "door",
                             "--at", ago(days=15))
    assert long_ago.exit_code == 0, long_ago.output
    old = long_ago.stdout.strip()
    recent = knock(party, di, at=ago(days=2))
    await arrives(party, by_a, "A's knock")
    await arrives(party, by_b, "B's knock")
    await arrives(a, old, "the party's old contact")
    await arrives(a, recent, "the party's recent contact")
    attached = party.query("SELECT person, origin FROM contacts WHERE uuid IN (?, ?)",
                           (by_a, by_b))
    assert {tuple(row) for row in attached} == {(ann, a.node_id), (bo, b.node_id)}

    # The party: its own contacts and both campaigns' count; Cy's is outside the window.
    everyone = listed(await run_cli(party, "people", "list", "--tag", TAG, "--json"))
    assert everyone == [ann, bo, cy, di, ed]
    walk = listed(await run_cli(party, "people", "list", "--tag", TAG,
                                "--not-contacted-since", WINDOW, "--json"))
    assert walk == [cy, ed]
    assert listed(await run_cli(party, "people", "list", "--tag", TAG,
                                "--not-contacted-since", "20d", "--json")) == [ed]

    # Campaign A: its own knock on Ann and the party's contact on Di count. B's knock on
    # Bo never reaches A (a node passes on only its own records), so Bo is still listed.
    tag = received_tag(trio)
    assert a.count("contacts", "uuid = ?", (by_b,)) == 0
    assert [tuple(r) for r in a.query("SELECT person, origin FROM contacts WHERE uuid = ?",
                                      (by_a,))] == [(on_a[ann], None)]
    walk_a = listed(await run_cli(a, "people", "list", "--tag", tag,
                                  "--not-contacted-since", WINDOW, "--json"))
    assert sorted(walk_a) == sorted([on_a[bo], on_a[cy], on_a[ed]])  # A's own row order
    # Campaign B likewise: its own knock on Bo, the party's on Di.
    walk_b = listed(await run_cli(b, "people", "list", "--tag", tag,
                                  "--not-contacted-since", WINDOW, "--json"))
    assert sorted(walk_b) == sorted([on_b[ann], on_b[cy], on_b[ed]])
    # A's own Di counts the party's contact on the copy linked to her.
    assert listed(await run_cli(a, "people", "list", "--tag", "canvass",
                                "--not-contacted-since", WINDOW, "--json")) == [fay]

    # The walk list as CSV: the same people.
    for org, org_tag, expected in ((party, TAG, walk), (a, tag, walk_a)):
        target = tmp_path / f"walk-{org.home.name}.csv"
        result = await run_cli(org, "people", "export", str(target), "--tag", org_tag,
                               "--not-contacted-since", WINDOW)
        assert result.exit_code == 0, result.output
        assert exported(target) == expected
    for granter, share_id in granted:  # no batch got stuck on the way
        await settled(granter, share_id)


# --- contacts overlap ------------------------------------------------------------------


def summary(entry: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(c["organization"], c["method"], c["at"], c["by"], c["on"])
            for c in entry["contacts"]]


async def test_contacts_overlap_names_every_organization_and_contact(trio: Trio) -> None:
    party, a, b = trio.orgs
    hal = party.add_person(first_name="Hal", last_name="Ng", email="hal@example.org")
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    cy = party.add_person(first_name="Cy", email="cy@example.org")
    dee = party.add_person(first_name="Dee", email="dee@example.org")
    ivy = party.add_person(first_name="Ivy", email="ivy@example.org")
    ivy_here = a.add_person((), first_name="Ivy", email="ivy@example.org")  # A's own Ivy
    await share_both_ways(trio)
    hal_a, hal_b = copy_uuid(a, party, hal), copy_uuid(b, party, hal)
    ivy_a = copy_uuid(a, party, ivy)
    assert link_of(a, ivy_a) == ivy_here
    at_party, at_a, at_b = ago(days=2), ago(hours=3), ago(hours=1)
    mine = [knock(party, hal, at=at_party, by="Pat"),
            knock(party, cy, at=ago(days=20), by="Pat"),
            knock(party, dee, at=ago(days=1)), knock(party, dee, at=ago(hours=2)),
            knock(party, ivy, at=ago(days=1), by="Pat")]
    on_ivy = knock(a, ivy_here, at=ago(hours=2), by="Sam")  # on A's own row of Ivy
    theirs = [knock(a, hal_a, at=at_a, by="Sam", method="phone"),
              knock(b, hal_b, at=at_b, by="Lou"),
              knock(a, copy_uuid(a, party, ann), by="Sam"),  # A alone: no overlap
              knock(a, copy_uuid(a, party, cy), at=ago(hours=5))]
    for contact in theirs:
        await arrives(party, contact, "a campaign's contact")
    for contact in mine:
        await arrives(a, contact, "the party's contact")

    [entry] = cli_json(await run_cli(party, "contacts", "overlap", "--since", WINDOW,
                                     "--json"))
    assert entry["person"] == {"uuid": hal, "name": "Hal Ng", "origin": None}
    assert entry["organizations"] == [PARTY, CAMPAIGN_A, CAMPAIGN_B]
    assert summary(entry) == [(PARTY, "door", at_party, "Pat", hal),
                              (CAMPAIGN_A, "phone", at_a, "Sam", hal),
                              (CAMPAIGN_B, "door", at_b, "Lou", hal)]
    assert [c["origin"] for c in entry["contacts"]] == [None, a.node_id, b.node_id]
    # A longer window also catches Cy (the party 20 days ago, A today).
    wide = cli_json(await run_cli(party, "contacts", "overlap", "--since", "30d", "--json"))
    assert [e["person"]["uuid"] for e in wide] == [hal, cy]
    table = await run_cli(party, "contacts", "overlap")
    assert table.exit_code == 0 and hal in table.stdout and CAMPAIGN_B in table.stdout
    assert ann not in table.stdout and dee not in table.stdout

    # On A: its own contact and the party's; B's never reaches A.
    on_a = {e["person"]["uuid"]: e for e in cli_json(await run_cli(a, "contacts", "overlap",
                                                                   "--json"))}
    assert set(on_a) == {hal_a, ivy_here}
    entry_a = on_a[hal_a]
    assert entry_a["person"] == {"uuid": hal_a, "name": "Hal Ng", "origin": party.node_id}
    assert entry_a["organizations"] == [PARTY, CAMPAIGN_A]
    assert summary(entry_a) == [(PARTY, "door", at_party, "Pat", hal_a),
                                (CAMPAIGN_A, "phone", at_a, "Sam", hal_a)]
    # Ivy is one human on A: the party's contact on the copy, A's on its own linked row.
    ivy_entry = on_a[ivy_here]
    assert ivy_entry["person"] == {"uuid": ivy_here, "name": "Ivy", "origin": None}
    assert ivy_entry["organizations"] == [PARTY, CAMPAIGN_A]
    assert [(c["organization"], c["on"]) for c in ivy_entry["contacts"]] == [
        (PARTY, ivy_a), (CAMPAIGN_A, ivy_here)]
    assert [c["by"] for c in ivy_entry["contacts"]] == ["Pat", "Sam"]
    assert party.count("contacts", "uuid = ?", (on_ivy,)) == 0  # not on a received person


# --- matching review -------------------------------------------------------------------


async def match_cases(org: Org) -> dict[str, dict[str, Any]]:
    return {case["uuid"]: case for case in cli_json(await run_cli(org, "match", "list",
                                                                  "--json"))}


async def test_matching_review_on_real_nodes(trio: Trio) -> None:
    party, a = trio.party, trio.a
    lee = a.add_person((), first_name="Lee", email="lee@example.org")
    ann = a.add_person((), first_name="Ann", email="ann@example.org")
    bo = a.add_person((), first_name="Bo", email="bo@example.org", phone="614-555-0102")
    jo = a.add_person((), first_name="Jo", phone="614-555-0103")
    kay = a.add_person((), first_name="Kay", phone="(614) 555-0103")  # the same phone
    solo = a.add_person((), first_name="Solo", email="solo@example.org")
    sent_lee = party.add_person(first_name="Lee", email="LEE@example.org")
    sent_ann = party.add_person(first_name="Ann", email="ann@example.org",
                                phone="+1 614 555 0102")
    sent_jo = party.add_person(first_name="Joanna", phone="614.555.0103")
    sent_doe = party.add_person(last_name="Doe", phone="614-555-0103")
    share_id = await trio.active(a, fields="all")
    copy_lee, copy_ann, copy_jo, copy_doe = (copy_uuid(a, party, p)
                                             for p in (sent_lee, sent_ann, sent_jo, sent_doe))

    # (a) exactly one local match: linked automatically, nothing to review; (b) the email
    # names Ann alone: linked to her although the phone is Bo's (two emails, two people).
    shown = cli_json(await run_cli(a, "people", "show", copy_lee, "--json"))
    assert shown["link"] == lee
    assert link_of(a, copy_ann) == ann
    bo_shown = cli_json(await run_cli(a, "people", "show", bo, "--json"))
    assert [source["uuid"] for source in bo_shown["sources"]] == [bo]
    # (c) Jo and Kay share the phone and neither is Joanna or Doe: both left for review.
    cases = await match_cases(a)
    assert set(cases) == {copy_jo, copy_doe}
    assert {c["uuid"]: c["matched_on"] for c in cases[copy_jo]["candidates"]} == {
        jo: ["phone"], kay: ["phone"]}
    assert cases[copy_jo]["peer"] == PARTY and cases[copy_jo]["origin"] == party.node_id
    assert cases[copy_jo]["reason"] == "no email; phone held by 2 local people"
    assert link_of(a, copy_jo) is None and link_of(a, copy_doe) is None

    # Resolved by the operator; the decision survives the party's later edits.
    linked = await run_cli(a, "match", "link", copy_jo, jo)
    assert linked.exit_code == 0, linked.output
    assert linked.stdout.strip() == f"linked {copy_jo} to {jo}"
    assert link_of(a, copy_jo) == jo
    assert set(await match_cases(a)) == {copy_doe}
    party.edit(sent_jo, first_name="Jo-Anna")
    await wait_until(lambda: a.copy_of(party, sent_jo)["first_name"] == "Jo-Anna",
                     message="the new name arrives")
    assert link_of(a, copy_jo) == jo
    # Now the email names Solo alone: automatic matching would pick Solo.
    party.edit(sent_jo, email="solo@example.org")
    await wait_until(lambda: a.copy_of(party, sent_jo)["email"] == "solo@example.org",
                     message="the new email arrives")
    assert link_of(a, copy_jo) == jo
    assert cli_json(await run_cli(a, "people", "show", copy_jo, "--json"))["link"] == jo

    # Kept apart: gone from the list, and never linked, even when the party's edit
    # would match exactly one local person.
    apart = await run_cli(a, "match", "keep-apart", copy_doe)
    assert apart.exit_code == 0, apart.output
    assert await match_cases(a) == {}
    assert link_of(a, copy_doe) is None
    party.edit(sent_doe, first_name="Joe", phone="614-555-0199", email="bo@example.org")
    await wait_until(lambda: a.copy_of(party, sent_doe)["email"] == "bo@example.org",
                     message="the party's edit arrives")
    assert a.copy_of(party, sent_doe)["first_name"] == "Joe"
    assert link_of(a, copy_doe) is None
    assert await match_cases(a) == {}
    assert link_of(a, copy_lee) == lee and link_of(a, solo) is None
    await settled(party, share_id)
    actions = [row[0] for row in a.query("SELECT action FROM audit WHERE action LIKE 'match.%'"
                                         " ORDER BY id")]
    assert actions == ["match.link", "match.keep_apart"]


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "says"), [
    (("link", "{unknown}", "{ann}"), "no person with uuid"),
    (("link", "{copy}", "{unknown}"), "no person with uuid"),
    (("link", "{ann}", "{bo}"), "one of this node's own people"),
    (("keep-apart", "{ann}"), "one of this node's own people"),
])
async def test_bad_match_input_is_one_line_and_changes_nothing(
        trio: Trio, args: tuple[str, ...], says: str) -> None:
    party, a = trio.party, trio.a
    ann = a.add_person((), first_name="Ann", email="ann@example.org", phone="614-555-0102")
    bo = a.add_person((), first_name="Bo", phone="614-555-0102")
    sent = party.add_person(first_name="Al", phone="614-555-0102")  # Ann's or Bo's phone
    await trio.active(a, fields="all")
    copy = copy_uuid(a, party, sent)
    refs = {"ann": ann, "bo": bo, "copy": copy, "unknown": uuid7()}

    result = await run_cli(a, "match", *(arg.format(**refs) for arg in args))
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert says in result.output and "Traceback" not in result.output
    assert result.stdout == ""
    assert link_of(a, copy) is None and link_of(a, ann) is None and link_of(a, bo) is None
    assert set(await match_cases(a)) == {copy}
    assert a.count("audit", "action LIKE 'match.%'") == 0
