"""A peer cannot rename itself into another peer's identity or tag (issue 11, item 4).

Three real nodes. Campaign A shares its volunteers with the party, filed under
`campaign-a:volunteers`. Campaign B turns hostile: it rotates its keys with a
node document that says "Campaign A", offers its own `volunteers`, and then,
sealed with its real keys, attaches an item to the party's copy of one of A's
people and withdraws it. The party still calls B "Campaign B" (showing what it
announces), B's people land in a tag of their own, and A's tag is untouched.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from shares_helpers import (
    CAMPAIGN_A,
    CAMPAIGN_B,
    PLACEHOLDER_URL,
    TAG,
    Org,
    Trio,
    cli_json,
    make_batch,
    pair,
    run_cli,
    send_as,
    settled,
    wait_until,
)

from tagshare.node import keys as key_ops
from tagshare.node import shares
from tagshare.node.ids import uuid7
from tagshare.node.node import init_node
from tagshare.protocol import Item, fingerprint


def tagged(org: Org, tag: str) -> set[str]:
    return {row[0] for row in org.query(
        "SELECT g.person FROM taggings g JOIN tags t ON t.id = g.tag WHERE t.name = ?", (tag,))}


async def offered_by(granter: Org, subscriber: Org, tag: str = TAG) -> str:
    share_id = granter.grant(subscriber, tag=tag, fields="all")
    await wait_until(lambda: subscriber.status(share_id) == "offered", message="offer arrives")
    return share_id


async def subscribe(granter: Org, subscriber: Org, as_tag: str | None = None) -> str:
    share_id = await offered_by(granter, subscriber)
    shares.accept_share(subscriber.op, share_id, as_tag)
    await settled(granter, share_id)
    return share_id


async def untag_attack(hostile: Org, victim: Org, share_id: str,
                       target: tuple[str, str]) -> None:
    """The hostile granter attaches an item to `target` (node, uuid) and withdraws it."""
    seq = int(hostile.share(share_id)["seq"]) + 1
    uuid = uuid7()
    attach = Item(op="upsert", uuid=uuid, version=10**9, fields={}, contacts=(), donations=(),
                  ref=target)
    for offset, item in enumerate((attach, Item(op="withdraw", uuid=uuid, version=10**9 + 1))):
        status, detail = await send_as(hostile, victim,
                                       make_batch(hostile, share_id, seq + offset, (item,)))
        assert status == 200 and detail["applied"] == 1, detail


async def test_honest_campaign_a_peer_renaming_itself_takes_no_one_over(trio: Trio) -> None:
    party, a, b = trio.orgs
    a_people = [a.add_person(first_name=n, email=f"{n}@example.org") for n in ("ana", "al")]
    await subscribe(a, party)
    a_tag = f"{a.slug}:{TAG}"
    await wait_until(lambda: len(tagged(party, a_tag)) == 2, message="A's people arrive")
    a_copies = tagged(party, a_tag)

    b.op.config = dataclasses.replace(b.op.config, name=CAMPAIGN_A)  # B announces "Campaign A"
    new_key = str(key_ops.rotate_keys(b.op)["signing_key"])
    await wait_until(lambda: party.value("SELECT signing_key FROM peers WHERE node_id = ?",
                                         (b.node_id,)) == new_key, message="B's rotation lands")
    shown = cli_json(await run_cli(party, "peer", "show", b.node_id, "--json"))
    assert (shown["name"], shown["alias"], shown["announces"]) == (CAMPAIGN_B, None, CAMPAIGN_A)
    assert shown["slug"] == "campaign-b"
    listed = await run_cli(party, "peer", "list")
    assert "announces" in listed.stdout.lower() and CAMPAIGN_A in listed.stdout

    b_person = b.add_person(first_name="Bo", email="bo@example.org")
    b_share = await subscribe(b, party)
    assert party.share(b_share)["local_tag"] == f"campaign-b:{TAG}"
    await wait_until(lambda: party.copy_of(b, b_person), message="B's person arrives")
    await untag_attack(b, party, b_share, (a.node_id, a_people[0]))
    assert tagged(party, a_tag) == a_copies
    assert {party.copy_of(a, uuid)["uuid"] for uuid in a_people} == a_copies  # type: ignore[index]


async def test_a_default_tag_that_exists_gets_a_fresh_name(trio: Trio) -> None:
    party, _, b = trio.orgs
    b_tag = f"{b.slug}:{TAG}"
    ours = party.add_person(tags=(b_tag,), first_name="Rosa", email="rosa@example.org")
    b.add_person(first_name="Bo", email="bo@example.org")
    b_share = await subscribe(b, party)
    assert party.share(b_share)["local_tag"] == f"{b_tag}-2"
    await untag_attack(b, party, b_share, (party.node_id, ours))
    assert tagged(party, b_tag) == {ours}
    assert party.tags_of(ours) == {b_tag}


async def test_as_tag_naming_a_tag_in_use_is_refused(trio: Trio) -> None:
    party, a, b = trio.orgs
    party.add_person(tags=("walk",), first_name="Rosa", email="rosa@example.org")
    await subscribe(a, party)
    share_id = await offered_by(b, party)
    before = party.snapshot()
    for name, reason in ((f"{a.slug}:{TAG}", "another share from a peer writes it"),
                         ("walk", "people carry it already")):
        result = await run_cli(party, "share", "accept", share_id, "--as-tag", name)
        assert result.exit_code == 1, result.output
        assert result.stderr.strip() == (f"Error: --as-tag {name!r} cannot be used: {reason}; "
                                         "choose a new tag name")
    assert party.snapshot() == before
    ok = await run_cli(party, "share", "accept", share_id, "--as-tag", "b-friends")
    assert ok.exit_code == 0, ok.output


async def test_only_peer_rename_changes_what_a_peer_is_called(trio: Trio) -> None:
    party, a, b = trio.orgs
    result = await run_cli(party, "peer", "rename", "--", b.node_id[:8], "Bee Team")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (f"peer {CAMPAIGN_B!r} ({b.node_id[:12]}…) is now called "
                                     "'Bee Team'")
    refused = await run_cli(party, "peer", "rename", "Bee Team", CAMPAIGN_A)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (f"Error: another peer is already called {CAMPAIGN_A!r}: "
                                      "choose another ALIAS")
    # B pairs again announcing a new name: shown, never applied.
    b.op.config = dataclasses.replace(b.op.config, name="Totally Campaign A")
    await pair(party, b)
    shown = cli_json(await run_cli(party, "peer", "show", "Bee Team", "--json"))
    assert (shown["name"], shown["alias"], shown["announces"]) == (
        CAMPAIGN_B, "Bee Team", "Totally Campaign A")
    share_id = await offered_by(b, party)
    shares.accept_share(party.op, share_id, None)
    assert party.share(share_id)["local_tag"] == f"bee-team:{TAG}"
    audit = [row["action"] for row in party.query("SELECT action FROM audit")]
    assert "peer.rename" in audit


async def test_a_new_peer_announcing_a_known_name_is_told_apart(trio: Trio,
                                                                tmp_path: Path) -> None:
    party, a = trio.party, trio.a
    impostor = Org("impostor", tmp_path / "impostor")
    init_node(impostor.home, name=CAMPAIGN_A, url=PLACEHOLDER_URL).close()
    await impostor.start()
    try:
        await pair(party, impostor)
        shown = cli_json(await run_cli(party, "peer", "show", impostor.node_id, "--json"))
        assert shown["name"] == f"{CAMPAIGN_A} ({fingerprint(impostor.node_id)[:9]})"
        assert shown["announces"] == CAMPAIGN_A
        resolved = cli_json(await run_cli(party, "peer", "show", CAMPAIGN_A, "--json"))
        assert resolved["node_id"] == a.node_id
    finally:
        await impostor.close()
