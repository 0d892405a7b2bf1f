"""Import never merges two different people: two different emails are two different
people, always; a row without an email updates the one person who holds its phone, and
is added apart and listed for review when several do. Each case runs into an empty node
(the bulk path) and into a node that already has someone (the matching path)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path
from unittest import mock

import pytest
from conftest import Tagshare
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from received_helpers import Peer

from tagshare.node import csvio
from tagshare.node.ids import uuid7
from tagshare.node.node import open_node
from tagshare.node.storage import schema

HEADER = "first_name,last_name,email,phone,tags\n"


def write(tmp_path: Path, rows: str, name: str = "people.csv") -> str:
    path = tmp_path / name
    path.write_text(HEADER + rows)
    return str(path)


def summary(result) -> str:
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(params=["empty", "nonempty"])
def target(request, node):
    """The node to import into: empty (bulk path), or holding one unrelated person."""
    if request.param == "nonempty":
        node.add("--first-name", "Zed", "--email", "zed@example.org")
    return node


def by_email(node) -> dict[str | None, dict]:
    return {p["email"]: p for p in node.json("people", "list")}


def test_maria_and_juan_share_a_phone_and_stay_two_people(target, tmp_path):
    path = write(tmp_path, "Maria,Lopez,maria@example.org,(614) 555-0142,\n"
                           "Juan,Lopez,juan@example.org,(614) 555-0142,\n")
    assert summary(target.ok("people", "import", path)) \
        == "added 2, updated 0, unchanged 0, skipped 0, ambiguous 0"
    people = by_email(target)
    assert (people["maria@example.org"]["first_name"],
            people["juan@example.org"]["first_name"]) == ("Maria", "Juan")
    assert people["maria@example.org"]["phone"] == people["juan@example.org"]["phone"]
    assert target.json("match", "list") == []
    # Again, and again against what is now on the node: nobody merged, nobody added.
    assert summary(target.ok("people", "import", path)) \
        == "added 0, updated 0, unchanged 2, skipped 0, ambiguous 0"


def test_a_household_of_three_on_one_phone_is_three_people(target, tmp_path):
    rows = "".join(f"{name},Lopez,{name.lower()}@example.org,614-555-0142,\n"
                   for name in ("Maria", "Juan", "Rosa"))
    target.ok("people", "import", write(tmp_path, rows))
    people = by_email(target)
    assert {p["first_name"] for p in people.values() if p["last_name"] == "Lopez"} \
        == {"Maria", "Juan", "Rosa"}


def test_a_new_email_on_a_phone_held_by_someone_is_a_new_person(node, tmp_path):
    maria = node.add("--first-name", "Maria", "--email", "maria@example.org",
                     "--phone", "614-555-0142")
    bo = node.add("--first-name", "Bo", "--phone", "614-555-0199")  # no email
    path = write(tmp_path, "Juan,Lopez,juan@example.org,614 555 0142,\n"
                           "Cy,Ng,cy@example.org,614-555-0199,\n")
    assert summary(node.ok("people", "import", path)) \
        == "added 2, updated 0, unchanged 0, skipped 0, ambiguous 0"
    assert node.json("people", "show", maria)["first_name"] == "Maria"
    shown = node.json("people", "show", bo)
    assert (shown["first_name"], shown["email"], shown["version"]) == ("Bo", None, 1)


def test_a_row_without_email_updates_the_one_holder_of_its_phone(target, tmp_path):
    target.ok("people", "import", write(tmp_path, "Maria,,maria@example.org,"
                                                  "614-555-0142,\n", "first.csv"))
    path = write(tmp_path, "MARIA,Lopez,,(614) 555-0142,phone-bank\n")
    assert summary(target.ok("people", "import", path)) \
        == "added 0, updated 1, unchanged 0, skipped 0, ambiguous 0"
    maria = target.json("people", "show", "maria@example.org")
    assert (maria["last_name"], maria["tags"]) == ("Lopez", ["phone-bank"])
    assert target.json("match", "list") == []


def test_the_one_holder_of_another_name_is_not_updated(node, tmp_path):
    maria = node.add("--first-name", "Maria", "--last-name", "Lopez",
                     "--phone", "614-555-0142")
    path = write(tmp_path, "Juan,Lopez,,614-555-0142,\n")
    assert summary(node.ok("people", "import", path)) \
        == "added 1, updated 0, unchanged 0, skipped 0, ambiguous 1"
    assert node.json("people", "show", maria)["first_name"] == "Maria"
    [case] = node.json("match", "list")
    assert case["name"] == "Juan Lopez" and case["source"] == "import"
    assert case["reason"] == "no email; phone held by Maria Lopez, another name " \
                             "(people.csv line 2)"


def test_a_phone_held_by_two_is_ambiguous_added_and_listed(target, tmp_path):
    target.ok("people", "import", write(tmp_path, "Maria,Lopez,maria@example.org,614-555-0142,\n"
                                                  "Juan,Lopez,juan@example.org,614-555-0142,\n",
                                        "household.csv"))
    maria = target.json("people", "show", "maria@example.org")["uuid"]
    juan = target.json("people", "show", "juan@example.org")["uuid"]
    path = write(tmp_path, ",Lopez,,(614) 555-0142,landline\n")
    result = target.ok("people", "import", path)
    assert summary(result) == "added 1, updated 0, unchanged 0, skipped 0, ambiguous 1"
    [added] = [p for p in target.json("people", "list") if p["email"] is None
               and p["first_name"] != "Zed"]
    assert f"line 2: ambiguous, added as {added['uuid']}" in result.stderr
    assert "tagshare match list" in result.stderr
    for person in (maria, juan):  # nobody merged, nobody tagged by the doubtful row
        assert target.json("people", "show", person)["tags"] == []
    [case] = target.json("match", "list")
    assert (case["uuid"], case["source"], case["origin"], case["peer"]) == (
        added["uuid"], "import", None, None)
    assert case["reason"] == "no email; phone held by 2 people (people.csv line 2)"
    assert sorted((c["uuid"], c["matched_on"]) for c in case["candidates"]) == sorted(
        [(maria, ["phone"]), (juan, ["phone"])])
    text = target.ok("match", "list").stdout
    assert added["uuid"] in text and maria in text and juan in text and "import" in text
    assert "no email; phone held by 2 people" in text
    # Imported again, the row is the person it was added as: nobody new, nothing listed.
    assert summary(target.ok("people", "import", path)) \
        == "added 0, updated 0, unchanged 1, skipped 0, ambiguous 0"
    assert len(target.json("match", "list")) == 1
    # The JSON summary counts and names ambiguous rows too.
    rosa = json.loads(target.ok("people", "import", write(tmp_path, "Rosa,,,614-555-0142,\n"),
                                "--json").stdout)
    assert (rosa["added"], rosa["ambiguous"]) == (1, 1)
    [review] = rosa["reviews"]
    assert review["line"] == 2 and review["reason"] == (
        "no email; phone held by 3 people (people.csv line 2)")
    assert review["person"] == target.json("people", "list", "--search", "Rosa")[0]["uuid"]
    assert len(target.json("match", "list")) == 2


def test_among_several_holders_the_one_with_exactly_its_name_is_updated(node, tmp_path):
    maria = node.add("--first-name", "Maria", "--last-name", "Lopez",
                     "--email", "maria@example.org", "--phone", "614-555-0142")
    node.add("--first-name", "Juan", "--last-name", "Lopez", "--email", "juan@example.org",
             "--phone", "614-555-0142")
    path = write(tmp_path, "maria,LOPEZ,,614-555-0142,walk-list\n")
    assert summary(node.ok("people", "import", path)) \
        == "added 0, updated 1, unchanged 0, skipped 0, ambiguous 0"
    assert node.json("people", "show", maria)["tags"] == ["walk-list"]
    assert node.json("match", "list") == []


def test_an_ambiguous_import_row_is_settled_by_keep_apart(node, tmp_path):
    node.add("--first-name", "Jo", "--phone", "614-555-0103")
    node.add("--first-name", "Kay", "--phone", "614-555-0103")
    node.ok("people", "import", write(tmp_path, ",,,614-555-0103,\n"))
    [case] = node.json("match", "list")
    stderr = node.fails("match", "link", case["uuid"], "614-555-0103")
    assert "imported row under review" in stderr and "keep-apart" in stderr
    assert node.ok("match", "keep-apart", case["uuid"]).stdout.strip() \
        == f"{case['uuid']} kept apart from this node's people"
    assert node.json("match", "list") == []
    assert node.json("people", "show", case["uuid"])["phone"] == "+16145550103"


def test_rows_of_one_file_without_email_follow_the_same_rule(target, tmp_path):
    path = write(tmp_path, "Maria,Lopez,maria@example.org,614-555-0142,a\n"
                           ",,,614-555-0142,b\n"              # the one holder: Maria
                           "Juan,Lopez,juan@example.org,614-555-0142,c\n"
                           ",Lopez,,614-555-0142,d\n")        # now two hold it
    result = target.ok("people", "import", path)
    assert summary(result) == "added 3, updated 0, unchanged 1, skipped 0, ambiguous 1"
    assert target.json("people", "show", "maria@example.org")["tags"] == ["a", "b"]
    assert target.json("people", "show", "juan@example.org")["tags"] == ["c"]
    [case] = target.json("match", "list")
    assert case["reason"].endswith("(people.csv line 5)")


def test_people_add_with_another_email_on_the_same_phone_adds_a_person(node):
    maria = node.add("--first-name", "Maria", "--email", "maria@example.org",
                     "--phone", "614-555-0142")
    juan = node.add("--first-name", "Juan", "--email", "juan@example.org",
                    "--phone", "(614) 555-0142")
    assert juan != maria
    assert node.json("people", "show", maria)["first_name"] == "Maria"
    assert node.json("status")["people"] == 2


# --- property: distinct emails are distinct people ----------------------------


@pytest.fixture(scope="module")
def blank_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("blank") / "home"
    Tagshare(home).ok("init", "--name", "Blank")
    return home


_NAMES = st.sampled_from(["Maria", "Juan", "Rosa", "", "Lopez"])
_PHONES = st.sampled_from(["", "614-555-0142", "(614) 555-0143", "+1 614 555 0144"])
_ROW = st.tuples(_NAMES, _NAMES, _PHONES)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_ROW, min_size=1, max_size=12), already=st.integers(0, 3),
       batch=st.sampled_from([1, 2, 5, 2000]))
def test_rows_with_pairwise_distinct_emails_are_that_many_people(blank_home, rows, already,
                                                                  batch):
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        shutil.copytree(blank_home, home)
        path = Path(scratch) / "p.csv"
        path.write_text(HEADER + "".join(
            f"{first},{last},p{i}@example.org,{phone},\n"
            for i, (first, last, phone) in enumerate(rows)))
        seed = Path(scratch) / "seed.csv"  # people already there, on the same phones
        seed.write_text(HEADER + "".join(f"Old,Timer,,{phone},\n" for phone in
                                          ["614-555-0142", "614-555-0143", "614-555-0144"][
                                              :already]))
        node = open_node(home)
        try:
            csvio.import_csv(node, seed, tags=[])
            before = node.conn.execute("SELECT count(*) FROM people").fetchone()[0]
            with mock.patch.object(csvio, "BATCH_ROWS", batch):
                report = csvio.import_csv(node, path, tags=[])
            count = node.conn.execute("SELECT count(*) FROM people").fetchone()[0]
            emails = node.conn.execute(
                "SELECT count(DISTINCT email) FROM people WHERE email IS NOT NULL").fetchone()[0]
        finally:
            node.close()
    assert (report.added, report.updated, report.unchanged, report.skipped, report.ambiguous) \
        == (len(rows), 0, 0, 0, 0)
    assert count - before == len(rows) == emails


# --- the schema ---------------------------------------------------------------


def test_reviews_from_before_the_reason_column_are_listed_after_the_upgrade(node, tmp_path):
    node.add("--first-name", "Jo", "--phone", "614-555-0103")
    node.add("--first-name", "Kay", "--phone", "614-555-0103")
    copy = Peer(node.home, "State Party", local_tag="party").send(uuid7(), phone="+16145550103")
    with closing(sqlite3.connect(node.home / "node.db")) as conn:
        conn.execute("ALTER TABLE match_reviews DROP COLUMN reason")
        conn.execute(f"PRAGMA user_version = {schema.MIGRATIONS.index(schema.MIGRATION_13)}")
        conn.commit()
    [case] = node.json("match", "list")
    assert case["uuid"] == copy and case["source"] == "peer"
    assert case["reason"] == "its email or phone matches several local people"
    with closing(sqlite3.connect(node.home / "node.db")) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
        columns = [row[1] for row in conn.execute("PRAGMA table_info(match_reviews)")]
    assert "reason" in columns
