"""Pairing two real nodes by invite: end to end, through the CLI, and every refusal."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner, Result
from federation_helpers import (
    FakeClock,
    RunningNode,
    StartNode,
    assert_unchanged,
    expect_refusal,
    join_with,
    pair,
    pair_request,
)

from tagshare.cli.main import cli
from tagshare.node.client import PeerRefused
from tagshare.node.errors import InvalidInput
from tagshare.node.keystore import generate_keys
from tagshare.node.pairing import (
    FAILURE_WINDOW_SECONDS,
    MAX_INVITE_FAILURES,
    MAX_SOURCE_FAILURES,
    PAIR_PATH,
    create_invite,
    list_invites,
)
from tagshare.node.peers import list_peers, show_peer
from tagshare.protocol import fingerprint


def tagshare(home: Path, *args: str) -> Result:
    """`tagshare ARGS --home HOME`, in-process; must succeed."""
    result = CliRunner().invoke(cli, [*args, "--home", str(home)], catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"tagshare {' '.join(args)} raised {result.exception!r}\n{result.output}")
    assert result.exit_code == 0, f"tagshare {' '.join(args)}:\n{result.output}"
    return result


def assert_knows(node: RunningNode, other: RunningNode) -> None:
    [peer] = list_peers(node.node)
    assert peer["node_id"] == other.node_id
    assert peer["name"] == other.name
    assert peer["url"] == other.url
    assert peer["status"] == "active"
    assert peer["fingerprint"] == other.node.fingerprint
    [row] = node.rows("peers")
    assert row["box_key"] == other.keys.box_public_b64
    document = show_peer(node.node, other.node_id)["document"]
    assert document["box_key"] == other.keys.box_public_b64
    assert document["url"] == other.url


async def test_pairing_end_to_end(alice: RunningNode, bob: RunningNode) -> None:
    info = await pair(alice, bob, alias="bobs-friends")
    assert info["node_id"] == alice.node_id and info["alias"] == "bobs-friends"
    assert_knows(alice, bob)
    assert_knows(bob, alice)
    [invite] = alice.rows("invites")
    assert invite["used_by"] == bob.node_id and invite["used_at"]
    assert [row["action"] for row in alice.rows("audit")][-1] == "peer.add"
    assert [row["action"] for row in bob.rows("audit")][-1] == "peer.add"


async def test_pairing_through_the_cli(alice: RunningNode, bob: RunningNode) -> None:
    token = json.loads(tagshare(alice.home, "invite", "--json", "--expires", "1h").stdout)
    assert token["url"] == alice.url and token["node_id"] == alice.node_id
    # `peer add` runs its own event loop, so it runs off this one while the servers answer.
    added = await asyncio.to_thread(tagshare, bob.home, "peer", "add", token["token"],
                                    "--name", "alice")
    assert "paired with 'Alice Org'" in added.stdout
    assert f"fingerprint: {alice.node.fingerprint}" in added.stdout

    assert_knows(alice, bob)
    assert_knows(bob, alice)
    [on_bob] = json.loads(tagshare(bob.home, "peer", "list", "--json").stdout)
    assert (on_bob["node_id"], on_bob["alias"], on_bob["url"]) == (alice.node_id, "alice",
                                                                   alice.url)
    [on_alice] = json.loads(tagshare(alice.home, "peer", "list", "--json").stdout)
    assert (on_alice["node_id"], on_alice["name"]) == (bob.node_id, "Bob Org")

    # Operators compare fingerprints by voice: `peer show` here, `id` there.
    for here, there, ref in ((alice, bob, "Bob Org"), (bob, alice, "alice")):
        identity = json.loads(tagshare(there.home, "id", "--json").stdout)
        shown = tagshare(here.home, "peer", "show", ref).stdout
        assert identity["fingerprint"] == fingerprint(there.node_id)
        assert identity["fingerprint"] in shown
        assert json.loads(tagshare(here.home, "peer", "show", ref, "--json").stdout)[
            "fingerprint"] == identity["fingerprint"]


async def test_pairing_against_a_dead_inviter_fails_cleanly(
        start_node: StartNode, bob: RunningNode) -> None:
    gone = await start_node("Gone Org")
    token = create_invite(gone.node, timedelta(hours=1), gone.clock())
    await gone.runner.cleanup()
    before = bob.snapshot()
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["peer", "add", token.encode(), "--home", str(bob.home)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1].startswith("Error: cannot reach")
    assert_unchanged(before, bob.snapshot())


async def test_reused_invite_is_refused(start_node: StartNode, alice: RunningNode,
                                        bob: RunningNode) -> None:
    carol = await start_node("Carol Org")
    token = create_invite(alice.node, timedelta(hours=1), alice.clock()).encode()
    await join_with(bob, token)
    before = [alice.snapshot(), carol.snapshot()]
    with pytest.raises(PeerRefused) as refused:
        await join_with(carol, token)
    assert (refused.value.status, refused.value.code) == (403, "bad_invite")
    # The loser held the right secret: it guessed nothing, and nothing is counted.
    assert_unchanged(before[0], alice.snapshot())
    assert_unchanged(before[1], carol.snapshot())
    [peer] = list_peers(alice.node)
    assert peer["node_id"] == bob.node_id


async def test_reused_invite_is_refused_over_http(
        http: aiohttp.ClientSession, start_node: StartNode, alice: RunningNode,
        bob: RunningNode, clock: FakeClock) -> None:
    carol = await start_node("Carol Org")
    token = create_invite(alice.node, timedelta(hours=1), clock())
    await join_with(bob, token.encode())
    await expect_refusal(http, alice, PAIR_PATH, pair_request(carol, token, created=clock()),
                         status=403, code="bad_invite", nodes=[alice, bob, carol])


async def test_expired_invite_is_refused_by_the_inviter(
        http: aiohttp.ClientSession, alice: RunningNode, bob: RunningNode,
        clock: FakeClock) -> None:
    token = create_invite(alice.node, timedelta(minutes=30), clock())
    clock.advance(31 * 60)
    await expect_refusal(http, alice, PAIR_PATH, pair_request(bob, token, created=clock()),
                         status=403, code="bad_invite", nodes=[alice, bob])
    [invite] = alice.rows("invites")
    assert invite["used_at"] is None


async def test_expired_invite_is_refused_by_the_joiner_before_any_request(
        alice: RunningNode, bob: RunningNode, clock: FakeClock) -> None:
    token = create_invite(alice.node, timedelta(minutes=30), clock())
    clock.advance(31 * 60)
    before = [alice.snapshot(), bob.snapshot()]
    with pytest.raises(InvalidInput, match="expired"):
        await join_with(bob, token.encode())
    assert_unchanged(before[0], alice.snapshot())
    assert_unchanged(before[1], bob.snapshot())


async def test_wrong_secret_is_refused(http: aiohttp.ClientSession, alice: RunningNode,
                                       bob: RunningNode, clock: FakeClock) -> None:
    token = create_invite(alice.node, timedelta(hours=1), clock())
    body = pair_request(bob, token, created=clock(), secret=os.urandom(16))
    await expect_refusal(http, alice, PAIR_PATH, body, status=403, code="bad_invite",
                         nodes=[alice, bob], grown={"pairing_failures": 1, "invite_failures": 1})
    [failure] = alice.rows("pairing_failures")
    assert (failure["invite_id"], failure["node_id"]) == (token.invite_id, bob.node_id)
    assert [tuple(row) for row in alice.rows("invite_failures")] == [(token.invite_id, 1)]
    # The invite is still good for the right secret.
    await join_with(bob, token.encode())
    assert_knows(alice, bob)


async def test_unknown_invite_is_refused(http: aiohttp.ClientSession, alice: RunningNode,
                                         bob: RunningNode, clock: FakeClock) -> None:
    token = create_invite(alice.node, timedelta(hours=1), clock())
    other = create_invite(bob.node, timedelta(hours=1), clock())
    forged = dataclasses.replace(token, invite_id=other.invite_id)
    await expect_refusal(http, alice, PAIR_PATH, pair_request(bob, forged, created=clock()),
                         status=403, code="bad_invite", nodes=[alice, bob],
                         grown={"pairing_failures": 1})


async def test_a_strangers_guesses_never_lock_out_a_valid_invite(
        http: aiohttp.ClientSession, alice: RunningNode, bob: RunningNode,
        clock: FakeClock) -> None:
    """Was: ten bogus requests from a fresh key made even a valid token `rate_limited`,
    node-wide. Now the stranger's own address is limited, and a valid invite pairs, even
    from that same address (127.0.0.1 here, as behind a reverse proxy)."""
    token = create_invite(alice.node, timedelta(hours=1), clock())
    stranger = generate_keys()
    unknown = dataclasses.replace(token, invite_id=create_invite(
        bob.node, timedelta(hours=1), clock()).invite_id)
    for _ in range(MAX_SOURCE_FAILURES):
        body = pair_request(stranger, unknown, created=clock(), secret=os.urandom(16))
        await expect_refusal(http, alice, PAIR_PATH, body, status=403, code="bad_invite",
                             nodes=[alice], grown={"pairing_failures": 1})
    for _ in range(3):  # past the limit: refused, and no longer written down
        body = pair_request(stranger, unknown, created=clock(), secret=os.urandom(16))
        await expect_refusal(http, alice, PAIR_PATH, body, status=429, code="rate_limited",
                             nodes=[alice, bob])
    [recent] = list_invites(alice.node, clock())["recent_failures"]
    assert (recent["source"], recent["failures"], recent["node_keys"]) == (
        "127.0.0.1", MAX_SOURCE_FAILURES, 1)

    await join_with(bob, token.encode())
    assert_knows(alice, bob)
    assert_knows(bob, alice)


async def test_wrong_secrets_against_one_invite_are_capped(
        http: aiohttp.ClientSession, alice: RunningNode, bob: RunningNode,
        clock: FakeClock) -> None:
    token = create_invite(alice.node, timedelta(hours=1), clock())
    stranger = generate_keys()
    for _ in range(MAX_INVITE_FAILURES):
        body = pair_request(stranger, token, created=clock(), secret=os.urandom(16))
        await expect_refusal(http, alice, PAIR_PATH, body, status=403, code="bad_invite",
                             nodes=[bob])
        clock.advance(FAILURE_WINDOW_SECONDS // 4)  # slow guessing: the source is never limited
    # The invite is locked: no more guesses are checked, not even the right secret.
    body = pair_request(stranger, token, created=clock(), secret=os.urandom(16))
    await expect_refusal(http, alice, PAIR_PATH, body, status=429, code="rate_limited",
                         nodes=[alice, bob])
    with pytest.raises(PeerRefused) as refused:
        await join_with(bob, token.encode())
    assert (refused.value.status, refused.value.code) == (429, "rate_limited")
    assert "locked" in str(refused.value)
    assert list_peers(alice.node) == [] and list_peers(bob.node) == []
    listed = json.loads(tagshare(alice.home, "invite", "list", "--json").stdout)
    [shown] = listed["invites"]
    assert (shown["invite_id"], shown["state"], shown["failed_attempts"]) == (
        token.invite_id, "locked", MAX_INVITE_FAILURES)
    assert f"{token.invite_id}" in tagshare(alice.home, "invite", "list").stdout

    # A new invite works at once, from the same address.
    await join_with(bob, create_invite(alice.node, timedelta(hours=1), clock()).encode())
    assert_knows(alice, bob)


async def test_the_loser_of_a_race_for_one_invite_poisons_nothing(
        start_node: StartNode, alice: RunningNode, bob: RunningNode) -> None:
    carol = await start_node("Carol Org")
    token = create_invite(alice.node, timedelta(hours=1), alice.clock()).encode()
    results = await asyncio.gather(join_with(bob, token), join_with(carol, token),
                                   return_exceptions=True)
    [lost] = [result for result in results if isinstance(result, BaseException)]
    assert isinstance(lost, PeerRefused) and (lost.status, lost.code) == (403, "bad_invite")
    assert len(list_peers(alice.node)) == 1
    assert alice.rows("pairing_failures") == []
    [shown] = list_invites(alice.node, alice.clock())["invites"]
    assert (shown["state"], shown["failed_attempts"]) == ("used", 0)


@pytest.mark.parametrize("offset", [-600, 600], ids=lambda s: f"{s:+d}s")
async def test_stale_pair_request_is_refused(
        http: aiohttp.ClientSession, alice: RunningNode, bob: RunningNode,
        clock: FakeClock, offset: int) -> None:
    token = create_invite(alice.node, timedelta(hours=1), clock())
    body = pair_request(bob, token, created=clock() + offset)
    await expect_refusal(http, alice, PAIR_PATH, body, status=401, code="stale_message",
                         nodes=[alice, bob])


async def test_pair_request_with_a_forged_signature_is_refused(
        http: aiohttp.ClientSession, alice: RunningNode, bob: RunningNode,
        clock: FakeClock) -> None:
    token = create_invite(alice.node, timedelta(hours=1), clock())
    data = json.loads(pair_request(bob, token, created=clock()))
    signature = data["envelope"]["signature"]
    middle = len(signature) // 2
    data["envelope"]["signature"] = (signature[:middle] + ("B" if signature[middle] == "A"
                                                           else "A") + signature[middle + 1:])
    await expect_refusal(http, alice, PAIR_PATH, json.dumps(data).encode(), status=401,
                         code="bad_signature", nodes=[alice, bob])


@pytest.mark.parametrize("body", [b"garbage", b"{", b"[" * 100_000, b"{}"],
                         ids=["garbage", "truncated", "nested", "wrong-shape"])
async def test_malformed_pair_request_is_refused(
        http: aiohttp.ClientSession, alice: RunningNode, body: bytes) -> None:
    await expect_refusal(http, alice, PAIR_PATH, body, status=400, code="malformed",
                         nodes=[alice])


async def test_pair_request_for_another_node_is_refused(
        http: aiohttp.ClientSession, alice: RunningNode, bob: RunningNode,
        clock: FakeClock) -> None:
    token = create_invite(bob.node, timedelta(hours=1), clock())
    body = pair_request(generate_keys(), token, created=clock())
    await expect_refusal(http, alice, PAIR_PATH, body, status=421, code="wrong_recipient",
                         nodes=[alice, bob])


async def test_two_joiners_racing_for_one_invite(start_node: StartNode, alice: RunningNode,
                                                 bob: RunningNode) -> None:
    carol = await start_node("Carol Org")
    token = create_invite(alice.node, timedelta(hours=1), alice.clock()).encode()
    outcomes = await asyncio.gather(join_with(bob, token), join_with(carol, token),
                                    return_exceptions=True)
    winners = [o for o in outcomes if isinstance(o, dict)]
    losers = [o for o in outcomes if isinstance(o, PeerRefused)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert (losers[0].status, losers[0].code) == (403, "bad_invite")
    [peer] = list_peers(alice.node)
    winner = bob if outcomes[0] is winners[0] else carol
    loser = carol if winner is bob else bob
    assert peer["node_id"] == winner.node_id
    assert list_peers(loser.node) == []


def tagshare_fails(home: Path, *args: str) -> str:
    """`tagshare ARGS --home HOME` must fail with one `Error: ` line and exit 1."""
    result = CliRunner().invoke(cli, [*args, "--home", str(home)])
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: "), result.stderr
    return last


async def test_peer_add_reports_bad_tokens_and_refusals_in_one_line(
        alice: RunningNode, bob: RunningNode) -> None:
    before = [alice.snapshot(), bob.snapshot()]
    # `peer add` runs its own event loop, so every call runs off this one.
    garbage = await asyncio.to_thread(tagshare_fails, bob.home, "peer", "add", "garbage")
    assert "invalid invite token" in garbage
    own = create_invite(bob.node, timedelta(hours=1), bob.clock()).encode()
    before[1] = bob.snapshot()
    assert "this very node" in await asyncio.to_thread(tagshare_fails, bob.home, "peer",
                                                       "add", own)
    assert_unchanged(before[1], bob.snapshot())
    assert_unchanged(before[0], alice.snapshot())

    token = create_invite(alice.node, timedelta(hours=1), alice.clock()).encode()
    await asyncio.to_thread(tagshare, bob.home, "peer", "add", token)
    line = await asyncio.to_thread(tagshare_fails, bob.home, "peer", "add", token)
    assert "bad_invite" in line and "403" in line
