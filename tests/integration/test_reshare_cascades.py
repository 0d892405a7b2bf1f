"""What the origin does to its terms cascades down the chain: narrowing and revoking."""

from __future__ import annotations

from pathlib import Path

from reshare_helpers import chain_of_three
from shares_helpers import settled, wait_until

from tagshare.node import people, shares


async def test_a_field_the_party_drops_disappears_downstream(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        sub = await chain.active(party, county, fields="name,email", reshare="narrower")
        ann = party.add_person(first_name="Ann", email="ann@example.org")
        await wait_until(lambda: county.copy_of(party, ann), message="Ann reaches the county")
        down = await chain.active(county, campaign, tag=chain.local_tag(county, sub),
                                  fields="name,email")
        await wait_until(lambda: campaign.copy_of(party, ann), message="Ann reaches campaign")

        shares.edit_share(party.op, sub, fields="name", on_revoke=None)
        await wait_until(lambda: county.share(sub)["proposed"] is not None,
                         message="the new terms reach the county")
        shares.accept_share(county.op, sub, None)
        await wait_until(lambda: campaign.copy_of(party, ann)["email"] is None,
                         message="the dropped field disappears at the campaign")
        assert campaign.copy_of(party, ann)["first_name"] == "Ann"
        party.edit(ann, email="new@example.org", first_name="Annie")
        await wait_until(lambda: campaign.copy_of(party, ann)["first_name"] == "Annie",
                         message="later edits still flow")
        await settled(county, down)
        assert campaign.copy_of(party, ann)["email"] is None


async def test_a_revoke_ends_the_re_shares_and_purges_by_the_party_s_terms(
        tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        sub = await chain.active(party, county, fields="name,email", reshare="narrower",
                                 on_revoke="purge")
        ann = party.add_person(first_name="Ann", email="ann@example.org")
        await wait_until(lambda: county.copy_of(party, ann), message="Ann reaches the county")
        down = await chain.active(county, campaign, tag=chain.local_tag(county, sub),
                                  fields="name,email", on_revoke="keep")
        assert county.share(down)["on_revoke"] == "purge"  # the party's terms, not the county's
        await wait_until(lambda: campaign.copy_of(party, ann), message="Ann reaches campaign")

        shares.revoke_share(party.op, sub)
        await wait_until(lambda: campaign.status(down) == "revoked",
                         message="the re-share ends with the share it came from")
        assert county.status(down) == "revoked"
        assert campaign.copy_of(party, ann) is None
        assert county.copy_of(party, ann) is None


async def test_kept_by_the_party_s_terms_stays_frozen_downstream(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        sub = await chain.active(party, county, fields="name,email", reshare="narrower",
                                 on_revoke="keep")
        ann = party.add_person(first_name="Ann", email="ann@example.org")
        await wait_until(lambda: county.copy_of(party, ann), message="Ann reaches the county")
        down = await chain.active(county, campaign, tag=chain.local_tag(county, sub),
                                  fields="name,email", on_revoke="purge")
        assert county.share(down)["on_revoke"] == "keep"
        await wait_until(lambda: campaign.copy_of(party, ann), message="Ann reaches campaign")

        shares.revoke_share(party.op, sub)
        await wait_until(lambda: campaign.status(down) == "revoked",
                         message="the re-share ends with the share it came from")
        assert campaign.copy_of(party, ann)["email"] == "ann@example.org"
        assert county.copy_of(party, ann)["email"] == "ann@example.org"


async def test_the_campaign_s_door_knock_reaches_the_party_s_own_person(tmp_path: Path) -> None:
    async with chain_of_three(tmp_path) as chain:
        party, county, campaign = chain.party, chain.county, chain.campaign
        sub = await chain.active(party, county, fields="name,email,contacts",
                                 reshare="narrower")
        ann = party.add_person(first_name="Ann", email="ann@example.org")
        await wait_until(lambda: county.copy_of(party, ann), message="Ann reaches the county")
        received = chain.local_tag(county, sub)
        down = await chain.active(county, campaign, tag=received, fields="name,email,contacts")
        copy = await wait_until(lambda: campaign.copy_of(party, ann), message="Ann arrives")
        # Each node grants what it received back to where it came from, contacts only.
        await chain.active(campaign, county, tag=chain.local_tag(campaign, down),
                           fields="contacts")
        await chain.active(county, party, tag=received, fields="contacts")

        knock = people.add_contact(campaign.op, copy["uuid"], method="door",
                                   outcome="supporter", note="wants a yard sign",
                                   at="2026-10-03T14:30:00.000Z", by="canvasser 4")
        got = await wait_until(lambda: party.query("SELECT * FROM contacts WHERE uuid = ?",
                                                   (knock,)), message="the knock goes up")
        assert (got[0]["person"], got[0]["origin"], got[0]["via"], got[0]["note"]) == (
            ann, campaign.node_id, county.node_id, "wants a yard sign")
        # The campaign changes its mind: the change climbs too; then it deletes it.
        campaign.execute("UPDATE contacts SET outcome = 'undecided' WHERE uuid = ?", (knock,))
        await wait_until(lambda: party.value("SELECT outcome FROM contacts WHERE uuid = ?",
                                             (knock,)) == "undecided", message="the edit")
        campaign.execute("DELETE FROM contacts WHERE uuid = ?", (knock,))
        await wait_until(lambda: party.count("contacts", "uuid = ?", (knock,)) == 0,
                         message="the deletion climbs")
