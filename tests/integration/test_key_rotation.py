"""Key rotation on real nodes: peers take the new keys from a message signed with the
old ones, sync goes on, and anything signed with the old key afterwards is refused."""

from __future__ import annotations

import os
import time

import pytest
from shares_helpers import Trio, pair, post_inbox, settled, wait_until

from tagshare.node import keys as key_ops
from tagshare.node.errors import NodeError
from tagshare.node.keystore import load_key_state
from tagshare.protocol import NodeKeys, Ping, current_key, seal


def _signing_key_on(org, peer) -> str | None:  # type: ignore[no-untyped-def]
    rows = org.query("SELECT signing_key FROM peers WHERE node_id = ?", (peer.node_id,))
    return rows[0][0] if rows else None


async def test_peers_take_the_new_keys_and_sync_goes_on(trio: Trio) -> None:
    party, a, b = trio.party, trio.a, trio.b
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    share_id = await trio.active(a, fields="name,email")
    old = load_key_state(party.home).keys

    result = key_ops.rotate_keys(party.op)
    new_key = str(result["signing_key"])
    assert result["node_id"] == party.node_id and new_key != old.signing_key_id
    await wait_until(lambda: _signing_key_on(a, party) == new_key, message="A takes the key")
    await wait_until(lambda: _signing_key_on(b, party) == new_key, message="B takes the key")
    await wait_until(lambda: load_key_state(party.home).previous is None,
                     message="the old keys are deleted once every peer knows")

    party.edit(ann, first_name="Annie")
    await wait_until(lambda: (a.copy_of(party, ann) or {"first_name": None})["first_name"]
                     == "Annie", message="sync goes on under the new keys")
    await settled(party, share_id)
    document = party.op.key_state.chain
    assert current_key(party.node_id, document) == new_key

    stale = seal(sender=NodeKeys(signing_seed=old.signing_seed, box_secret=old.box_secret),
                 recipient_id=a.node_id, recipient_box_key=a.op.keys.box_public,
                 message=Ping(), message_id=os.urandom(16), nonce=os.urandom(24),
                 created=int(time.time()))
    before = a.snapshot()
    status, body = await post_inbox(a, stale)
    assert (status, body["error"]) == (401, "bad_signature")
    assert a.snapshot() == before


async def test_a_peer_down_during_the_rotation_learns_it_later(trio: Trio) -> None:
    party, a = trio.party, trio.a
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    await trio.active(a, fields="name")
    await a.stop()
    new_key = str(key_ops.rotate_keys(party.op)["signing_key"])
    party.edit(ann, first_name="Annie")
    await a.start()
    await wait_until(lambda: _signing_key_on(a, party) == new_key,
                     each=lambda: party.retry_now(a), message="the rotation arrives late")
    await wait_until(lambda: (a.copy_of(party, ann) or {"first_name": None})["first_name"]
                     == "Annie", each=lambda: party.retry_now(a))


async def test_rotating_again_waits_for_the_last_rotation_to_arrive(trio: Trio) -> None:
    party, a = trio.party, trio.a
    await trio.active(a, fields="name")
    key_ops.rotate_keys(party.op)
    with pytest.raises(NodeError, match="has not reached every peer"):
        key_ops.rotate_keys(party.op)
    await wait_until(lambda: load_key_state(party.home).previous is None,
                     message="the first rotation reaches every peer")
    second = str(key_ops.rotate_keys(party.op)["signing_key"])
    await wait_until(lambda: _signing_key_on(a, party) == second,
                     message="a peer follows two rotations")
    party.add_person(first_name="Zed", email="zed@example.org")
    await wait_until(lambda: any(p["first_name"] == "Zed"
                                 for p in a.received_people(party).values()))


async def test_pairing_with_a_rotated_node(trio: Trio) -> None:
    party, b = trio.party, trio.b
    new_key = str(key_ops.rotate_keys(party.op)["signing_key"])
    await wait_until(lambda: load_key_state(party.home).previous is None)
    peer = await pair(party, b, alias="party-again")
    assert peer["node_id"] == party.node_id
    assert _signing_key_on(b, party) == new_key
