"""A node nobody can reach (`init` without `--url`): it says so in its signed document, its
peers never push to it, it pulls everything, including its granter's key rotation."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from shares_helpers import Org, cli_json, run_cli, settled, three_orgs, wait_until

from tagshare.node import inbox as inbox_module
from tagshare.node import keys as key_ops
from tagshare.node import shares
from tagshare.node.client import PeerUnreachable
from tagshare.node.courier import INBOX_PATH
from tagshare.node.keystore import load_key_state
from tagshare.protocol import Envelope, KeyRotate, Message, ShareOffer

WAIT = 30  # seconds: pulls run every second, and the machine may be loaded


async def until(predicate: Callable[[], object], message: str) -> None:
    await wait_until(predicate, WAIT, message)


def _signing_key_on(org: Org, peer: Org) -> str | None:
    rows = org.query("SELECT signing_key FROM peers WHERE node_id = ?", (peer.node_id,))
    return rows[0][0] if rows else None


def _first_name(org: Org, origin: Org, uuid: str) -> str | None:
    row = org.copy_of(origin, uuid)
    return None if row is None else row["first_name"]


async def _b_holds_ann(party: Org, b: Org, fields: str = "name,email") -> tuple[str, str]:
    """The party grants pull-only B a share holding Ann; once B pulled her: Ann's uuid and
    the share's id."""
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    share_id = party.grant(b, fields=fields)
    await until(lambda: b.status(share_id) == "offered", message="B pulls the offer")
    shares.accept_share(b.op, share_id, None)
    await until(lambda: _first_name(b, party, ann) == "Ann", message="B pulls Ann")
    return ann, share_id


async def _b_follows(party: Org, b: Org, ann: str, new_key: str) -> None:
    """B learns the party's rotated key from a pull, the party then forgets its old keys,
    and an edit of Ann still reaches B."""
    await until(lambda: _signing_key_on(b, party) == new_key,
                message="B learns the new key from a pull")
    await until(lambda: load_key_state(party.home).previous is None,
                message="the party deletes its old keys once B acknowledged")
    party.edit(ann, first_name="Annie")
    await until(lambda: _first_name(b, party, ann) == "Annie",
                message="B keeps receiving under the new keys")


async def test_a_pull_only_subscriber_follows_its_granters_key_rotation(tmp_path: Path) -> None:
    async with three_orgs(tmp_path, pull_b=True, b_listens=False) as trio:
        party, b = trio.party, trio.b
        ann, share_id = await _b_holds_ann(party, b)

        await _b_follows(party, b, ann, str(key_ops.rotate_keys(party.op)["signing_key"]))
        pushed = [m for m in party.sent if isinstance(m, KeyRotate)]
        assert len(pushed) == 1  # to A, which is reachable; B pulled its own
        await settled(party, share_id)
        # ... and the party can rotate again, and B follows again.
        second = str(key_ops.rotate_keys(party.op)["signing_key"])
        await until(lambda: _signing_key_on(b, party) == second,
                         message="B follows the second rotation")
        party.edit(ann, first_name="Anna")
        await until(lambda: _first_name(b, party, ann) == "Anna",
                         message="B keeps receiving after two rotations")


async def test_a_pull_only_node_says_so_and_is_never_pushed_to(tmp_path: Path) -> None:
    """B listens (so a push would succeed) but declared itself pull-only: nothing is pushed."""
    async with three_orgs(tmp_path, pull_b=True) as trio:
        party, b = trio.party, trio.b
        served = json.loads(b.query("SELECT document FROM peers WHERE node_id = ?",
                                    (party.node_id,))[0][0])
        assert "pull_only" not in served  # the party is reachable
        stored = json.loads(party.query("SELECT document FROM peers WHERE node_id = ?",
                                        (b.node_id,))[0][0])
        assert stored["pull_only"] is True  # from B's signed document, at pairing

        share_id = party.grant(b, fields="name")
        await until(lambda: b.status(share_id) == "offered", message="B pulls the offer")
        shares.accept_share(b.op, share_id, None)
        party.add_person(first_name="Ann", email="ann@example.org")
        await until(lambda: len(b.received_people(party)) == 1, message="B pulls Ann")
        await settled(party, share_id)
        assert party.sent == [], [type(m).__name__ for m in party.sent]
        assert party.share(share_id)["pull"] == 1
        assert not any(isinstance(m, ShareOffer) for m in party.sent)


async def test_cli_sync_on_a_reachable_node_does_not_pull(tmp_path: Path) -> None:
    """The party grants to B (pull-only, no port) and runs `tagshare sync` from cron: it owes B
    nothing it could push, and pulls from nobody (B grants it nothing and cannot be reached)."""
    async with three_orgs(tmp_path, pull_b=True, b_listens=False) as trio:
        party, a = trio.party, trio.a
        await party.stop()
        report = cli_json(await run_cli(party, "sync", "--json"))
        assert report["errors"] == {}, report
        assert report["pulled"] == {}
        assert a.node_id not in report["pulled"]


async def test_a_lost_outbox_ack_of_the_rotation_does_not_strand_the_subscriber(
        tmp_path: Path) -> None:
    """B applies the pulled key.rotate, but its outbox.ack never reaches the party. B's next
    pull, sealed to the party's new key, is the acknowledgement: it is answered with the new
    keys (not the old ones B no longer accepts), and the party's old keys go."""
    async with three_orgs(tmp_path, pull_b=True, b_listens=False) as trio:
        party, b = trio.party, trio.b
        ann, share_id = await _b_holds_ann(party, b, fields="name")
        await settled(party, share_id)

        transport = b.worker.courier.client.transport
        post = transport.post
        lost: list[str] = []

        async def lossy(url: str, body: bytes,
                        tls_sha256: str | None = None) -> tuple[int, bytes]:
            if url.endswith(INBOX_PATH) and not lost:
                lost.append(url)
                raise PeerUnreachable(f"injected: {url} never got this")
            return await post(url, body, tls_sha256)

        transport.post = lossy  # type: ignore[method-assign]
        new_key = str(key_ops.rotate_keys(party.op)["signing_key"])
        await until(lambda: _signing_key_on(b, party) == new_key and lost,
                         message="B applies the rotation; its outbox.ack is lost")
        await _b_follows(party, b, ann, new_key)  # B's next pull acknowledges the rotation


async def test_a_pull_only_granter_gets_its_subscribers_answers_by_pull(
        tmp_path: Path) -> None:
    """B (no port) grants to the party: the party's share.accept cannot be pushed to B, so B's
    pull hands it out, and B's batches (pushed: the party is reachable) follow."""
    async with three_orgs(tmp_path, pull_b=True, b_listens=False) as trio:
        party, b = trio.party, trio.b
        bea = b.add_person(first_name="Bea", email="bea@example.org")
        share_id = b.grant(party, fields="name")
        await until(lambda: party.status(share_id) == "offered", "the offer is pushed")
        shares.accept_share(party.op, share_id, None)
        await until(lambda: b.status(share_id) == "active", "B pulls the party's accept")
        await until(lambda: _first_name(party, b, bea) == "Bea", "B pushes Bea")
        assert b.share(share_id)["pull"] == 0  # the party is reachable: pushed


async def test_a_rotation_landing_while_a_pull_is_opened_does_not_lock_the_puller_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`key rotate` (another process) writes the new keys just after the party opened B's
    pull with the keys that were current then. The pull must count as sealed to the
    replaced keys: answered with them (B can verify it and reads the key.rotate in it),
    and the key.rotate kept until B acknowledges. Before, the answer was signed with the
    new keys and the key.rotate dropped as read, so the party forgot the keys B still
    sealed to, and refused B's every pull after (seen once in CI)."""
    async with three_orgs(tmp_path, pull_b=True, b_listens=False) as trio:
        party, b = trio.party, trio.b
        ann, share_id = await _b_holds_ann(party, b)

        rotated: list[str] = []
        opened = inbox_module.open_with_keys

        def open_then_rotate(envelope: Envelope, keys: Sequence[bytes]) -> tuple[Message, int]:
            message, index = opened(envelope, keys)
            if not rotated and envelope.recipient == party.node_id and \
                    message.TYPE == "outbox.pull":
                rotated.append(str(key_ops.rotate_keys(party.op)["signing_key"]))
            return message, index

        monkeypatch.setattr(inbox_module, "open_with_keys", open_then_rotate)
        await until(lambda: rotated, message="a pull of B is opened")
        await _b_follows(party, b, ann, rotated[0])
