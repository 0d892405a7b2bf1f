"""people add/edit/show/list/erase, tag, contact, donation, status and audit."""

import uuid

import pytest

from tagshare.node.storage.people import PERSON_FIELDS

ANN = ("--first-name", "Ann", "--last-name", "Lee", "--email", "Ann@Example.org",
       "--phone", "(614) 555-0101", "--address1", "1 Main St", "--city", "Columbus",
       "--state", "OH", "--zip", "43215")


@pytest.fixture
def ann(node):
    return node.add(*ANN, "--tag", "volunteers", "--tag", "donors")


# --- add and show -------------------------------------------------------------


def test_add_prints_a_uuid7_and_show_json_has_every_field(node, ann):
    assert uuid.UUID(ann).version == 7
    person = node.json("people", "show", ann)
    assert set(PERSON_FIELDS) <= set(person)
    assert person["uuid"] == ann
    assert person["origin"] is None
    assert person["first_name"] == "Ann"
    assert person["email"] == "Ann@Example.org"
    assert person["phone"] == "+16145550101"
    assert person["address2"] is None
    assert person["zip"] == "43215"
    assert person["tags"] == ["donors", "volunteers"]
    assert person["contacts"] == [] and person["donations"] == []
    assert person["created_at"] == person["updated_at"]


@pytest.mark.parametrize("ref", [
    "ann@example.org", " ANN@EXAMPLE.ORG ", "614.555.0101", "+1 614-555-0101", "6145550101",
])
def test_person_is_found_by_email_any_case_or_phone_any_spelling(node, ann, ref):
    assert node.json("people", "show", ref)["uuid"] == ann


def test_person_is_found_by_uppercase_uuid(node, ann):
    assert node.json("people", "show", ann.upper())["uuid"] == ann


def test_show_table(node, ann):
    text = node.ok("people", "show", ann).stdout
    assert ann in text and "Columbus" in text and "donors, volunteers" in text


def test_add_with_invalid_email_is_refused(node):
    stderr = node.fails("people", "add", "--first-name", "Bo", "--email", "bo@nowhere")
    assert "invalid email" in stderr
    assert node.count("people") == 0


def test_add_with_invalid_phone_is_refused(node):
    assert "invalid phone" in node.fails("people", "add", "--phone", "555-0101")
    assert node.count("people") == 0


def test_add_with_nothing_is_refused(node):
    assert "at least a name" in node.fails("people", "add", "--city", "  ")


def test_add_with_bad_tag_adds_nobody(node):
    node.fails("people", "add", "--first-name", "Bo", "--tag", "a,b")
    assert node.count("people") == 0


def test_add_refuses_an_email_already_on_the_node_in_any_case(node, ann):
    stderr = node.fails("people", "add", "--first-name", "Imposter", "--email", "ANN@example.org")
    assert ann in stderr
    assert node.count("people") == 1


def test_unknown_person_is_a_clear_error(node, ann):
    for ref in ("nobody@example.org", "(212) 555-0199", str(uuid.uuid4()), "just words"):
        stderr = node.fails("people", "show", ref)
        assert "people list" in stderr or "not a uuid" in stderr


def test_shared_phone_is_ambiguous(node):
    first = node.add("--first-name", "Ann", "--phone", "614-555-0101")
    second = node.add("--first-name", "Bo", "--phone", "(614) 555 0101")
    stderr = node.fails("people", "show", "614.555.0101")
    assert "matches 2 people" in stderr
    assert first in stderr and second in stderr
    assert "uuid" in stderr
    assert node.json("people", "show", second)["first_name"] == "Bo"
    node.fails("tag", "add", "614.555.0101", "x")
    node.fails("people", "erase", "614.555.0101", "--yes")
    assert node.count("people") == 2


# --- edit ---------------------------------------------------------------------


def test_edit_changes_fields_and_bumps_version(node, ann):
    before = node.json("people", "show", ann)
    assert node.ok("people", "edit", "ann@example.org", "--email", " new@Example.org ",
                   "--phone", "614.555.0199", "--city", "Dayton").stdout.strip() == ann
    after = node.json("people", "show", ann)
    assert after["email"] == "new@Example.org"
    assert after["phone"] == "+16145550199"
    assert after["city"] == "Dayton"
    assert after["first_name"] == "Ann"
    assert after["version"] == before["version"] + 1
    assert after["updated_at"] >= before["updated_at"]
    node.fails("people", "show", "ann@example.org")


def test_edit_with_empty_value_clears_the_field(node, ann):
    node.ok("people", "edit", ann, "--address1", "", "--email", "")
    person = node.json("people", "show", ann)
    assert person["address1"] is None and person["email"] is None


def test_edit_with_no_fields_is_refused(node, ann):
    assert "nothing to change" in node.fails("people", "edit", ann)


def test_edit_with_invalid_email_changes_nothing(node, ann):
    node.fails("people", "edit", ann, "--email", "broken", "--city", "Dayton")
    assert node.json("people", "show", ann)["city"] == "Columbus"


def test_edit_refuses_someone_elses_email(node, ann):
    other = node.add("--first-name", "Bo", "--email", "bo@example.org")
    assert "another person" in node.fails("people", "edit", other, "--email", "ANN@example.org")


def test_edit_unknown_person(node):
    node.fails("people", "edit", "ghost@example.org", "--city", "Nowhere")


# --- list ---------------------------------------------------------------------


@pytest.fixture
def crowd(node, ann):
    bo = node.add("--first-name", "Bo", "--last-name", "Diaz", "--email", "bo@example.org",
                  "--tag", "volunteers")
    cy = node.add("--first-name", "Cy", "--last-name", "Leeds", "--phone", "212-555-0142")
    return [ann, bo, cy]


def test_list_json_is_oldest_first_with_tags(node, crowd):
    people = node.json("people", "list")
    assert [p["uuid"] for p in people] == crowd
    assert set(PERSON_FIELDS) <= set(people[0])
    assert people[0]["tags"] == ["donors", "volunteers"]
    assert people[2]["tags"] == []
    assert all(p["origin"] is None for p in people)


def test_list_by_tag(node, crowd):
    assert [p["uuid"] for p in node.json("people", "list", "--tag", "volunteers")] == crowd[:2]
    assert node.json("people", "list", "--tag", "nobody-has-this") == []


@pytest.mark.parametrize(("text", "expected"), [
    ("lee", [0, 2]), ("Ann Lee", [0]), ("bo@", [1]), ("212555", [2]), ("%", []), ("_", []),
])
def test_list_search(node, crowd, text, expected):
    found = [p["uuid"] for p in node.json("people", "list", "--search", text)]
    assert found == [crowd[i] for i in expected]


def test_list_limit_and_combined_filters(node, crowd):
    assert [p["uuid"] for p in node.json("people", "list", "--limit", "2")] == crowd[:2]
    found = node.json("people", "list", "--tag", "volunteers", "--search", "diaz", "--limit", "5")
    assert [p["uuid"] for p in found] == [crowd[1]]


@pytest.mark.parametrize("limit", ["0", "-1", "many"])
def test_list_bad_limit_is_a_usage_error(node, limit):
    node.fails("people", "list", "--limit", limit, code=2)


def test_list_table(node, crowd):
    lines = node.ok("people", "list").stdout.splitlines()
    assert lines[0].split() == ["UUID", "NAME", "EMAIL", "PHONE", "TAGS"]
    assert len(lines) == 4
    assert "Ann Lee" in lines[1]


# --- erase --------------------------------------------------------------------


def test_erase_leaves_only_an_anonymous_tombstone(node, ann):
    bo = node.add("--first-name", "Bo", "--tag", "volunteers")
    node.ok("contact", "add", ann, "--method", "door", "--note", "likes dogs")
    node.ok("donation", "add", ann, "--amount", "25.00")
    assert node.ok("people", "erase", "ann@example.org", "--yes").stdout.strip() \
        == f"erased {ann}"
    node.fails("people", "show", ann)
    with node.db() as conn:
        for table in ("taggings", "contacts", "donations"):
            rows = conn.execute(f"SELECT count(*) FROM {table} WHERE person = ?", (ann,))
            assert rows.fetchone()[0] == 0, table
        tombstones = [dict(r) for r in conn.execute("SELECT * FROM tombstones")]
    assert len(tombstones) == 1
    assert set(tombstones[0]) == {"key", "erased_at"}
    stored = " ".join(str(v) for v in tombstones[0].values()).lower()
    for personal in (ann, "ann", "lee", "example.org", "6145550101", "main st", "43215"):
        assert personal not in stored
    # Ann's other tag is carried by nobody now, so status counts one (issue 12, item 8).
    assert {k: v for k, v in node.json("status").items() if k not in ("shares", "summary")} \
        == {"people": 1, "tags": 1, "contacts": 0, "donations": 0}
    assert node.json("people", "show", bo)["tags"] == ["volunteers"]
    erase = [e for e in node.json("audit") if e["action"] == "erase"]
    assert len(erase) == 1
    assert erase[0]["detail"]["person"] == ann
    assert erase[0]["actor"]


def test_erase_unknown_person(node):
    node.fails("people", "erase", "ghost@example.org", "--yes")
    assert node.count("tombstones") == 0


# --- tags ---------------------------------------------------------------------


def test_tag_add_remove_and_list_with_counts(node, ann):
    bo = node.add("--first-name", "Bo")
    assert node.ok("tag", "add", bo, "volunteers", "canvass").stdout.strip() \
        == f"{bo}: 2 tag(s) added"
    assert "0 tag(s) added" in node.ok("tag", "add", bo, "volunteers").stdout
    assert node.json("tag", "list") == [
        {"name": "canvass", "people": 1},
        {"name": "donors", "people": 1},
        {"name": "volunteers", "people": 2},
    ]
    assert "1 tag(s) removed" in node.ok("tag", "remove", "ann@example.org", "donors",
                                         "not-a-tag").stdout
    counts = {t["name"]: t["people"] for t in node.json("tag", "list")}
    assert counts == {"canvass": 1, "donors": 0, "volunteers": 2}
    lines = node.ok("tag", "list").stdout.splitlines()
    assert lines[0].split() == ["TAG", "PEOPLE"]


def test_tag_bad_inputs(node, ann):
    node.fails("tag", "add", ann, code=2)
    node.fails("tag", "add", ann, " ")
    node.fails("tag", "add", ann, "a,b")
    node.fails("tag", "add", "ghost@example.org", "x")
    assert node.json("people", "show", ann)["tags"] == ["donors", "volunteers"]


# --- contacts and donations ---------------------------------------------------


def test_contact_add_is_shown_with_its_own_uuid(node, ann):
    first = node.ok("contact", "add", ann, "--method", "door", "--outcome", "supporter",
                    "--note", "likes dogs", "--at", "2026-10-03T14:30:00-04:00",
                    "--by", "Sam").stdout.strip()
    second = node.ok("contact", "add", "614.555.0101", "--method", "phone").stdout.strip()
    assert uuid.UUID(first).version == 7 and first != second
    contacts = node.json("people", "show", ann)["contacts"]
    assert [c["uuid"] for c in contacts] == [first, second]
    assert contacts[0]["at"] == "2026-10-03T18:30:00.000Z"
    assert (contacts[0]["method"], contacts[0]["outcome"], contacts[0]["by"]) \
        == ("door", "supporter", "Sam")
    assert "likes dogs" in node.ok("people", "show", ann).stdout


def test_contact_bad_method_is_a_usage_error(node, ann):
    node.fails("contact", "add", ann, "--method", "carrier-pigeon", code=2)
    node.fails("contact", "add", ann, code=2)
    assert node.count("contacts") == 0


@pytest.mark.parametrize("at", ["yesterday", "2026-02-30", "10/3/2026 2pm"])
def test_contact_bad_time_is_rejected(node, ann, at):
    assert "ISO 8601" in node.fails("contact", "add", ann, "--method", "door", "--at", at)
    assert node.count("contacts") == 0


def test_contact_for_unknown_person(node):
    node.fails("contact", "add", "ghost@example.org", "--method", "door")


def test_donation_add_stores_cents(node, ann):
    donation = node.ok("donation", "add", ann, "--amount", "25.00", "--currency", "usd",
                       "--at", "2026-10-03").stdout.strip()
    assert uuid.UUID(donation).version == 7
    [stored] = node.json("people", "show", ann)["donations"]
    assert stored["uuid"] == donation
    assert stored["amount_cents"] == 2500 and stored["amount"] == "25.00"
    assert stored["currency"] == "USD"
    assert stored["at"] == "2026-10-03T00:00:00.000Z"


@pytest.mark.parametrize("amount", ["abc", "-5", "0", "1.234", ""])
def test_donation_bad_amount_is_rejected(node, ann, amount):
    assert "amount" in node.fails("donation", "add", ann, "--amount", amount)
    assert node.count("donations") == 0


def test_donation_absurd_amount_is_a_clean_error(node, ann):
    node.fails("donation", "add", ann, "--amount", "1e999999")


def test_donation_time_past_the_calendar_is_a_clean_error(node, ann):
    node.fails("donation", "add", ann, "--amount", "5", "--at", "9999-12-31T23:00:00-05:00")


def test_donation_bad_currency_and_unknown_person(node, ann):
    assert "currency" in node.fails("donation", "add", ann, "--amount", "5", "--currency", "US")
    node.fails("donation", "add", "ghost@example.org", "--amount", "5")
    node.fails("donation", "add", ann, code=2)
    assert node.count("donations") == 0


# --- status and audit ---------------------------------------------------------


def test_status(node, ann):
    node.ok("contact", "add", ann, "--method", "text")
    node.ok("donation", "add", ann, "--amount", "10")
    assert {k: v for k, v in node.json("status").items() if k not in ("shares", "summary")} \
        == {"people": 1, "tags": 2, "contacts": 1, "donations": 1}
    text = node.ok("status").stdout
    assert "people" in text and "donations" in text


def test_audit_json_and_limit(node, ann, tmp_path):
    node.ok("people", "export", str(tmp_path / "out.csv"))
    node.ok("people", "erase", ann, "--yes")
    entries = node.json("audit")
    assert [e["action"] for e in entries] == ["erase", "export", "init"]
    for entry in entries:
        assert set(entry) == {"id", "at", "actor", "action", "detail"}
        assert entry["actor"] and entry["at"].endswith("Z")
    assert [e["action"] for e in node.json("audit", "--limit", "1")] == ["erase"]
    assert "export" in node.ok("audit").stdout
    node.fails("audit", "--limit", "0", code=2)
