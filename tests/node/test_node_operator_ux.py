"""What a new operator tripped over (issue 12, "What a new operator tripped over"), on one
node through the real CLI: peers found however they are typed, an invite that names the
peer it makes and warns when nobody can reach it, grants of a tag nobody carries, a
status that fits a terminal, and the smaller things."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from received_helpers import Peer

from tagshare.node.keystore import INTERACTIVE
from tagshare.node.node import init_node
from tagshare.protocol import InviteToken

if TYPE_CHECKING:
    from conftest import Tagshare  # tests/node/conftest.py

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rivera(node: Tagshare) -> Peer:
    """A paired campaign, first known by the name it announced: 'Rivera Campaign'."""
    peer = Peer(node.home, "Rivera Campaign", local_tag="rivera-campaign:volunteers")
    return peer.with_real_node_id(b"r" * 32)


# --- 1. peers by alias, name or id prefix, whatever the case ---------------------------


def test_a_peer_is_found_by_alias_name_or_id_prefix_in_any_case(
        node: Tagshare, rivera: Peer) -> None:
    node.ok("peer", "rename", "rivera campaign", "Rivera")
    for ref in ("rivera", "RIVERA", "Rivera Campaign", "RIVERA CAMPAIGN",
                rivera.node_id[:6], rivera.node_id[:6].swapcase()):
        assert node.json("peer", "show", ref)["node_id"] == rivera.node_id, ref


def test_an_unknown_peer_names_the_closest_ones(node: Tagshare, rivera: Peer) -> None:
    node.ok("peer", "rename", "Rivera Campaign", "rivera")
    error = node.fails("share", "grant", "--tag", "volunteers", "--to", "rivra",
                       "--fields", "name")
    assert "no peer 'rivra'" in error and "did you mean 'rivera'?" in error
    far = node.fails("peer", "show", "zzzzzz")
    assert "no peer 'zzzzzz'" in far and "did you mean" not in far
    assert node.count("shares") == 1  # only the incoming one of the fixture


def test_invite_name_is_kept_for_the_peer_it_pairs(node: Tagshare) -> None:
    token = node.ok("invite", "--name", "rivera").stdout.strip()
    invite_id = InviteToken.decode(token).invite_id
    with node.db() as conn:
        alias = conn.execute("SELECT alias FROM invites WHERE id = ?", (invite_id,)).fetchone()
    assert alias[0] == "rivera"
    assert node.json("invite", "--name", "chen")["alias"] == "chen"
    assert [i["state"] for i in node.json("invite", "list")["invites"]] == ["open", "open"]


def test_invite_name_of_a_peer_already_called_that_is_refused(
        node: Tagshare, rivera: Peer) -> None:
    node.ok("peer", "rename", "Rivera Campaign", "rivera")
    error = node.fails("invite", "--name", " rivera ")
    assert "already called 'rivera'" in error and "keeps its alias" in error
    with node.db() as conn:
        assert conn.execute("SELECT count(*) FROM invites").fetchone()[0] == 0


# --- 2. an invite nobody can use -------------------------------------------------------


def test_invite_warns_when_the_node_url_is_loopback(node: Tagshare, tmp_path: Path) -> None:
    result = node.ok("invite")
    assert result.stdout.startswith("tagshare1:")
    assert "loopback" in result.stderr and "peer add" in result.stderr
    reachable = type(node)(tmp_path / "reachable")
    reachable.ok("init", "--name", "Party", "--url", "https://tagshare.party.example")
    assert "loopback" not in reachable.ok("invite").stderr


# --- 3. peer remove asks, and says whether the peer heard ------------------------------


def test_peer_remove_of_an_unknown_peer_asks_nothing(node: Tagshare, rivera: Peer) -> None:
    error = node.fails("peer", "remove", "chen", input="y\n")
    assert "no peer 'chen'" in error
    with node.db() as conn:
        assert conn.execute("SELECT status FROM peers").fetchone()[0] == "active"


def test_peer_remove_says_when_the_peer_could_not_be_told(
        node: Tagshare, rivera: Peer) -> None:
    result = node.ok("peer", "remove", "Rivera Campaign", "--yes")
    assert "removed peer 'Rivera Campaign'" in result.stdout
    assert "not told" in result.stderr
    with node.db() as conn:
        assert conn.execute("SELECT status FROM peers").fetchone()[0] == "removed"


# --- 5. a grant of a tag nobody carries ------------------------------------------------


def test_grant_of_a_tag_nobody_carries_warns_and_stands(node: Tagshare, rivera: Peer) -> None:
    result = node.ok("share", "grant", "--tag", "nosuchtag", "--to", "rivera campaign",
                     "--fields", "name")
    assert "nobody carries the tag 'nosuchtag'" in result.stderr
    share_id = result.stdout.strip()
    assert node.json("share", "show", share_id)["status"] == "offered"
    node.add("--first-name", "Ann", "--email", "ann@example.org", "--tag", "volunteers")
    carried = node.ok("share", "grant", "--tag", "volunteers", "--to", "rivera campaign",
                      "--fields", "name")
    assert "nobody carries" not in carried.stderr


# --- 6. status ------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_status_fits_80_columns_names_peers_by_alias_and_hides_ended_shares(
        node: Tagshare, rivera: Peer) -> None:
    node.ok("peer", "rename", "Rivera Campaign", "rivera")
    error = ("cannot reach https://tagshare.rivera-for-state-senate.example/federation/v1/"
             "inbox: connection refused by the remote host after several attempts")
    now = datetime.now(UTC)
    with node.db() as conn:
        conn.execute("UPDATE shares SET last_delivery_at = ?", (_iso(now - timedelta(minutes=3)),))
        conn.commit()
    assert node.ok("status").stdout.splitlines()[0] == "all 1 share in sync"
    granted = node.ok("share", "grant", "--tag", "volunteers", "--to", "rivera",
                      "--fields", "name").stdout.strip()
    with node.db() as conn:
        conn.execute("UPDATE shares SET last_error = ? WHERE id = ?", (error, rivera.share))
        conn.execute("UPDATE shares SET status = 'revoked' WHERE id = ?", (granted,))
        conn.commit()
    text = node.ok("status").stdout
    lines = text.splitlines()
    assert lines[0] == "0 of 1 shares in sync: 1 failing (1 ended, shown with --all)"
    assert all(len(line) <= 80 for line in lines), text
    assert "rivera" in text and rivera.node_id[:12] not in text
    assert "3 min ago" in text and "T" not in text.split("LAST SYNC")[1].split()[0]
    assert granted[-8:] not in text
    assert " ".join(error.split()) in " ".join(text.split())  # wrapped, never cut
    everything = node.ok("status", "--all").stdout
    assert granted[-8:] in everything and "revoked" in everything
    assert node.json("share", "show", granted[-8:])["id"] == granted  # the id's end finds it
    assert all(len(line) <= 80 for line in everything.splitlines()), everything


def test_status_json_keeps_its_keys_and_adds_states(node: Tagshare, rivera: Peer) -> None:
    data = node.json("status")
    assert set(data) >= {"people", "tags", "contacts", "donations", "shares"}
    [share] = data["shares"]
    assert share["state"] == "in sync" and share["peer_name"] == "Rivera Campaign"
    assert data["summary"]["in_sync"] == 1


# --- 7. a truncated token --------------------------------------------------------------


@pytest.mark.parametrize("keep", [0.5, 0.9], ids=["half", "most"])
def test_a_truncated_token_is_called_incomplete(node: Tagshare, tmp_path: Path,
                                                keep: float) -> None:
    inviter = type(node)(tmp_path / "inviter")
    inviter.ok("init", "--name", "Party", "--url", "http://127.0.0.1:9")
    token = inviter.ok("invite").stdout.strip()
    for cut in (token[: int(len(token) * keep)], token[:-1], token[:-3]):
        error = node.fails("peer", "add", cut)
        assert "incomplete" in error and "base64" not in error, (cut, error)


# --- 8. smaller things ----------------------------------------------------------------


def test_status_does_not_count_a_tag_nobody_carries(node: Tagshare) -> None:
    ann = node.add("--first-name", "Ann", "--email", "ann@example.org", "--tag", "donors")
    assert node.json("status")["tags"] == 1
    node.ok("tag", "remove", ann, "donors")
    assert node.json("status")["tags"] == 0
    assert "tags       0" in node.ok("status").stdout


def test_passphrase_file_works_after_the_command_name(node: Tagshare, tmp_path: Path) -> None:
    secret = tmp_path / "pass.txt"
    secret.write_text("correct horse battery staple\n")
    secret.chmod(0o600)
    home = tmp_path / "sealed"
    init_node(home, name="Sealed", passphrase=b"correct horse battery staple",
              seal_cost=INTERACTIVE).close()
    sealed = type(node)(home)
    assert "passphrase" in sealed.fails("invite")
    assert sealed.ok("invite", "--passphrase-file", str(secret)).stdout.startswith("tagshare1:")
    assert sealed.ok("--passphrase-file", str(secret), "invite").stdout.startswith("tagshare1:")


def test_the_license_is_an_spdx_expression_with_a_setuptools_that_reads_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "AGPL-3.0-or-later"
    [setuptools] = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    assert setuptools == "setuptools>=77"  # the first to read an SPDX license string
    assert not any(c.startswith("License ::") for c in project["project"].get("classifiers", []))


def test_invite_name_works_on_a_database_from_before_it(node: Tagshare) -> None:
    """The migration that stores an invite's alias, from a real database at the version
    before it."""
    from schema_helpers import downgrade

    from tagshare.node.storage import schema

    before = schema.MIGRATIONS.index(schema.MIGRATION_17)
    downgrade(node.home / "node.db", before)
    with node.db() as conn:
        assert "alias" not in {r[1] for r in conn.execute("PRAGMA table_info(invites)")}
    assert node.json("invite", "--name", "rivera")["alias"] == "rivera"
    with node.db() as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST
        assert conn.execute("SELECT alias FROM invites").fetchone()[0] == "rivera"
