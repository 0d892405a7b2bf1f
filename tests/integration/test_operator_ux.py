"""What a new operator tripped over (issue 12), with real nodes: the operator guide's
pairing and grant as written, a peer that is told it was removed (and can remove only
itself), a re-invite that keeps aliases, offers and new terms that read well, `sync` by
alias, and `serve --no-listen` saying what it does."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from shares_helpers import (
    CAMPAIGN_A,
    PLACEHOLDER_URL,
    Org,
    Trio,
    assert_unchanged,
    cli_json,
    post_inbox,
    run_cli,
    send_as,
    wait_until,
)

from tagshare.node.keystore import generate_keys
from tagshare.node.node import init_node
from tagshare.protocol import PeerRemove, seal

ROOT = Path(__file__).resolve().parents[2]


def peer_status(org: Org, peer: Org) -> str:
    return str(org.value("SELECT status FROM peers WHERE node_id = ?", (peer.node_id,)))


def alias_of(org: Org, peer: Org) -> str | None:
    return org.value("SELECT alias FROM peers WHERE node_id = ?", (peer.node_id,))


async def test_the_operator_guide_pairing_and_grant_work_as_written(
        trio: Trio, tmp_path: Path) -> None:
    """`invite --name rivera`, `peer add`, then `share grant ... --to rivera` (item 1); the
    offer shows its tag (item 4) and no accepted time until someone accepts."""
    party = trio.party
    party.add_person(first_name="Ann", email="ann@example.org")
    rivera = Org("rivera", tmp_path / "rivera")
    init_node(rivera.home, name="Rivera for State Senate", url=PLACEHOLDER_URL).close()
    try:
        await rivera.start()
        invited = await run_cli(party, "invite", "--name", "rivera", "--expires", "24h")
        assert invited.exit_code == 0, invited.output
        token = invited.stdout.strip()
        paired = await run_cli(rivera, "peer", "add", token, "--name", "odp")
        assert paired.exit_code == 0, paired.output
        assert alias_of(party, rivera) == "rivera"

        granted = await run_cli(party, "share", "grant", "--tag", "volunteers", "--to",
                                "rivera", "--fields", "name,email,phone,contacts",
                                "--on-revoke", "purge")
        assert granted.exit_code == 0, granted.output
        assert "nobody carries" not in granted.stderr
        share_id = granted.stdout.strip()
        await wait_until(lambda: rivera.status(share_id) == "offered", message="offer arrives")

        incoming = (await run_cli(rivera, "share", "list", "--incoming")).stdout
        [row] = [line for line in incoming.splitlines() if line.startswith(share_id)]
        assert "volunteers" in row.split() and " - " not in row.split("odp")[1][:14]
        for org in (party, rivera):
            [terms] = cli_json(await run_cli(org, "share", "show", share_id, "--json"))["terms"]
            assert terms["accepted_at"] is None, (org.label, terms)
        assert (await run_cli(rivera, "share", "accept", share_id)).exit_code == 0
        [terms] = cli_json(await run_cli(rivera, "share", "show", share_id, "--json"))["terms"]
        assert terms["accepted_at"]
        await wait_until(lambda: party.status(share_id) == "active", message="accept arrives")
        await wait_until(lambda: party.value(
            "SELECT accepted_at FROM share_terms WHERE share = ?", (share_id,)),
            message="the granter records when its offer was accepted")
    finally:
        await rivera.close()


async def test_pending_terms_show_in_share_list_status_and_show(trio: Trio) -> None:
    party, a = trio.party, trio.a
    party.add_person(first_name="Ann", email="ann@example.org")
    share_id = await trio.active(a, fields="name")
    edited = await run_cli(party, "share", "edit", share_id, "--fields", "name,email")
    assert edited.exit_code == 0, edited.output
    await wait_until(lambda: a.share(share_id)["proposed"], message="new terms arrive")

    listed = (await run_cli(a, "share", "list")).stdout
    assert "active, terms v2 offered" in listed
    status = (await run_cli(a, "status")).stdout
    assert status.splitlines()[0] == "0 of 1 shares in sync: 1 with new terms offered"
    assert "terms v2 offered" in status
    shown = (await run_cli(a, "share", "show", share_id)).stdout
    assert "v2: name, email; on revoke purge" in shown and "{" not in shown
    assert f"tagshare share accept {share_id}" in shown


async def test_peer_remove_tells_the_peer_which_shows_it_removed(trio: Trio) -> None:
    party, a, b = trio.orgs
    result = await run_cli(party, "peer", "remove", "campaign a", "--yes")
    assert result.exit_code == 0, result.output
    assert "the peer was told" in result.stdout
    assert peer_status(party, a) == "removed"
    assert peer_status(a, party) == "removed"
    removed = cli_json(await run_cli(a, "peer", "list", "--all", "--json"))
    assert [p["status"] for p in removed if p["node_id"] == party.node_id] == ["removed"]
    assert a.value("SELECT count(*) FROM audit WHERE action = 'peer.removed_by_peer'") == 1
    # Nobody else was touched.
    assert peer_status(party, b) == "active" and peer_status(b, party) == "active"


async def test_peer_remove_of_a_stopped_peer_removes_here_and_says_it_was_not_told(
        trio: Trio) -> None:
    party, a, _ = trio.orgs
    await a.stop()
    result = await run_cli(party, "peer", "remove", CAMPAIGN_A, "--yes")
    assert result.exit_code == 0, result.output
    assert "not told" in result.stderr
    assert peer_status(party, a) == "removed" and peer_status(a, party) == "active"


async def test_a_peer_can_remove_only_itself(trio: Trio) -> None:
    """`peer.remove` removes its sender, never anyone else; a stranger's is refused."""
    party, a, b = trio.orgs
    stranger = seal(sender=generate_keys(), recipient_id=party.node_id,
                    recipient_box_key=party.op.keys.box_public, message=PeerRemove(),
                    message_id=os.urandom(16), nonce=os.urandom(24), created=int(time.time()))
    before = party.snapshot()
    status, body = await post_inbox(party, stranger)
    assert (status, body["error"]) == (403, "unknown_peer")
    assert_unchanged(before, party.snapshot())

    status, detail = await send_as(b, party, PeerRemove())
    assert (status, detail) == (200, {"status": "removed"})
    assert peer_status(party, b) == "removed" and peer_status(party, a) == "active"
    status, body = await send_as(b, party, PeerRemove())
    assert (status, body["error"]) == (403, "unknown_peer")  # and it is refused from now on


async def test_pairing_again_keeps_both_aliases_and_says_so(
        trio: Trio, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tagshare.pairing")
    party, a, _ = trio.orgs
    for org, peer, alias in ((party, a, "cam-a"), (a, party, "odp")):
        renamed = await run_cli(org, "peer", "rename", peer.name, alias)
        assert renamed.exit_code == 0, renamed.output
    token = (await run_cli(party, "invite", "--name", "newcomer")).stdout.strip()
    again = await run_cli(a, "peer", "add", token, "--name", "party")
    assert again.exit_code == 0, again.output
    assert "paired again" in again.stdout
    assert "keeps its alias 'odp'" in again.stderr and "--name 'party' not applied" in again.stderr
    assert alias_of(a, party) == "odp"
    assert alias_of(party, a) == "cam-a"  # the invite's --name was for a new peer
    assert "peer 'cam-a' paired again" in caplog.text  # the inviter's serve log says so


async def test_sync_names_peers_by_alias(trio: Trio) -> None:
    party, a, _ = trio.orgs
    await party.stop()  # no worker: `sync` delivers
    assert (await run_cli(party, "peer", "rename", CAMPAIGN_A, "cam-a")).exit_code == 0
    party.add_person(first_name="Ann", email="ann@example.org")
    party.grant(a)
    result = await run_cli(party, "sync")
    assert result.exit_code == 0, result.output
    assert "cam-a: delivered 1" in result.stdout
    assert a.node_id[:12] not in result.output


def test_serve_no_listen_says_it_opened_no_port(tmp_path: Path) -> None:
    init_node(tmp_path / "home", name="Behind NAT").close()
    process = subprocess.Popen(
        [sys.executable, "-c", "from tagshare.cli.main import main; main()", "serve", "--home",
         str(tmp_path / "home"), "--no-listen", "--admin-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stderr is not None
        with process.stderr:
            for line in process.stderr:
                lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        while (line := lines.get(timeout=30)) is not None:
            seen.append(line)
            if "Behind NAT" in line:
                break
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=30)
        assert process.stdout is not None
        process.stdout.close()
    text = "".join(seen)
    assert "is running without a port (--no-listen)" in text, text
    assert "listening on" not in text and "not listening" not in text, text


async def test_peer_add_to_an_inviter_that_is_not_serving_asks_if_serve_runs(
        trio: Trio, tmp_path: Path) -> None:
    party = trio.party
    token = (await run_cli(party, "invite")).stdout.strip()
    url = party.url
    await party.stop()
    joiner = Org("joiner", tmp_path / "joiner")
    init_node(joiner.home, name="Joiner", url=PLACEHOLDER_URL).close()
    try:
        result = await asyncio.to_thread(run_joiner, joiner, token)
        last = result.stderr.strip().splitlines()[-1]
        assert last == (f"Error: cannot reach the inviter at {url}: is `tagshare serve` "
                        f"running at {url}?"), last
    finally:
        await joiner.close()


def run_joiner(joiner: Org, token: str):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from tagshare.cli.main import cli
    return CliRunner().invoke(cli, ["--home", str(joiner.home), "peer", "add", token])
