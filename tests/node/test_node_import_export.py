"""`people import` and `people export`: CSV in and out, bad files, round trips."""

import csv
import io
import json

import pytest

from tagshare.node.errors import InvalidInput

NATIONBUILDER_HEADER = (
    "nationbuilder_id,first_name,last_name,email,phone_number,mobile_number,"
    "primary_address1,primary_city,primary_state,primary_zip,tag_list,employer,note,do_not_call"
)


def write(tmp_path, text, name="people.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


def summary(result):
    return result.stdout.strip().splitlines()[-1]


def people_by_email(node):
    return {p["email"]: p for p in node.json("people", "list")}


# --- our columns --------------------------------------------------------------


def test_import_our_columns(node, tmp_path):
    path = write(tmp_path, (
        "first_name,last_name,email,phone,address1,address2,city,state,zip,tags\n"
        "Ann,Lee,ann@example.org,(614) 555-0101,1 Main St,Apt 2,Columbus,OH,43215,"
        "\"volunteers, donors\"\n"
        "Bo,Diaz,bo@example.org,,,,,,,\n"
    ))
    result = node.ok("people", "import", path, "--tag", "spring-import")
    assert summary(result) == "added 2, updated 0, unchanged 0, skipped 0, ambiguous 0"
    people = people_by_email(node)
    ann = people["ann@example.org"]
    assert ann["phone"] == "+16145550101"
    assert (ann["address2"], ann["city"], ann["zip"]) == ("Apt 2", "Columbus", "43215")
    assert ann["tags"] == ["donors", "spring-import", "volunteers"]
    assert people["bo@example.org"]["phone"] is None
    assert people["bo@example.org"]["tags"] == ["spring-import"]


def test_import_is_audited(node, tmp_path):
    path = write(tmp_path, "first_name,email\nAnn,ann@example.org\nBo,broken\n")
    node.ok("people", "import", path)
    [entry] = [e for e in node.json("audit") if e["action"] == "import"]
    assert entry["detail"] == {"file": path, "added": 1, "updated": 0, "skipped": 1,
                               "ambiguous": 0}


def test_import_json_summary(node, tmp_path):
    path = write(tmp_path, "first_name,email,shoe_size\nAnn,ann@example.org,7\nBo,bad,9\n")
    report = json.loads(node.ok("people", "import", path, "--json").stdout)
    assert report == {
        "added": 1, "updated": 0, "unchanged": 0, "skipped": 1, "ambiguous": 0,
        "errors": [{"line": 3, "reason": report["errors"][0]["reason"]}], "reviews": [],
        "ignored_columns": ["shoe_size"],
    }
    assert "invalid email" in report["errors"][0]["reason"]


# --- NationBuilder ------------------------------------------------------------


def test_import_nationbuilder_export(node, tmp_path):
    path = write(tmp_path, NATIONBUILDER_HEADER + "\n"
                 "101,Ann,Lee,ann@example.org,614-555-0101,,1 Main St,Columbus,OH,43215,"
                 "\"volunteers, donors\",Acme,\"met at fair\nsecond line\",false\n"
                 "102,Bo,Diaz,bo@example.org,,(212) 555-0142,,,,,,,,true\n")
    result = node.ok("people", "import", path)
    assert summary(result) == "added 2, updated 0, unchanged 0, skipped 0, ambiguous 0"
    ignored = [line for line in result.stderr.splitlines() if line.startswith("ignored")]
    assert ignored == ["ignored columns: nationbuilder_id, employer, note, do_not_call"]
    people = people_by_email(node)
    ann = people["ann@example.org"]
    assert (ann["first_name"], ann["last_name"], ann["phone"]) == ("Ann", "Lee", "+16145550101")
    assert (ann["address1"], ann["city"], ann["state"], ann["zip"]) \
        == ("1 Main St", "Columbus", "OH", "43215")
    assert ann["tags"] == ["donors", "volunteers"]
    # mobile_number fills in when there is no phone_number
    assert people["bo@example.org"]["phone"] == "+12125550142"
    stored = json.dumps(node.json("people", "list"))
    for dropped in ("Acme", "met at fair", "nationbuilder_id", "do_not_call"):
        assert dropped not in stored


def test_phone_number_wins_over_mobile_number(node, tmp_path):
    path = write(tmp_path, "first_name,phone_number,mobile_number\nAnn,614-555-0101,"
                           "212-555-0142\n")
    node.ok("people", "import", path)
    assert node.json("people", "list")[0]["phone"] == "+16145550101"


# --- duplicates ---------------------------------------------------------------


def test_importing_the_same_file_twice_adds_nobody(node, tmp_path):
    path = write(tmp_path, NATIONBUILDER_HEADER + "\n"
                 "1,Ann,Lee,ann@example.org,614-555-0101,,,,,,volunteers,,,\n"
                 "2,Bo,Diaz,,(212) 555-0142,,,,,,,,,\n"
                 "3,Cy,Ng,,,,9 Elm St,,,43210,,,,\n")
    assert summary(node.ok("people", "import", path)) \
        == "added 3, updated 0, unchanged 0, skipped 0, ambiguous 0"
    before = node.json("people", "list")
    assert summary(node.ok("people", "import", path)) \
        == "added 0, updated 0, unchanged 3, skipped 0, ambiguous 0"
    assert node.json("people", "list") == before
    assert node.json("tag", "list") == [{"name": "volunteers", "people": 1}]


def test_import_matches_existing_people_by_email_then_phone(node, tmp_path):
    ann = node.add("--first-name", "Ann", "--email", "Ann@Example.org")
    bo = node.add("--first-name", "Bo", "--phone", "212-555-0142", "--city", "NYC")
    path = write(tmp_path, "email,phone,last_name,city\n"
                           "ANN@EXAMPLE.ORG,,Lee,\n"
                           ",212.555.0142,Diaz,\n")
    assert summary(node.ok("people", "import", path)) \
        == "added 0, updated 2, unchanged 0, skipped 0, ambiguous 0"
    assert node.json("people", "show", ann)["last_name"] == "Lee"
    shown = node.json("people", "show", bo)
    # an empty cell never erases what the node knows
    assert (shown["last_name"], shown["city"], shown["first_name"]) == ("Diaz", "NYC", "Bo")




def test_identical_rows_within_one_file_are_one_person(node, tmp_path):
    path = write(tmp_path, "first_name,email\nAnn,ann@example.org\nAnn,ann@example.org\n")
    result = node.ok("people", "import", path)
    assert summary(result) == "added 1, updated 0, unchanged 0, skipped 1, ambiguous 0"
    assert _line_errors(result.stderr) == [
        "line 3: email ann@example.org is also on line 2: one row per email, so this row "
        "was skipped (merge the two rows and import it again)"]
    assert node.json("status")["people"] == 1


@pytest.mark.parametrize("nonempty", [False, True])
def test_a_repeated_email_names_both_lines_and_changes_nobody(node, tmp_path, nonempty):
    if nonempty:
        node.add("--first-name", "Zed")
    path = write(tmp_path, "first_name,email,phone,tags\n"
                           "Ann,ann@example.org,,a\n"
                           "Annie,ANN@example.org,614-555-0101,b\n"
                           ",,(614) 555-0101,c\n"
                           "Ann,ann@example.org,,a\n")
    result = node.ok("people", "import", path, "--json")
    report = json.loads(result.stdout)
    assert [(e["line"], e["reason"].split(":")[0]) for e in report["errors"]] == [
        (3, "email ANN@example.org is also on line 2"),
        (5, "email ann@example.org is also on line 2")]
    assert (report["added"], report["skipped"]) == (2, 2)
    ann = node.json("people", "show", "ann@example.org")
    assert (ann["first_name"], ann["phone"], ann["tags"]) == ("Ann", None, ["a"])
    # the email-less row is its own person: the phone was only on the skipped row
    assert node.json("people", "show", "614-555-0101")["tags"] == ["c"]
    assert "also on line 2" in node.fails("people", "import", path, "--strict")


def test_duplicates_across_batches_collapse(node, tmp_path, monkeypatch):
    from tagshare.node import csvio
    monkeypatch.setattr(csvio, "BATCH_ROWS", 2)
    rows = "".join(f"P{i},p{i % 3}@example.org\n" for i in range(7))
    path = write(tmp_path, "first_name,email\n" + rows)
    node.ok("people", "import", path)
    assert node.json("status")["people"] == 3


# --- bad rows -----------------------------------------------------------------


BAD_ROWS = (
    "first_name,email,phone,tags\n"     # line 1
    "Ann,ann@example.org,,\n"           # 2 good
    "Bo,not-an-email,,\n"               # 3 invalid email
    "Cy,,555-01,\n"                     # 4 invalid phone
    "Di,di@example.org\n"               # 5 too few columns
    ",,,\n"                             # 6 blank: skipped silently
    ",,,lonely-tag\n"                   # 7 nobody
    "Ed,ed@example.org,,\"a,,b\"\n"     # 8 good (empty tags dropped)
    "Fi,fi@example.org,,,extra\n"       # 9 too many columns
)


def _line_errors(stderr):
    return [line for line in stderr.splitlines() if line.startswith("line ")]


def test_bad_rows_are_reported_by_line_and_good_rows_applied(node, tmp_path):
    result = node.ok("people", "import", write(tmp_path, BAD_ROWS))
    errors = {e.split(":")[0]: e for e in _line_errors(result.stderr)}
    assert sorted(errors) == ["line 3", "line 4", "line 5", "line 7", "line 9"]
    assert "invalid email" in errors["line 3"]
    assert "invalid phone" in errors["line 4"]
    assert "expected 4 columns, found 2" in errors["line 5"]
    assert "no name, email or phone" in errors["line 7"]
    assert "expected 4 columns, found 5" in errors["line 9"]
    assert summary(result) == "added 2, updated 0, unchanged 0, skipped 5, ambiguous 0"
    assert sorted(people_by_email(node)) == ["ann@example.org", "ed@example.org"]
    assert people_by_email(node)["ed@example.org"]["tags"] == ["a", "b"]


def test_strict_import_with_a_bad_row_applies_nothing(node, tmp_path):
    node.add("--first-name", "Zed")
    before = node.json("status")
    stderr = node.fails("people", "import", write(tmp_path, BAD_ROWS), "--strict",
                        "--tag", "new")
    assert len(_line_errors(stderr)) == 5
    assert "5 bad rows" in stderr
    assert "nothing was imported" in stderr
    assert node.json("status") == before
    assert node.json("tag", "list") == []
    assert not [e for e in node.json("audit") if e["action"] == "import"]




def test_bad_rows_are_reported_in_line_order(node, tmp_path):
    result = node.ok("people", "import", write(tmp_path, BAD_ROWS))
    lines = [int(e.split(":")[0].split()[1]) for e in _line_errors(result.stderr)]
    assert lines == sorted(lines)


def test_strict_import_names_the_first_bad_line(node, tmp_path):
    stderr = node.fails("people", "import", write(tmp_path, BAD_ROWS), "--strict")
    assert "5 bad rows (first on line 3)" in stderr


def test_strict_import_of_a_clean_file_applies_it(node, tmp_path):
    path = write(tmp_path, "first_name,email\nAnn,ann@example.org\n")
    node.ok("people", "import", path, "--strict")
    assert node.json("status")["people"] == 1


def test_bad_import_tag_is_refused_before_reading(node, tmp_path):
    path = write(tmp_path, "first_name\nAnn\n")
    node.fails("people", "import", path, "--tag", "a,b")
    assert node.json("status")["people"] == 0


# --- bad files ----------------------------------------------------------------


@pytest.mark.parametrize(("content", "message"), [
    ("", "is empty"),
    (b"\xef\xbb\xbf", "is empty"),
    ("nationbuilder_id,employer,do_not_call\n1,Acme,true\n", "no known columns"),
    ("\n\n", "no known columns"),
    (b"first_name,email\nAnn,ann@example.org\nJos\xe9,jose@example.org\n", "not UTF-8"),
    ("first_name,email\r\n" + "x" * 200_000 + ",a@example.org\r\n", "not valid CSV"),
])
def test_unusable_files_are_refused_and_nothing_is_imported(node, tmp_path, content, message):
    stderr = node.fails("people", "import", write(tmp_path, content))
    assert message in stderr
    assert node.json("status")["people"] == 0


def test_latin1_file_is_refused_and_nothing_is_imported(node, tmp_path):
    path = write(tmp_path, "first_name,city\nJosé,Peñasco\n", encoding="latin-1")
    assert "UTF-8" in node.fails("people", "import", path)
    assert node.json("status")["people"] == 0


def test_missing_file(node, tmp_path):
    assert "cannot read" in node.fails("people", "import", str(tmp_path / "nope.csv"))


def test_header_only_file_imports_nothing(node, tmp_path):
    result = node.ok("people", "import", write(tmp_path, "first_name,last_name,email\n"))
    assert summary(result) == "added 0, updated 0, unchanged 0, skipped 0, ambiguous 0"


def test_utf8_bom_and_odd_header_case(node, tmp_path):
    path = write(tmp_path, "\ufeff First_Name ,EMAIL\nJosé,jose@example.org\n")
    node.ok("people", "import", path)
    assert node.json("people", "list")[0]["first_name"] == "José"


def test_ragged_rows_are_bad_rows_not_a_crash(node, tmp_path):
    path = write(tmp_path, "first_name,email\nAnn\nBo,bo@example.org,x,y\n\"Cy,cy@example.org\n")
    result = node.ok("people", "import", path)
    assert summary(result).endswith("skipped 3, ambiguous 0")
    assert node.json("status")["people"] == 0


def test_the_first_bad_field_in_header_order_is_named_whatever_its_length(node, tmp_path):
    """A row with a cell over 500 characters is checked field by field in header order,
    as any other row: its reason is the first bad field's, too long or not."""
    long = "x" * 501
    tags = ",".join(["t"] * 300)  # a long tags cell is no long field
    path = write(tmp_path, "email,first_name,phone,city,tags,note\n"
                 f"bad-email,{long},,,,\n"
                 f"a@example.org,{long},555-01,,,\n"
                 f"b@example.org,Bo,555-01,{long},,\n"
                 f"c@example.org,Cy,,{long},,\n"
                 f"d@example.org,Di,,,\"{tags}\",{long}\n"
                 f"{long}@example.org,Ed,,,,\n")
    report = node.json("people", "import", path, "--json")
    assert [(e["line"], e["reason"].split(" (")[0].split(":")[0]) for e in report["errors"]] == [
        (2, "invalid email 'bad-email'"), (3, "first_name is longer than 500 characters"),
        (4, "invalid phone number '555-01'"), (5, "city is longer than 500 characters"),
        (7, "email is longer than 500 characters")]
    assert report["added"] == 1
    assert node.json("people", "show", "d@example.org")["tags"] == ["t"]


# --- export -------------------------------------------------------------------


@pytest.fixture
def populated(node, tmp_path):
    path = write(tmp_path, NATIONBUILDER_HEADER + "\n"
                 "1,Ann,Lee,ann@example.org,614-555-0101,,1 Main St,Columbus,OH,43215,"
                 "\"volunteers, donors\",,,\n"
                 "2,Bo,\"Diaz, Jr.\",,,(212) 555-0142,,,,,volunteers,,,\n"
                 "3,Cy,\"O\"\"Neil\",,,,\"9 Elm St\nRear\",Dayton,OH,45402,,,,\n")
    node.ok("people", "import", path)
    node.add("--first-name", "Di", "--email", "di@example.org", "--phone", "+44 20 7946 0958")
    return node


def _comparable(people):
    ignore = {"uuid", "created_at", "updated_at", "version"}
    return sorted(({k: v for k, v in p.items() if k not in ignore} for p in people),
                  key=lambda p: (p["first_name"] or ""))


def test_export_then_import_round_trips(populated, tmp_path, fresh):
    out = tmp_path / "export.csv"
    populated.ok("people", "export", str(out))
    other = type(fresh)(tmp_path / "other")
    other.ok("init", "--name", "Other")
    assert summary(other.ok("people", "import", str(out))).startswith("added 4,")
    assert _comparable(other.json("people", "list")) \
        == _comparable(populated.json("people", "list"))
    # and back into the node it came from: nothing changes
    assert summary(populated.ok("people", "import", str(out))) \
        == "added 0, updated 0, unchanged 4, skipped 0, ambiguous 0"


def test_export_columns_match_import_names(populated, tmp_path):
    out = tmp_path / "export.csv"
    result = populated.ok("people", "export", str(out))
    assert "exported 4 people" in result.stderr
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["uuid", "first_name", "last_name", "email", "phone", "address1",
                             "address2", "city", "state", "zip", "tags"]
    assert [r["uuid"] for r in rows] == [p["uuid"] for p in populated.json("people", "list")]
    assert rows[0]["tags"] == "donors,volunteers"


def test_export_to_stdout_with_tag_filter(populated):
    result = populated.ok("people", "export", "-", "--tag", "volunteers")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["first_name"] for r in rows] == ["Ann", "Bo"]
    assert rows[1]["last_name"] == "Diaz, Jr."


def test_export_is_audited_with_rows_and_filter(populated, tmp_path):
    populated.ok("people", "export", "-", "--tag", "volunteers")
    out = str(tmp_path / "all.csv")
    populated.ok("people", "export", out)
    exports = [e for e in populated.json("audit") if e["action"] == "export"]
    assert [e["detail"] for e in exports] == [
        {"target": out, "rows": 4, "filter": {"tag": None}},
        {"target": "-", "rows": 2, "filter": {"tag": "volunteers"}},
    ]
    assert all(e["actor"] and e["at"] for e in exports)


def test_export_of_an_empty_node_is_just_the_header(node):
    result = node.ok("people", "export", "-")
    assert result.stdout.strip() == "uuid,first_name,last_name,email,phone,address1,address2," \
                                    "city,state,zip,tags"


def test_export_to_an_unwritable_place(node, tmp_path):
    node.fails("people", "export", str(tmp_path / "no" / "such" / "dir.csv"))


# --- bulk path: import into an empty node ---------------------------------------


def _indexes(node):
    with node.db() as conn:
        return sorted(r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN ('people', 'taggings')"))


def _stored(node):
    return _comparable(node.json("people", "list"))


DUPLICATES = (
    "first_name,last_name,email,phone,address1,zip,tags\n"
    "Ann,Lee,ann@example.org,,1 Main St,43215,a\n"
    "Bo,Diaz,bo@example.org,614-555-0101,,,b\n"
    "Cy,Ng,,,9 Elm St,43210,c\n"
    "Di,Fox,di@example.org,212-555-0142,,,d\n"
    "Ann,,ANN@example.org,(740) 555-0199,,,e\n"      # Ann again, by email
    ",Diaz,bo2@example.org,+1 614 555 0101,,,f\n"    # not Bo: another email, same phone
    "Cy,Ng,,,9 Elm St,43210,g\n"                     # Cy again, by name and address
    "Ed,Kim,ed@example.org,,,,h\n"
)


@pytest.mark.parametrize("batch", [1, 2, 3, 1000])
def test_bulk_import_matches_the_matching_path(node, fresh, tmp_path, monkeypatch, batch):
    """Into an empty node (bulk path, switching to matching at the first repeat) the
    result is the same as into a node that already has someone (matching path)."""
    from tagshare.node import csvio
    monkeypatch.setattr(csvio, "BATCH_ROWS", batch)
    path = write(tmp_path, DUPLICATES)
    other = type(fresh)(tmp_path / "other")
    other.ok("init", "--name", "Other")
    other.add("--first-name", "Zed", "--email", "zed@example.org")
    assert summary(node.ok("people", "import", path)) \
        == summary(other.ok("people", "import", path))
    assert _stored(node) == [p for p in _stored(other) if p["first_name"] != "Zed"]
    assert node.json("status")["people"] == 6
    assert _indexes(node) == _indexes(other)


def _search_index(conn):
    """Every token of the full-text index (term, person, column, position), and the
    counts of people and tokens its ranking uses (FTS5's averages record)."""
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.people_vocab "
                 "USING fts5vocab(main, people_fts, instance)")
    averages = conn.execute("SELECT block FROM people_fts_data WHERE id = 1").fetchone()[0]
    return averages, sorted(tuple(row) for row in conn.execute(
        "SELECT * FROM temp.people_vocab"))


@pytest.mark.parametrize(("batch", "chunk"), [(1, 1), (1, 2), (2, 3), (1000, 20_000)])
def test_bulk_import_indexes_everyone_for_search_once(node, tmp_path, monkeypatch, batch,
                                                       chunk):
    """The bulk path adds its people to the search index in chunks as it goes, and the
    matching path after the first repeat through the trigger: the index is exactly what
    a rebuild from the people gives (nobody missing, nobody twice)."""
    from tagshare.node import csvio
    monkeypatch.setattr(csvio, "BATCH_ROWS", batch)
    monkeypatch.setattr(csvio, "SEARCH_INDEX_ROWS", chunk)
    node.ok("people", "import", write(tmp_path, DUPLICATES))
    with node.db() as conn:
        built = _search_index(conn)
        conn.execute("INSERT INTO people_fts (people_fts) VALUES ('rebuild')")
        assert built == _search_index(conn) and len({row[1] for row in built[1]}) == 6
    found = node.json("people", "search", "Diaz")
    assert sorted(p["email"] for p in found) == ["bo2@example.org", "bo@example.org"]


def test_bulk_import_of_a_clean_file_rebuilds_every_index(node, tmp_path):
    before = _indexes(node)
    rows = "".join(f"P{i},p{i}@example.org,614-555-{i:04d},t{i % 3}\n" for i in range(50))
    path = write(tmp_path, "first_name,email,phone,tags\n" + rows)
    assert summary(node.ok("people", "import", path)) \
        == "added 50, updated 0, unchanged 0, skipped 0, ambiguous 0"
    assert _indexes(node) == before and "people_email" in before
    with node.db() as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert node.json("people", "show", "p7@example.org")["tags"] == ["t1"]
    node.ok("people", "show", "614-555-0042")


@pytest.mark.parametrize("nonempty", [False, True])
def test_a_tag_given_twice_tags_once_and_tags_are_in_place_at_once(node, tmp_path, nonempty,
                                                                   monkeypatch):
    """The bulk path sets taggings aside and adds them at the end: the same counts, and
    the matching path that may follow it in the same import sees them."""
    from tagshare.node import csvio
    monkeypatch.setattr(csvio, "BATCH_ROWS", 1)
    if nonempty:
        node.add("--first-name", "Zed")
    path = write(tmp_path, "first_name,email,phone,tags\n"
                           "Ann,ann@example.org,614-555-0101,\"a,a,b\"\n"
                           "Bo,bo@example.org,,b\n"
                           ",,614-555-0101,c\n")  # Ann again by phone: ends the bulk path
    node.ok("people", "import", path, "--tag", "a")
    assert node.json("people", "show", "ann@example.org")["tags"] == ["a", "b", "c"]
    assert node.json("people", "show", "bo@example.org")["tags"] == ["a", "b"]
    with node.db() as conn:
        assert conn.execute("SELECT count(*) FROM taggings").fetchone()[0] == 5
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize("chunk", [1, 2, 4, 10**6])
def test_taggings_added_chunk_by_chunk_or_at_the_end_are_the_same(node, tmp_path, monkeypatch,
                                                                 chunk):
    """The bulk path adds the taggings it set aside with each search chunk, and the rest
    at the end: the same tags whatever the chunk."""
    from tagshare.node import csvio
    monkeypatch.setattr(csvio, "BATCH_ROWS", 1)
    monkeypatch.setattr(csvio, "SEARCH_INDEX_ROWS", chunk)
    path = write(tmp_path, "first_name,email,tags\n" + "".join(
        f"P{i},p{i}@example.org,\"t{i % 3},all,all\"\n" for i in range(9)))
    node.ok("people", "import", path, "--tag", "spring")
    assert node.json("status")["people"] == 9
    assert {p["email"]: p["tags"] for p in node.json("people", "list")} == {
        f"p{i}@example.org": sorted(["all", "spring", f"t{i % 3}"]) for i in range(9)}
    with node.db() as conn:
        assert conn.execute("SELECT count(*) FROM taggings").fetchone()[0] == 27
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_rejected_bulk_import_leaves_the_schema_intact(node, tmp_path):
    before = _indexes(node)
    node.fails("people", "import", write(tmp_path, BAD_ROWS), "--strict")
    assert _indexes(node) == before
    assert node.json("status")["people"] == 0


def test_failed_bulk_import_leaves_the_schema_intact(node, tmp_path):
    before = _indexes(node)
    content = "first_name,email\n" + "".join(f"P{i},p{i}@example.org\n" for i in range(5000))
    node.fails("people", "import", write(tmp_path, content.encode() + b"Jos\xe9,j@x.org\n"))
    assert _indexes(node) == before
    assert node.json("status")["people"] == 0


def _share_tag(node, tag):
    """An active outgoing share of `tag` (written directly: no peer needed here)."""
    with node.db() as conn:
        tag_id = conn.execute("INSERT INTO tags (name) VALUES (?)", (tag,)).lastrowid
        conn.execute(
            "INSERT INTO shares (id, direction, peer, tag, tag_id, local_tag, fields, "
            "on_revoke, status, epoch, created_at, updated_at) VALUES ('s1', 'outgoing', "
            "'peer', ?, ?, ?, '[]', 'keep', 'active', 'e1', 'now', 'now')",
            (tag, tag_id, tag))
        conn.commit()


def _pending(node):
    with node.db() as conn:
        return {r[0] for r in conn.execute(
            "SELECT p.email FROM pending JOIN people p ON p.uuid = pending.person")}


@pytest.mark.parametrize("nonempty", [False, True])
def test_import_queues_people_of_an_actively_shared_tag(node, tmp_path, nonempty):
    """Triggers still fire on the bulk path: an empty node can share a tag."""
    _share_tag(node, "volunteers")
    if nonempty:
        node.add("--first-name", "Zed")
    path = write(tmp_path, "first_name,email,tags\n"
                           "Ann,ann@example.org,volunteers\n"
                           "Bo,bo@example.org,donors\n"
                           "Cy,cy@example.org,\"donors,volunteers\"\n")
    node.ok("people", "import", path, "--tag", "spring")
    assert _pending(node) == {"ann@example.org", "cy@example.org"}


def test_bulk_import_turns_foreign_keys_back_on(node, tmp_path):
    from tagshare.node import csvio
    from tagshare.node.node import open_node
    opened = open_node(node.home)
    try:
        csvio.import_csv(opened, write(tmp_path, "first_name\nAnn\n"), tags=["t"])
        assert opened.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        with pytest.raises(InvalidInput):
            csvio.import_csv(opened, write(tmp_path, "first_name\nBo\n", "b.csv"), tags=["a,b"])
        assert opened.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        opened.close()
