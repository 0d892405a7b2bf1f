"""Re-sharing down a hierarchy on real nodes: party -> county -> campaign (issue 15).

The county may grant what it received onward only where the party said so
(`--reshare`), with at most the fields it received; every forwarded item
carries its chain, and what the party does cascades down the chain.
"""

from __future__ import annotations

from pathlib import Path

from reshare_helpers import chain_of_three
from shares_helpers import TAG, run_cli, settled, wait_until

from tagshare.node import people


async def test_a_county_cannot_pass_on_what_the_party_did_not_allow(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        sub = await chain.active(party, county, fields="name,email")
        ann = party.add_person(first_name="Ann", email="ann@example.org")
        await wait_until(lambda: county.copy_of(party, ann), message="Ann reaches the county")
        received_tag = chain.local_tag(county, sub)

        result = await run_cli(county, "share", "grant", "--tag", received_tag, "--to",
                               campaign.node_id, "--fields", "name")
        assert result.exit_code != 0
        message = result.output.strip()
        assert len(message.splitlines()) == 1 and "Traceback" not in result.output
        assert "--reshare none" in message and party.name in message and sub in message
        assert county.count("shares", "direction = 'outgoing'") == 0
        assert campaign.count("shares") == 0


async def test_the_party_s_people_flow_down_and_every_change_follows(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        sub = await chain.active(party, county, fields="name,email,phone", reshare="narrower")
        ann = party.add_person(first_name="Ann", email="ann@example.org", phone="+16145550101")
        await wait_until(lambda: county.copy_of(party, ann), message="Ann reaches the county")
        received_tag = chain.local_tag(county, sub)

        # At most the fields it received; at most the permission it was given.
        wider = await run_cli(county, "share", "grant", "--tag", received_tag, "--to",
                              campaign.node_id, "--fields", "name,address")
        assert wider.exit_code != 0 and "at most" in wider.output
        onward = await run_cli(county, "share", "grant", "--tag", received_tag, "--to",
                               campaign.node_id, "--fields", "name,email", "--reshare", "same")
        assert onward.exit_code != 0 and "--reshare none" in onward.output

        down = await chain.active(county, campaign, tag=received_tag, fields="name,email")
        copy = await wait_until(lambda: campaign.copy_of(party, ann),
                                message="Ann reaches the campaign through the county")
        assert (copy["first_name"], copy["email"], copy["phone"]) == (
            "Ann", "ann@example.org", None)
        assert campaign.count("people", "origin = ?", (county.node_id,)) == 0
        row = campaign.query("SELECT * FROM received WHERE share = ?", (down,))[0]
        assert row["origin"] == party.node_id and row["person"] == copy["uuid"]
        last = county.batches()[-1].items[-1]
        assert last.chain is not None and (last.chain.origin, last.chain.uuid,
                                           last.chain.via) == (party.node_id, ann,
                                                               (county.node_id,))
        # The campaign may not pass it on again: narrower allowed one more hop.
        again = await run_cli(campaign, "share", "grant", "--tag", chain.local_tag(campaign, down),
                              "--to", party.node_id[:12], "--fields", "name")
        assert again.exit_code == 0, again.output  # back up the chain: references, allowed

        # An edit at the party reaches the campaign.
        party.edit(ann, email="ann.lee@example.org")
        await wait_until(lambda: campaign.copy_of(party, ann)["email"] == "ann.lee@example.org",
                         message="the edit cascades")

        # Untag (withdraw): gone from both, no tombstone.
        bob = party.add_person(first_name="Bob", email="bob@example.org")
        await wait_until(lambda: campaign.copy_of(party, bob), message="Bob reaches campaign")
        tombstones = campaign.count("tombstones")
        people.remove_tags(party.op, bob, [TAG])
        await wait_until(lambda: campaign.copy_of(party, bob) is None,
                         message="the withdraw cascades")
        assert county.copy_of(party, bob) is None
        assert campaign.count("tombstones") == tombstones

        # Erase: gone everywhere, with a tombstone at every hop.
        people.erase_person(party.op, ann)
        await wait_until(lambda: campaign.copy_of(party, ann) is None,
                         message="the erase cascades")
        assert county.copy_of(party, ann) is None
        assert campaign.count("tombstones") == tombstones + 1
        assert county.count("tombstones") == 1
        await settled(county, down)


async def test_permission_follows_each_person(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        volunteers = await chain.active(party, county, fields="name,email", reshare="narrower")
        donors = await chain.active(party, county, tag="donors", fields="name,email,phone")
        ann = party.add_person(first_name="Ann", email="ann@example.org")
        dora = party.add_person(tags=("donors",), first_name="Dora", email="dora@example.org",
                                phone="+16145550104")
        ann_copy = await wait_until(lambda: county.copy_of(party, ann), message="Ann arrives")
        dora_copy = await wait_until(lambda: county.copy_of(party, dora), message="Dora arrives")
        carl = county.add_person(tags=("slice",), first_name="Carl", email="carl@example.org",
                                 phone="+16145550103")
        people.add_tags(county.op, ann_copy["uuid"], ["slice"])
        people.add_tags(county.op, dora_copy["uuid"], ["slice"])

        down = await chain.active(county, campaign, tag="slice", fields="name,email,phone")
        await wait_until(lambda: campaign.copy_of(county, carl) and campaign.copy_of(party, ann),
                         message="the slice arrives")
        await settled(county, down)
        assert campaign.copy_of(county, carl)["phone"] == "+16145550103"
        assert campaign.copy_of(party, ann)["email"] == "ann@example.org"
        assert campaign.copy_of(party, dora) is None  # its origin said --reshare none
        assert campaign.count("people") == 2
        assert {volunteers, donors} <= {row["id"] for row in county.query("SELECT id FROM shares")}


async def test_two_paths_make_one_person_linked_to_one_origin(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        sub = await chain.active(party, county, fields="name,email", reshare="narrower")
        direct = await chain.active(party, campaign, fields="name,email")
        ann = party.add_person(first_name="Ann", email="ann@example.org")
        await wait_until(lambda: county.copy_of(party, ann), message="Ann reaches the county")
        down = await chain.active(county, campaign, tag=chain.local_tag(county, sub),
                                  fields="name,email")
        await settled(party, direct)
        await settled(county, down)
        assert campaign.count("people") == 1
        copy = campaign.copy_of(party, ann)
        assert campaign.count("received", "person = ? AND state = 'member'",
                              (copy["uuid"],)) == 2

        # Leaving the re-share keeps what the party sends directly.
        result = await run_cli(campaign, "share", "leave", down, "--yes")
        assert result.exit_code == 0, result.output
        assert campaign.copy_of(party, ann)["email"] == "ann@example.org"
        party.edit(ann, first_name="Annie")
        await wait_until(lambda: campaign.copy_of(party, ann)["first_name"] == "Annie",
                         message="the direct share still flows")
